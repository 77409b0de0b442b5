#!/usr/bin/env bash
# Fails, saying why, unless a Docker engine and a compose implementation are
# usable: `make e2e` must never pass without having run the journey.
set -euo pipefail

fail() {
	echo "make e2e: $*" >&2
	echo "make e2e: FAILED: the docker journey did not run (it never passes without Docker)." >&2
	exit 1
}

command -v docker >/dev/null 2>&1 ||
	fail "no docker CLI on PATH (Debian: apt-get install docker.io docker-compose; .ci/run does this)"
if ! out=$(docker info 2>&1); then
	fail "no Docker engine reachable: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')(start dockerd, or set DOCKER_HOST)"
fi
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
	fail "neither docker-compose nor the docker compose plugin is installed"
fi
