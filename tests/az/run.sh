#!/usr/bin/env bash
# Azure CLI compatibility test: start a real kiln server on PostgreSQL over HTTPS
# and drive it with the real `az` (tests/az/test_az.py: cloud registration,
# service-principal login, group, provider, account, resource, tag, role, rest,
# cognitiveservices)
# and the real azure-ai-ml MLClient (tests/az/test_mlclient.py).
#
#   source <(bash scripts/pg-up.sh)    # or: bash scripts/pg-up.sh > env; source env
#   bash tests/az/run.sh                # uses target/debug/kiln
#   KILN_BIN=/path/to/kiln bash tests/az/run.sh
#   KILN_AZ_VENV=/path/to/venv ...      # another venv (default: target/az-venv)
#   KILN_AZ_ONLY=group,resource ...     # run only these sections of test_az.py
#
# KILN_TEST_DATABASE_URL (as scripts/pg-up.sh prints it) names a PostgreSQL
# server; every run creates a fresh database on it and drops it afterwards.
#
# Every az command runs with --debug; the HTTP exchanges of each (request line,
# body, status, error) are written to target/az-wire.md, failing or not. Every
# section runs even when an earlier one failed; the exit status is non-zero when
# any step failed.
#
# The venv lives in target/az-venv: cached between runs, git-ignored, and
# rebuilt only when tests/az/requirements.txt changes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
kiln_bin=${KILN_BIN:-$target_dir/debug/kiln}
venv=${KILN_AZ_VENV:-$target_dir/az-venv}
wire_out=${KILN_AZ_WIRE:-$target_dir/az-wire.md}

# shellcheck source=../lib/harness.sh
. "$here/../lib/harness.sh"

log() { echo "az: $*" >&2; }

[ -x "$kiln_bin" ] || { log "kiln binary not found at $kiln_bin (cargo build first)"; exit 1; }
[ -n "${KILN_TEST_DATABASE_URL:-}" ] || {
    log "KILN_TEST_DATABASE_URL is not set (source the output of scripts/pg-up.sh)"
    exit 1
}
command -v psql >/dev/null || { log "psql not found"; exit 1; }

# --- Python environment ------------------------------------------------------
harness_venv "$venv" "$here/requirements.txt"

# --- Database ----------------------------------------------------------------
# A database of its own on the caller's server: same URL, another path.
db_name="kiln_az_$(date +%s)_$$"
db_url=$(python3 - "$KILN_TEST_DATABASE_URL" "$db_name" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, u.fragment)))
EOF
)
psql "$KILN_TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db_name" >/dev/null
db_created=1

# --- Server ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-az.XXXXXX")
server_pid=""
ok=0

cleanup() {
    local rc=$?
    harness_stop "$server_pid" "$tmp/kiln.log" "$ok"
    if [ -f "$tmp/wire.md" ]; then
        mkdir -p "$(dirname "$wire_out")"
        cp "$tmp/wire.md" "$wire_out" && log "az wire log: $wire_out"
    fi
    if [ "${db_created:-}" = 1 ]; then
        psql "$KILN_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 ||
            log "could not drop database $db_name"
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

harness_ports

base_url="https://127.0.0.1:$https_port"
log "starting $kiln_bin (https :$https_port, database $db_name, data $tmp)"
# Dev tokens are off by default on PostgreSQL; the bootstrap administrator's
# token (`kiln token`) is needed once, to make the service principal Owner.
"$kiln_bin" serve --data-dir "$tmp" --database-url "$db_url" \
    --http "127.0.0.1:$http_port" --https "127.0.0.1:$https_port" --dev-tokens true \
    </dev/null >"$tmp/kiln.log" 2>&1 &
server_pid=$!

harness_wait_healthy "$base_url" "$server_pid"

ca=$tmp/tls/cert.pem
[ -s "$ca" ] || { log "server certificate $ca missing"; exit 1; }

# `kiln token` prints only the bearer token on stdout.
token=$("$kiln_bin" token --data-dir "$tmp" --database-url "$db_url" </dev/null)
token=${token//[[:space:]]/}
[ -n "$token" ] || { log "kiln token printed nothing"; exit 1; }

# The service principal az logs in with (`az ad sp create-for-rbac`'s JSON).
sp=$("$kiln_bin" sp create --data-dir "$tmp" --database-url "$db_url" --name kiln-az-test </dev/null)
sp_oid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["objectId"])' "$sp")

# Make it Owner of the bootstrap subscription (it creates a role assignment
# itself in test_az.py, which Contributor may not), as the bootstrap admin.
auth=(-H "Authorization: Bearer $token")
sub=$(curl -sf --cacert "$ca" "${auth[@]}" "$base_url/subscriptions?api-version=2022-12-01" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["subscriptionId"])')
owner=8e3af657-a8ff-443c-a75c-2fe8c4bcb635
assignment=$(python3 -c 'import uuid; print(uuid.uuid4())')
code=$(curl -s --cacert "$ca" "${auth[@]}" -o "$tmp/owner.json" -w '%{http_code}' -X PUT \
    -H 'content-type: application/json' \
    "$base_url/subscriptions/$sub/providers/Microsoft.Authorization/roleAssignments/$assignment?api-version=2022-04-01" \
    -d "{\"properties\": {\"roleDefinitionId\": \"/subscriptions/$sub/providers/Microsoft.Authorization/roleDefinitions/$owner\", \"principalId\": \"$sp_oid\", \"principalType\": \"ServicePrincipal\"}}")
[ "$code" = 201 ] || { log "Owner assignment for the service principal: HTTP $code $(cat "$tmp/owner.json")"; exit 1; }
log "service principal $sp_oid is Owner of /subscriptions/$sub"

# --- az and MLClient ---------------------------------------------------------
# An az of its own: config, clouds and token cache under $tmp, nothing from ~/.azure.
export AZURE_CONFIG_DIR=$tmp/azure
export AZURE_CORE_COLLECT_TELEMETRY=false AZURE_CORE_NO_COLOR=true AZURE_CORE_ONLY_SHOW_ERRORS=true
export REQUESTS_CA_BUNDLE=$ca SSL_CERT_FILE=$ca
export PATH=$venv/bin:$PATH
export KILN_URL=$base_url KILN_CA=$ca KILN_SP=$sp KILN_SUB=$sub KILN_TOKEN=$token
export KILN_AZ=$venv/bin/az KILN_AZ_WIRE_FILE=$tmp/wire.md

failed=0
"$venv/bin/python" "$here/test_az.py" || failed=1
"$venv/bin/python" "$here/test_mlclient.py" || failed=1
[ "$failed" = 0 ] || { log "FAILED (see above; wire log in $wire_out)"; exit 1; }
ok=1
log "all passed"
