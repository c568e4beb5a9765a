#!/usr/bin/env bash
# Fuzzing from outside: schemathesis (PyPI) reads the OpenAPI document a running kiln serves
# and sends what it describes, with a valid token, bounded in examples and time.
#
#   bash tests/fuzz/run.sh                  # uses target/debug/kiln
#   KILN_BIN=/path/to/kiln bash tests/fuzz/run.sh
#   KILN_FUZZ_SECONDS=600 KILN_FUZZ_EXAMPLES=20 bash tests/fuzz/run.sh   # a longer run
#
# It fails on any 5xx, on a response (4xx included: the ARM error body) that does not match
# its published schema, a status, content type or header the document does not list, and a
# 405 without Allow. Not checked: that every request the schema allows is accepted
# (positive_data_acceptance) — Kiln's name, scope, filter and token rules are stricter than
# what the document says; README "What Kiln promises" lists them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
kiln_bin=${KILN_BIN:-$target_dir/debug/kiln}
venv=${KILN_FUZZ_VENV:-$target_dir/fuzz-venv}
seconds=${KILN_FUZZ_SECONDS:-150}
examples=${KILN_FUZZ_EXAMPLES:-5}

# shellcheck source=../lib/harness.sh
. "$here/../lib/harness.sh"

log() { echo "fuzz: $*" >&2; }

[ -x "$kiln_bin" ] || { log "kiln binary not found at $kiln_bin (cargo build first)"; exit 1; }
harness_venv "$venv" "$here/requirements.txt"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz.XXXXXX")
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
"$kiln_bin" serve --data-dir "$tmp" --http "127.0.0.1:$http_port" --https "127.0.0.1:$https_port" \
    </dev/null >"$tmp/kiln.log" 2>&1 &
server_pid=$!
harness_wait_healthy "https://127.0.0.1:$https_port" "$server_pid"
token=$("$kiln_bin" token --data-dir "$tmp" </dev/null)
token=${token//[[:space:]]/}

log "schemathesis: $examples examples per operation, at most $seconds s"
# A fixed seed: a failure in CI is the same failure here.
"$venv/bin/st" run "http://127.0.0.1:$http_port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method \
    --max-examples "$examples" --max-time "$seconds" --workers 2 \
    --generation-allow-x00 false --seed 20261207 --no-color --report-dir "$tmp/report"
ok=1
log "no failure"
