#!/usr/bin/env bash
# Builds wharf/auth:TAG and wharf/registry:TAG FROM scratch out of the static
# binaries in bin/ (see deploy/compose/Dockerfile.scratch), for machines that
# cannot pull a base image. Run `make build` first (`make images` does).
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-dev}
ctx=bin/image-context
for b in auth registry htpasswd healthcheck; do
	[[ -x bin/$b ]] || { echo "build-images: bin/$b missing: run make build" >&2; exit 1; }
done

# A small, explicit build context: the legacy builder sends the whole
# context to the daemon, and the repository may hold ./data and keys.
rm -rf "$ctx"
mkdir -p "$ctx/empty"
cp bin/auth bin/registry bin/htpasswd bin/healthcheck "$ctx/"
cp deploy/compose/image/passwd deploy/compose/image/group deploy/compose/image/config.yml "$ctx/"
cp deploy/compose/Dockerfile.scratch "$ctx/Dockerfile"

# The legacy builder: there is no buildx here, and FROM scratch needs nothing else.
export DOCKER_BUILDKIT=0
for target in auth registry; do
	echo "build-images: wharf/$target:$tag"
	docker build --quiet --target "$target" -t "wharf/$target:$tag" "$ctx"
done
