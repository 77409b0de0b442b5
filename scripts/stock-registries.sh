#!/usr/bin/env bash
# stock-registries.sh: the stock CNCF registries that the compatibility tests
# run beside ours, built from the Go module proxy (no docker image, no fork).
#
#   scripts/stock-registries.sh install   build each pinned version, unless
#                                         it is already there
#   scripts/stock-registries.sh paths     print WHARF_STOCK_REGISTRY_V3=...
#                                         and WHARF_STOCK_REGISTRY_V2=... for eval
#
# Binaries go to $(go env GOPATH)/wharf-stock/<name>/registry, one folder per
# version, so they never shadow our own bin/registry on PATH. The tests find
# them there or through the variables, and fail, not skip, without them.
set -euo pipefail

V3_MODULE=github.com/distribution/distribution/v3
V3_VERSION=v3.1.1

# registry:2 predates modules: v2.8.3 has no go.mod, only vendor.conf with
# commit pins, and the module proxy serves few of those commits. It is built
# as a dependency of a throwaway main module (below) that pins every module.
V2_MODULE=github.com/docker/distribution
V2_VERSION=v2.8.3
V2_REVISION=4772604ae973031ab32dd9805a4bccf61d94909f

stockdir() { echo "$(go env GOPATH | cut -d: -f1)/wharf-stock"; }

# installed DIR MODULE VERSION: whether DIR/registry was built from MODULE at
# VERSION, as the main module (v3) or as a dependency (v2).
installed() {
	[[ -x $1/registry ]] && go version -m "$1/registry" 2>/dev/null |
		awk -v m="$2" -v v="$3" '($1 == "mod" || $1 == "dep") && $2 == m && $3 == v { found = 1 } END { exit !found }'
}

install_v3() {
	local dir
	dir="$(stockdir)/registry-$V3_VERSION"
	if installed "$dir" "$V3_MODULE" "$V3_VERSION"; then
		echo "registry $V3_VERSION already installed in $dir"
		return
	fi
	echo "installing registry $V3_VERSION (go install $V3_MODULE/cmd/registry@$V3_VERSION)"
	mkdir -p "$dir"
	# A main module with its own pins: build it outside ours.
	(cd / && GOBIN="$dir" CGO_ENABLED=0 go install "$V3_MODULE/cmd/registry@$V3_VERSION")
}

