#!/usr/bin/env bash
# Azure SDK compatibility test: start a real kiln server and drive it with the
# real Azure Python management SDKs (tests/sdk/test_ml_sdk.py, and Cognitive
# Services accounts, projects, keys and soft delete in
# tests/sdk/test_cognitiveservices.py, model deployments, catalog, quota and
# account connections in tests/sdk/test_cognitive_deployments.py; the newest
# preview SDK, 2026-09-15-preview, with pause/resume, in
# tests/sdk/test_cognitive_preview.py and a venv of its own), manage role
# assignments with azure-mgmt-authorization (tests/sdk/test_authorization.py, which
# makes the service principal a Contributor) and sign in to it with azure-identity
# and MSAL (tests/sdk/test_identity.py).
#
#   bash tests/sdk/run.sh              # uses target/debug/kiln
#   KILN_BIN=/path/to/kiln bash tests/sdk/run.sh
#   KILN_SDK_VENV=/path/to/venv ...    # another venv (default: target/sdk-venv)
#   KILN_SDK_DEBUG=1 ...               # also log every HTTP request/response
#
# The venv lives in target/sdk-venv: cached between runs, git-ignored, and
# rebuilt only when tests/sdk/requirements.txt changes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
kiln_bin=${KILN_BIN:-$target_dir/debug/kiln}
venv=${KILN_SDK_VENV:-$target_dir/sdk-venv}

# shellcheck source=../lib/harness.sh
. "$here/../lib/harness.sh"

log() { echo "sdk: $*" >&2; }

[ -x "$kiln_bin" ] || { log "kiln binary not found at $kiln_bin (cargo build first)"; exit 1; }

# --- Python environment ------------------------------------------------------
harness_venv "$venv" "$here/requirements.txt"
# The newest preview SDK, in a venv of its own (tests/sdk/requirements-preview.txt).
preview_venv=${venv}-preview
harness_venv "$preview_venv" "$here/requirements-preview.txt"

# --- Server ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-sdk.XXXXXX")
server_pid=""
ok=0

cleanup() {
    local rc=$?
    harness_stop "$server_pid" "$tmp/kiln.log" "$ok"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

harness_ports

base_url="https://127.0.0.1:$https_port"
log "starting $kiln_bin (http :$http_port, https :$https_port, data $tmp)"
"$kiln_bin" serve --data-dir "$tmp" --http "127.0.0.1:$http_port" --https "127.0.0.1:$https_port" \
    </dev/null >"$tmp/kiln.log" 2>&1 &
server_pid=$!

harness_wait_healthy "$base_url" "$server_pid"

ca=$tmp/tls/cert.pem
[ -s "$ca" ] || { log "server certificate $ca missing"; exit 1; }

# `kiln token` prints only the bearer token on stdout.
token=$("$kiln_bin" token --data-dir "$tmp" </dev/null)
token=${token//[[:space:]]/}
[ -n "$token" ] || { log "kiln token printed nothing"; exit 1; }

# A service principal for the identity test (`az ad sp create-for-rbac`'s JSON).
sp=$("$kiln_bin" sp create --data-dir "$tmp" --name sdk-identity-test </dev/null)

# --- SDK tests ---------------------------------------------------------------
KILN_URL=$base_url KILN_TOKEN=$token KILN_CA=$ca KILN_OBJECTS=$tmp/objects \
    "$venv/bin/python" "$here/test_ml_sdk.py"
KILN_URL=$base_url KILN_TOKEN=$token KILN_CA=$ca \
    "$venv/bin/python" "$here/test_cognitiveservices.py"
KILN_URL=$base_url KILN_TOKEN=$token KILN_CA=$ca \
    "$venv/bin/python" "$here/test_cognitive_deployments.py"
KILN_URL=$base_url KILN_TOKEN=$token KILN_CA=$ca \
    "$preview_venv/bin/python" "$here/test_cognitive_preview.py"
KILN_URL=$base_url KILN_TOKEN=$token KILN_CA=$ca KILN_SP=$sp \
    "$venv/bin/python" "$here/test_authorization.py"
KILN_URL=$base_url KILN_CA=$ca KILN_SP=$sp \
    "$venv/bin/python" "$here/test_identity.py"
ok=1
