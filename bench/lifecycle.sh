#!/usr/bin/env bash
# Lifecycle benchmark: sustained hub writes through the outbox relay, RabbitMQ and a separate
# worker with the real provisioners, beside raw RabbitMQ publisher confirms, in one run.
#
#   bash bench/lifecycle.sh
#
# 1. builds target/release/kiln and the bench program (benches/lifecycle.rs),
# 2. starts its own PostgreSQL (scripts/pg-up.sh, durable commits as deployed) and RabbitMQ
#    (scripts/rabbitmq-up.sh), loopback only, both stopped by a trap,
# 3. measures raw RabbitMQ publisher-confirm throughput (persistent, mandatory, a quorum queue
#    bound, Kiln's event size), one at a time and pipelined,
# 4. starts `kiln serve --no-worker` (relay on) and `kiln worker` (consumes kiln.provisioner,
#    relay on, real hub provisioner writing to a local object store),
# 5. for each rate in BENCH_RATES (writes/s, open loop, BENCH_SECONDS each) PUTs new hubs, then
#    model deployments on Foundry accounts (catalog, capacity and quota checks), and reads, from
#    the database, relay lag (outbox row written → marked sent after the broker confirmed it)
#    and PUT → Succeeded (operation started → ended), and samples the backlog,
# 6. writes the section between the lifecycle markers of BENCHMARKS.md and keeps the raw JSON
#    in bench/results/lifecycle/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATES=${BENCH_RATES:-"250 1000"}
SECONDS_PER_RATE=${BENCH_SECONDS:-20}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
RESULTS=$ROOT/bench/results/lifecycle
log() { printf '%s lifecycle: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
cd "$ROOT"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "cargo build --release; cargo bench --no-run --bench lifecycle"
cargo build --release >"$RESULTS/build.log" 2>&1 || { tail -n 30 "$RESULTS/build.log" >&2; die build; }
cargo bench --no-run --bench lifecycle >>"$RESULTS/build.log" 2>&1 || { tail -n 30 "$RESULTS/build.log" >&2; die build; }
KILN=$ROOT/target/release/kiln
bench() { cargo bench -q --bench lifecycle -- "$@" 2>>"$RESULTS/bench.log"; }

PIDS=()
DATA=$(mktemp -d /tmp/kiln-lifecycle.XXXXXX)
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -n "${KILN_TEST_PG_DIR:-}" ] && bash "$ROOT/scripts/pg-down.sh" "$KILN_TEST_PG_DIR" || true
    [ -n "${KILN_TEST_RMQ_DIR:-}" ] && bash "$ROOT/scripts/rabbitmq-down.sh" "$KILN_TEST_RMQ_DIR" || true
    rm -rf "$DATA"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unset KILN_TEST_PG_DIR KILN_TEST_DATABASE_URL KILN_TEST_RMQ_DIR
eval "$(bash scripts/pg-up.sh)"
eval "$(bash scripts/rabbitmq-up.sh)"
PG_ADMIN=$KILN_TEST_DATABASE_URL
PG_BINDIR=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }
psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN" -c "ALTER SYSTEM SET fsync = on" \
    -c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET full_page_writes = on"
as_postgres "$PG_BINDIR/pg_ctl" -D "$KILN_TEST_PG_DIR" -l "$KILN_TEST_PG_DIR/server.log" -w -t 60 restart >/dev/null
psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN" -c "CREATE DATABASE kilnlife"
DB=${PG_ADMIN%/postgres}/kilnlife
AMQP=$KILN_TEST_AMQP_URL

log "raw RabbitMQ publisher confirms"
bench raw-rabbitmq --amqp-url "$AMQP" >"$RESULTS/raw-rabbitmq.json"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
export KILN_DEV_TOKENS=true KILN_AMQP_URL=$AMQP KILN_AMQP_PREFIX=bench. KILN_LOG=warn,lapin::returned_messages=error KILN_OBJECT_STORE=$DATA/objects
"$KILN" --data-dir "$DATA" --database-url "$DB" serve --no-worker --https off --http "127.0.0.1:$PORT" \
    >"$RESULTS/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$BASE/readyz" >/dev/null || die "kiln serve not ready"
"$KILN" --data-dir "$DATA" --database-url "$DB" worker >"$RESULTS/worker.log" 2>&1 &
PIDS+=($!)
TOKEN=$("$KILN" --data-dir "$DATA" --database-url "$DB" token)
SUB=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/subscriptions?api-version=2022-12-01" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["value"][0]["subscriptionId"])')