# v2_gomod prints the go.mod of the module that builds registry:2 v2.8.3.
# The proxy serves none of vendor.conf's commits (403 for every commit hash),
# so vendor.conf is followed where it can be: the tags it names (yaml.v2
# v2.2.1, distribution/reference v0.5.0, go-digest v1.0.0, image-spec
# v1.0.2) and the dead repositories whose only pseudo-version is the vendored
# commit (redigo, logrus-bugsnag, the three yvasiyarov modules,
# google.golang.org/cloud). Everything else is a version that builds:
#   rsc.io/letsencrypt: vendor.conf names a fork commit (dmcgowan/letsencrypt
#     e770c10); v0.0.2 is the last release with code (v0.0.3 is an empty
#     deprecation notice), with the same Manager API.
#   github.com/xenolf/lego v0.4.0, gopkg.in/square/go-jose.v1 v1.1.2: the
#     releases nearest to the vendored commits.
#   github.com/miekg/dns: v1.0.15, the last with dns.ErrTruncated (lego uses it).
#   github.com/bshuster-repo/logrus-logstash-hook: v0.4.1, the last whose
#     LogstashFormatter has TimestampFormat.
#   docker/libtrust (kid fingerprints) is its last commit, aabc10e (2016),
#     not the vendored fa56704; gorilla/mux, logrus, cobra and the storage
#     SDKs are current releases (aws-sdk-go v1.27.0: pinning yaml.v2 held it
#     back).
# The list is what go mod tidy chose on 2026-12-03, frozen so that the
# build never changes under us. Checked by hand that day: this build serves
# ../shared/interop/registry-v2.8.3/store.tgz with every answer recorded from
# the real v2.8.3 in its manifest.json.
v2_gomod() {
	cat <<EOF
module wharf.local/stock-registry-v2

go 1.26.0

require (
	$V2_MODULE $V2_VERSION+incompatible
	cloud.google.com/go/auth v0.24.1-0.20261001053825-dbc26066f70a
	cloud.google.com/go/auth/oauth2adapt v0.3.1
	cloud.google.com/go/compute/metadata v0.10.0
	github.com/Azure/azure-sdk-for-go v68.0.0+incompatible
	github.com/Azure/go-autorest v14.2.0+incompatible
	github.com/Azure/go-autorest/autorest v0.11.30
	github.com/Azure/go-autorest/autorest/adal v0.9.22
	github.com/Azure/go-autorest/autorest/date v0.3.0
	github.com/Azure/go-autorest/autorest/to v0.4.1
	github.com/Azure/go-autorest/logger v0.2.1
	github.com/Azure/go-autorest/tracing v0.6.0
	github.com/Shopify/logrus-bugsnag v0.0.0-20171204204709-577dee27f20d
	github.com/aws/aws-sdk-go v1.27.0
	github.com/beorn7/perks v1.0.1
	github.com/bitly/go-simplejson v0.5.1
	github.com/bshuster-repo/logrus-logstash-hook v0.4.1
	github.com/bugsnag/bugsnag-go v1.5.0
	github.com/bugsnag/panicwrap v1.2.0
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/denverdino/aliyungo v0.0.0-20190125010748-a747050bb1ba
	github.com/distribution/reference v0.5.0
	github.com/dnaeon/go-vcr v1.1.0
	github.com/docker/go-metrics v0.0.1
	github.com/docker/libtrust v0.0.0-20160708172513-aabc10ec26b7
	github.com/felixge/httpsnoop v1.1.0
	github.com/garyburd/redigo v0.0.0-20150301180006-535138d7bcd7
	github.com/go-logr/logr v1.4.4
	github.com/go-logr/stdr v1.2.2
	github.com/gofrs/uuid v4.4.0+incompatible
	github.com/golang-jwt/jwt/v4 v4.5.0
	github.com/google/s2a-go v0.1.11
	github.com/google/uuid v1.6.0
	github.com/googleapis/enterprise-certificate-proxy v0.3.25
	github.com/googleapis/gax-go/v2 v2.27.0
	github.com/gorilla/handlers v1.5.2
	github.com/gorilla/mux v1.8.1
	github.com/inconshreveable/mousetrap v1.1.0
	github.com/jmespath/go-jmespath v0.0.0-20180206201540-c2b33e8439af
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0
	github.com/kr/text v0.1.0
	github.com/miekg/dns v1.0.15
	github.com/mitchellh/mapstructure v1.5.0
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822
	github.com/ncw/swift v1.0.53
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.0.2
	github.com/pandatix/go-abnf v0.5.5
	github.com/prometheus/client_golang v1.23.2
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.74.0
	github.com/prometheus/procfs v0.21.0
	github.com/sirupsen/logrus v1.10.2
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	github.com/xenolf/lego v0.4.0
	github.com/yvasiyarov/go-metrics v0.0.0-20140926110328-57bccd1ccd43
	github.com/yvasiyarov/gorelic v0.0.0-20141212073537-a9bba5b9ab50
	github.com/yvasiyarov/newrelic_platform_go v0.0.0-20140908184405-b21fdbd4370f
	go.opentelemetry.io/auto/sdk v1.2.1
	go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.69.0
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/log v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
	golang.org/x/crypto v0.59.0
	golang.org/x/net v0.63.0
	golang.org/x/oauth2 v0.38.0
	golang.org/x/sys v0.50.0
	golang.org/x/text v0.44.0
	golang.org/x/time v0.16.0
	google.golang.org/api v0.316.0
	google.golang.org/cloud v0.0.0-20151119220103-975617b05ea8
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261104224025-d1e00e9f33ab
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
	gopkg.in/square/go-jose.v1 v1.1.2
	gopkg.in/yaml.v2 v2.2.1
	rsc.io/letsencrypt v0.0.2
)
EOF
}

# install_v2 runs in a subshell, so that its EXIT trap removes the module.
install_v2() (
	local dir tmp pkg=$V2_MODULE
	dir="$(stockdir)/registry-$V2_VERSION"
	if installed "$dir" "$V2_MODULE" "$V2_VERSION+incompatible"; then
		echo "registry $V2_VERSION already installed in $dir"
		return
	fi
	echo "installing registry $V2_VERSION (go build $V2_MODULE/cmd/registry@$V2_VERSION+incompatible in a pinning module)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	v2_gomod >"$tmp/go.mod"
	mkdir -p "$dir"
	# -mod=mod writes go.sum (checked against the checksum database) and
	# adds nothing: every module is already required. Tags and ldflags are
	# those of the release Dockerfile, less include_gcs: its 2015 cloud
	# storage client needs a google.golang.org/api from 2016 that the proxy
	# does not serve (every served version has typed ACL items).
	(cd "$tmp" && CGO_ENABLED=0 go build -mod=mod -trimpath -tags include_oss \
		-ldflags "-s -w -X $pkg/version.Version=$V2_VERSION -X $pkg/version.Revision=$V2_REVISION -X $pkg/version.Package=$pkg" \
		-o "$dir/registry" "$pkg/cmd/registry")
)

case "${1:-}" in
install)
	install_v3
	install_v2
	;;
paths)
	echo "WHARF_STOCK_REGISTRY_V3=$(stockdir)/registry-$V3_VERSION/registry"
	echo "WHARF_STOCK_REGISTRY_V2=$(stockdir)/registry-$V2_VERSION/registry"
	;;
*)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
