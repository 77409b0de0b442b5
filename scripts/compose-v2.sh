#!/usr/bin/env bash
# compose-v2.sh: the docker compose v2 CLI plugin, built from the Go module
# proxy, so that test/e2e runs `docker compose` beside Debian's
# docker-compose 1.29.
#
#   scripts/compose-v2.sh install   build the pinned version into the plugin
#                                   folder, unless it is already there
#   scripts/compose-v2.sh path      print the plugin's path
#
# The plugin goes to /usr/local/lib/docker/cli-plugins/docker-compose (or
# $COMPOSE_PLUGIN_DIR), a folder the docker CLI searches whatever
# DOCKER_CONFIG says: test/e2e points DOCKER_CONFIG at a temporary folder,
# which hides ~/.docker/cli-plugins.
set -euo pipefail

MODULE=github.com/docker/compose/v5
# The newest release whose go line (1.26.8) this machine's go1.26.8
# satisfies: v5.7.x want 1.26.10 and later, and GOTOOLCHAIN=local below
# forbids fetching another toolchain.
VERSION=v5.6.0

plugin() { echo "${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}/docker-compose"; }

# installed: whether the plugin is VERSION. (Built as the main module, it
# carries no module version; the version it prints is set by -ldflags.)
installed() {
	[[ -x $(plugin) ]] && [[ $("$(plugin)" version --short 2>/dev/null) == "${VERSION#v}" ]]
}

# install runs in a subshell, so that its EXIT trap removes the copy.
install() (
	if installed; then
		echo "docker compose $VERSION already installed as $(plugin)"
		return
	fi
	# go install refuses a module whose go.mod has exclude directives (as
	# compose's does): build inside a copy of the module instead, where
	# its go.mod and go.sum are the main module's.
	echo "installing docker compose $VERSION ($MODULE, go build ./cmd) as $(plugin)"
	local src tmp
	src=$(GOTOOLCHAIN=local go mod download -json "$MODULE@$VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $src ]] || { echo "compose-v2.sh: go mod download $MODULE@$VERSION gave no directory" >&2; exit 1; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	cp -R "$src/." "$tmp"
	chmod -R u+w "$tmp"
	mkdir -p "$(dirname "$(plugin)")"
	(cd "$tmp" && GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X $MODULE/internal.Version=$VERSION" -o "$(plugin)" ./cmd)
	docker compose version
)

case "${1:-}" in
install)
	install
	;;
path)
	plugin
	;;
*)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
