#!/usr/bin/env bash
# run.sh (make run): the token server on localhost:5001 and the registry on
# localhost:5000, plain http on loopback, storage in ./data, dev configs from
# configs/dev. Ctrl-C stops both; if either exits, the other is stopped too.
set -euo pipefail
cd "$(dirname "$0")/.."

for b in auth registry certgen healthcheck; do
	[[ -x bin/$b ]] || { echo "run.sh: bin/$b missing: run make build (make run does)" >&2; exit 1; }
done
for port in 5000 5001; do
	if (: </dev/tcp/127.0.0.1/$port) 2>/dev/null; then
		echo "run.sh: something already listens on 127.0.0.1:$port (another make run, or docker-compose?)" >&2
		exit 1
	fi
done

# The token signing key and certificate, made once and kept: tokens and
# refresh tokens stay valid across restarts.
if [[ ! -f .dev/token.key ]]; then
	echo "run.sh: first run: creating a dev signing key and certificate in ./.dev"
	bin/certgen --out .dev >/dev/null
fi
mkdir -p data

pids=()
# stop asks both servers to shut down gracefully and waits for them.
stop() {
	trap - INT TERM EXIT
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
}
trap 'echo; echo "run.sh: stopping"; stop; echo "run.sh: stopped"; exit 0' INT TERM
trap stop EXIT

# Each server's log lines are prefixed with its name; $! is the server itself.
bin/auth serve configs/dev/auth.yml > >(sed -u 's/^/auth     | /') 2>&1 &
pids+=($!)
bin/registry serve configs/dev/registry.yml > >(sed -u 's/^/registry | /') 2>&1 &
pids+=($!)

for url in http://127.0.0.1:5001/healthz http://127.0.0.1:5000/healthz; do
	for ((i = 0; i < 50; i++)); do
		bin/healthcheck -timeout 1s "$url" >/dev/null 2>&1 && continue 2
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null || { echo "run.sh: a server exited during startup (see its log above)" >&2; exit 1; }
		done
		sleep 0.2
	done
	echo "run.sh: $url did not become healthy in 10 s" >&2
	exit 1
done

cat <<'BANNER'

==========================================================================
 wharf is running. Ctrl-C stops both servers.
   registry  http://localhost:5000   storage ./data   (configs/dev/registry.yml)
   web UI    http://localhost:5000/ui/   (log in as below)
   auth      http://localhost:5001   realm /auth       (configs/dev/auth.yml)

 !!! DEV PASSWORDS - WELL-KNOWN, PRINTED HERE, FOR THIS MACHINE ONLY !!!
   admin  / admin-pass    every action on every repository
   reader / reader-pass   pull only
   (anonymous: allowed to ask, granted nothing)

 Try, in another terminal:
   echo admin-pass | docker login localhost:5000 -u admin --password-stdin
   docker tag hello-world localhost:5000/hello:1    # any local image
   docker push localhost:5000/hello:1
   docker rmi localhost:5000/hello:1 && docker pull localhost:5000/hello:1

   TOKEN=$(curl -s -u reader:reader-pass \
     'http://localhost:5001/auth?service=registry.local&scope=repository:hello:pull' |
     sed 's/.*"token":"\([^"]*\)".*/\1/')
   curl -H "Authorization: Bearer $TOKEN" http://localhost:5000/v2/hello/tags/list
==========================================================================

BANNER

# Stop both as soon as either exits (wait -n returns its status). On Ctrl-C
# the terminal signals both servers too; they shut down cleanly and exit 0.
set +e
wait -n "${pids[@]}"
status=$?
if ((status == 0)); then
	echo "run.sh: a server stopped; stopping the other"
else
	echo "run.sh: a server exited with status $status; stopping the other" >&2
fi
exit "$status"
