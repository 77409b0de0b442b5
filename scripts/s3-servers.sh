#!/usr/bin/env bash
# s3-servers.sh: the real S3 servers the S3 storage tests run against,
# built from the Go module proxy (no fake S3, no docker).
#
#   scripts/s3-servers.sh install        go install both, unless the pinned
#                                        versions are already there
#   scripts/s3-servers.sh paths          print WHARF_VERSITYGW=... and
#                                        WHARF_MINIO=... (for eval)
#   scripts/s3-servers.sh run versitygw|minio DIR [ADDR]
#                                        serve DIR on ADDR (default
#                                        127.0.0.1:9000) in the foreground,
#                                        keys from S3_ACCESS_KEY/S3_SECRET_KEY
#
# The tests (go test ./pkg/storage/s3/) start their own servers on loopback
# and find the binaries through WHARF_VERSITYGW / WHARF_MINIO, PATH or
# $(go env GOPATH)/bin; without them they fail (make test installs them).
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

bindir() {
	local gobin
	gobin=$(go env GOBIN)
	if [[ -n $gobin ]]; then
		echo "$gobin"
	else
		echo "$(go env GOPATH | cut -d: -f1)/bin"
	fi
}

# installed BINARY MODULE VERSION: whether bindir holds BINARY built from
# MODULE at VERSION.
installed() {
	local bin
	bin="$(bindir)/$1"
	[[ -x $bin ]] && go version -m "$bin" 2>/dev/null | awk -v m="$2" -v v="$3" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'
}

install_one() { # binary module version package
	if installed "$1" "$2" "$3"; then
		echo "$1 $3 already installed in $(bindir)"
		return
	fi
	echo "installing $1 $3 (go install $4@$3)"
	# Both are main modules with their own dependency pins: build them
	# outside our module so its go.mod plays no part.
	(cd / && go install "$4@$3")
}

case "${1:-}" in
install)
	install_one versitygw "$VERSITYGW_MODULE" "$VERSITYGW_VERSION" "$VERSITYGW_MODULE/cmd/versitygw"
	install_one minio "$MINIO_MODULE" "$MINIO_VERSION" "$MINIO_MODULE"
	;;
paths)
	echo "WHARF_VERSITYGW=$(bindir)/versitygw"
	echo "WHARF_MINIO=$(bindir)/minio"
	;;
run)
	server=${2:?usage: $0 run versitygw|minio DIR [ADDR]}
	dir=${3:?usage: $0 run versitygw|minio DIR [ADDR]}
	addr=${4:-127.0.0.1:9000}
	access=${S3_ACCESS_KEY:-wharfaccesskey}
	secret=${S3_SECRET_KEY:-wharfsecretkey}
	mkdir -p "$dir"
	case $server in
	versitygw) exec "$(bindir)/versitygw" --port "$addr" --access "$access" --secret "$secret" posix "$dir" ;;
	minio) MINIO_ROOT_USER=$access MINIO_ROOT_PASSWORD=$secret MINIO_BROWSER=off MINIO_UPDATE=off \
		exec "$(bindir)/minio" server --quiet --address "$addr" "$dir" ;;
	*) echo "$0: unknown server $server (versitygw or minio)" >&2; exit 2 ;;
	esac
	;;
*)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
