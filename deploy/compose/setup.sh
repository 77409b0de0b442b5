#!/usr/bin/env bash
# setup.sh writes a ready auth_config.yml for deploy/compose: the template
# configs/compose/auth/auth_config.yml with bcrypt hashes of YOUR passwords
# in place of its CHANGE-ME values (which the server refuses to start with).
#
#   deploy/compose/setup.sh                   # asks for the passwords
#   ADMIN_PASSWORD=... READER_PASSWORD=... deploy/compose/setup.sh
#
# Output: $AUTH_CONFIG_DIR/auth_config.yml (default deploy/compose/auth-config,
# gitignored; then deploy/compose/.env is pointed at it). Hashing uses
# bin/auth (make build), or $AUTH_BIN, or the wharf/auth image.
# BCRYPT_COST (default 10) sets the cost. Edit the ACL in the output freely:
# the running server reloads it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
template=$repo/configs/compose/auth/auth_config.yml
out=${AUTH_CONFIG_DIR:-$here/auth-config}
cost=${BCRYPT_COST:-10}
image=wharf/auth:${WHARF_TAG:-dev}

die() { echo "setup.sh: $*" >&2; exit 1; }

# hash prints the bcrypt hash of the password given on stdin.
hash() {
	if [[ -n ${AUTH_BIN:-} ]]; then
		"$AUTH_BIN" hash --cost "$cost"
	elif [[ -x $repo/bin/auth ]]; then
		"$repo/bin/auth" hash --cost "$cost"
	elif docker image inspect "$image" >/dev/null 2>&1; then
		docker run --rm -i "$image" hash --cost "$cost"
	else
		die "no auth binary: run 'make build' (or 'make images'), or set AUTH_BIN"
	fi
}

# password NAME VAR prints the password for user NAME: from the environment
# variable VAR, else asked twice on the terminal without echo.
password() {
	local name=$1 var=$2 p q
	p=${!var:-}
	if [[ -z $p ]]; then
		[[ -t 0 ]] || die "set $var (no terminal to ask for $name's password on)"
		read -rsp "Password for $name: " p; echo >&2
		read -rsp "Again: " q; echo >&2
		[[ $p == "$q" ]] || die "the two passwords for $name differ"
	fi
	((${#p} >= 8)) || die "$name's password must have at least 8 characters"
	printf '%s' "$p"
}

[[ -f $template ]] || die "template $template missing"
admin_hash=$(password admin ADMIN_PASSWORD | hash) || die "hashing admin's password failed"
reader_hash=$(password reader READER_PASSWORD | hash) || die "hashing reader's password failed"
[[ $admin_hash == '$2'* && $reader_hash == '$2'* ]] || die "auth hash printed something that is not a bcrypt hash"

mkdir -p "$out"
tmp=$(mktemp "$out/.auth_config.yml.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# Replace the whole quoted value on each CHANGE-ME line. bcrypt hashes hold
# only [./A-Za-z0-9$], none of which is special in an awk replacement.
awk -v admin="$admin_hash" -v reader="$reader_hash" '
	/CHANGE-ME-admin/  { sub(/"CHANGE-ME-admin[^"]*"/,  "\"" admin "\"") }
	/CHANGE-ME-reader/ { sub(/"CHANGE-ME-reader[^"]*"/, "\"" reader "\"") }
	{ print }
' "$template" >"$tmp"
if grep -q "\"CHANGE-ME-" "$tmp"; then die "a CHANGE-ME value is left in the output"; fi
# The containers run as uid/gid 65532: let that group read the hashes.
if [[ $(id -u) == 0 ]]; then
	chown 0:65532 "$tmp" && chmod 0640 "$tmp"
else
	chmod 0644 "$tmp"
fi
mv "$tmp" "$out/auth_config.yml"
trap - EXIT
echo "setup.sh: wrote $out/auth_config.yml"

# Point docker-compose at the output, unless the caller chose the directory.
if [[ -z ${AUTH_CONFIG_DIR:-} ]]; then
	env_file=$here/.env
	touch "$env_file"
	grep -v '^AUTH_CONFIG_DIR=' "$env_file" >"$env_file.tmp" || true
	echo "AUTH_CONFIG_DIR=./auth-config" >>"$env_file.tmp"
	mv "$env_file.tmp" "$env_file"
	echo "setup.sh: $env_file now has AUTH_CONFIG_DIR=./auth-config"
fi