for workload in hub deployment; do
    for rate in $RATES; do
        log "$workload writes at $rate/s for ${SECONDS_PER_RATE}s"
        bench writes --base "$BASE" --token "$TOKEN" --subscription "$SUB" --database-url "$DB" \
            --rate "$rate" --seconds "$SECONDS_PER_RATE" --label "${workload:0:1}$rate" --workload "$workload" \
            >"$RESULTS/writes-$workload-$rate.json"
    done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

COMMAND="bash bench/lifecycle.sh  (BENCH_RATES=\"$RATES\" BENCH_SECONDS=$SECONDS_PER_RATE)"
python3 - "$RESULTS" "$OUT" "$COMMAND" "$LOADAVG_START" "$LOADAVG_END" "$(nproc)" <<'EOF'
import glob, json, os, sys
results, out, command, load_start, load_end, cpus = sys.argv[1:]
raw = json.load(open(os.path.join(results, "raw-rabbitmq.json")))
runs = sorted((json.load(open(p)) for p in glob.glob(os.path.join(results, "writes-*.json"))),
              key=lambda r: r["offered_rate"])
HEADER = ["| offered writes/s | achieved | relay lag p50 / p99 / max ms (target p99 ≤ 100 at 1000/s) | PUT → Succeeded p50 / p99 ms (target ≤ 50 / ≤ 250) | PUT answer p50 / p99 ms | backlog (unsent, running) first → last sample | drain after load s | not succeeded |",
          "|---|---|---|---|---|---|---|---|"]
TITLES = {
    "hub": "Hub PUTs (202) at a fixed open-loop rate (each write: 4 events — requested, storage account, key vault, hub succeeded):",
    "deployment": "Model deployment PUTs (201; gpt-4o-mini Standard, capacity 1, on 20 Foundry accounts; each write checks the catalog and reserves quota under the subscription's quota row lock; 2 events — requested, succeeded):",
}
def ms(v): return "n/a" if v != v else f"{v:.0f}"
lines = ["<!-- lifecycle:start -->", "## Lifecycle: outbox → RabbitMQ → worker", "",
         f"Command: `{command}`. Machine: {cpus} CPUs, load average {load_start} before, {load_end} after.",
         "PostgreSQL with durable commits, RabbitMQ (quorum queues) and Kiln all on this machine, loopback;",
         "`kiln serve --no-worker` (relay) + `kiln worker` (queue consumer, relay, real hub provisioner).", "",
         "Raw RabbitMQ publisher confirms, same run (persistent, mandatory, quorum queue bound, Kiln's event size):", "",
         "| publisher | messages | msg/s |", "|---|---|---|"]
for name, r in raw.items():
    lines.append(f"| {name.replace('_', ' ')} (batch {r['batch']}) | {r['messages']} | {r['per_second']:.0f} |")
def row(r):
    lag, done, put = r["relay_lag_ms"], r["put_to_succeeded_ms"], r["put_202_ms"]
    samples = r["backlog_samples_s_unsent_running"]
    during = [s for s in samples if s[0] <= r["seconds"]] or samples
    peak = max(during, key=lambda s: s[1] + s[2]) if during else [0, 0, 0]
    first, last = (during[0], during[-1]) if during else ([0, 0, 0], [0, 0, 0])
    return (
        f"| {r['offered_rate']} | {r['achieved_rate']:.0f}/s ({r['accepted']} accepted, {r['skipped_at_max_in_flight']} skipped, {r['errors']} errors{(': ' + ', '.join(f'{k} ×{v}' for k, v in r.get('error_kinds', {}).items())) if r['errors'] else ''}) "
        f"| {ms(lag['p50'])} / {ms(lag['p99'])} / {ms(lag['max'])} | {ms(done['p50'])} / {ms(done['p99'])} "
        f"| {ms(put['p50'])} / {ms(put['p99'])} | ({first[1]}, {first[2]}) → ({last[1]}, {last[2]}), peak ({peak[1]}, {peak[2]}) "
        f"| {r['drain_seconds_after_load']:.1f} | {r['operations_not_succeeded']} |")
for workload, title in TITLES.items():
    mine = [r for r in runs if r.get("workload", "hub") == workload]
    if mine:
        lines += ["", title, "", *HEADER, *(row(r) for r in mine)]
lines += ["", "Raw JSON (with every backlog sample): `bench/results/lifecycle/`.", "<!-- lifecycle:end -->", ""]
section = "\n".join(lines)
text = open(out).read() if os.path.exists(out) else ""
start, end = text.find("<!-- lifecycle:start -->"), text.find("<!-- lifecycle:end -->")
if start >= 0 and end >= 0:
    text = text[:start] + section + text[end + len("<!-- lifecycle:end -->") + 1:]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(out, "w").write(text)
print(section)
EOF
log "done: $OUT"
