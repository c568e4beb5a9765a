#!/usr/bin/env bash
# Azure SDK compatibility test: start a real kiln server and drive it with the
# real Azure Python management SDKs (tests/sdk/test_ml_sdk.py), manage role
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

log() { echo "sdk: $*" >&2; }

[ -x "$kiln_bin" ] || { log "kiln binary not found at $kiln_bin (cargo build first)"; exit 1; }

# --- Python environment ------------------------------------------------------
# The stamp holds the requirements the venv was built from; a missing or
# different stamp (or a venv whose python no longer runs) means reinstall.
stamp=$venv/.kiln-requirements
if ! "$venv/bin/python" -c '' 2>/dev/null || ! cmp -s "$here/requirements.txt" "$stamp"; then
    log "creating venv in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    PIP_NO_INPUT=1 "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

# --- Server ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-sdk.XXXXXX")
server_pid=""
ok=0

cleanup() {
    local rc=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        # Give it a moment to shut down cleanly, then make sure it is gone.
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$ok" != 1 ] && [ -f "$tmp/kiln.log" ]; then
        echo "---- kiln server log ($tmp/kiln.log) ----" >&2
        cat "$tmp/kiln.log" >&2
        echo "---- end of kiln server log ----" >&2
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two distinct free loopback ports: both sockets are held open together so
# the kernel cannot hand out the same port twice.
read -r http_port https_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
')

base_url="https://127.0.0.1:$https_port"
log "starting $kiln_bin (http :$http_port, https :$https_port, data $tmp)"
"$kiln_bin" serve --data-dir "$tmp" --http "127.0.0.1:$http_port" --https "127.0.0.1:$https_port" \
    </dev/null >"$tmp/kiln.log" 2>&1 &
server_pid=$!

# Wait for /healthz over TLS (-k: the CA file may not be written yet when the
# port opens; the SDK test itself verifies the certificate properly).
deadline=$((SECONDS + 60))
until [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$base_url/healthz" || true)" = 200 ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "kiln exited before becoming healthy"
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "kiln not healthy on $base_url/healthz after 60 s"
        exit 1
    fi
    sleep 0.2
done
log "kiln is healthy"

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
KILN_URL=$base_url KILN_TOKEN=$token KILN_CA=$ca KILN_SP=$sp \
    "$venv/bin/python" "$here/test_authorization.py"
KILN_URL=$base_url KILN_CA=$ca KILN_SP=$sp \
    "$venv/bin/python" "$here/test_identity.py"
ok=1
