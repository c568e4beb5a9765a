#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run):
#
#   bash scripts/test.sh
#
# format check -> PostgreSQL up -> clippy -> Rust tests -> build -> Azure SDK
# compatibility test -> Azure CLI (az) and azure-ai-ml test -> schemathesis. Any failure stops
# the run with a non-zero exit; the PostgreSQL cluster is stopped and removed on
# every exit path. Needs no stdin
# and nothing pre-started: run as root on a fresh machine it installs
# PostgreSQL itself.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

section() { printf '\n==== %s ====\n' "$*"; }

cleanup() {
    local rc=$?
    if [ -n "${KILN_TEST_PG_DIR:-}" ]; then
        bash "$root/scripts/pg-down.sh" "$KILN_TEST_PG_DIR" || true
    fi
    if [ -n "${KILN_TEST_RMQ_DIR:-}" ]; then
        bash "$root/scripts/rabbitmq-down.sh" "$KILN_TEST_RMQ_DIR" || true
    fi
    if [ "$rc" != 0 ]; then
        echo "test.sh: FAILED (exit $rc) during: ${current_step:-setup}" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
# Turn Ctrl-C / kill into a normal exit so the EXIT trap still cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
    current_step=$1
    section "$1"
}

# Cargo writes ANSI colours only for a terminal; CI logs stay readable.
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}
target_dir=${CARGO_TARGET_DIR:-$root/target}

step "format (cargo fmt --check)"
cargo fmt --all --check

step "PostgreSQL"
# Always a fresh cluster of our own: a KILN_TEST_PG_DIR inherited from the
# caller would be reused by pg-up and then stopped by our cleanup.
unset KILN_TEST_PG_DIR KILN_TEST_DATABASE_URL
# pg-up prints `export KILN_TEST_DATABASE_URL=... KILN_TEST_PG_DIR=...`.
pg_env=$(bash "$root/scripts/pg-up.sh")
eval "$pg_env"
echo "KILN_TEST_DATABASE_URL=$KILN_TEST_DATABASE_URL"

# --workspace: the migrations crate is a workspace member too.
step "RabbitMQ"
unset KILN_TEST_RMQ_DIR KILN_TEST_AMQP_URL KILN_TEST_RMQ_NODE
rmq_env=$(bash "$root/scripts/rabbitmq-up.sh")
eval "$rmq_env"
echo "KILN_TEST_AMQP_URL=$KILN_TEST_AMQP_URL"

step "lint (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    echo "(cargo-nextest not installed: using cargo test)"
    cargo test --workspace --no-fail-fast
fi

step "build (debug)"
cargo build

step "Azure Python SDK compatibility"
KILN_BIN="$target_dir/debug/kiln" bash "$root/tests/sdk/run.sh"

step "Azure CLI and azure-ai-ml against Kiln on PostgreSQL"
KILN_BIN="$target_dir/debug/kiln" bash "$root/tests/az/run.sh"

step "Fuzzing the served OpenAPI document (schemathesis)"
KILN_BIN="$target_dir/debug/kiln" bash "$root/tests/fuzz/run.sh"
current_step="finished"
