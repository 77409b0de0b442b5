#!/usr/bin/env bash
# stock-registries.sh: the stock CNCF registries that the compatibility tests
# run beside ours, built from the Go module proxy (no docker image, no fork).
#
#   scripts/stock-registries.sh install   build each pinned version, unless
#                                         it is already there
#   scripts/stock-registries.sh paths     print WHARF_STOCK_REGISTRY_V3=...
#                                         (and _V2=...) for eval
#
# Binaries go to $(go env GOPATH)/wharf-stock/<name>/registry, one folder per
# version, so they never shadow our own bin/registry on PATH. The tests find
# them there or through the variables, and fail, not skip, without them.
set -euo pipefail

V3_MODULE=github.com/distribution/distribution/v3
V3_VERSION=v3.1.1

stockdir() { echo "$(go env GOPATH | cut -d: -f1)/wharf-stock"; }

# installed DIR MODULE VERSION: whether DIR/registry was built from MODULE at VERSION.
installed() {
	[[ -x $1/registry ]] && go version -m "$1/registry" 2>/dev/null |
		awk -v m="$2" -v v="$3" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'
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

case "${1:-}" in
install)
	install_v3
	;;
paths)
	echo "WHARF_STOCK_REGISTRY_V3=$(stockdir)/registry-$V3_VERSION/registry"
	;;
*)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
