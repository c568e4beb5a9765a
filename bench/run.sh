#!/usr/bin/env bash
# Kiln against raw PostgreSQL, in one run, on one throwaway PostgreSQL cluster, loopback only.
#
#   bash bench/run.sh
#
# 1. builds target/release/kiln (`cargo build --release`; BENCH_BUILD=0 uses the existing binary),
# 2. starts its own PostgreSQL with scripts/pg-up.sh (stopped by a trap on exit), switches it
#    to durable commits (fsync/synchronous_commit/full_page_writes on, as deployed; the test
#    defaults of pg-up.sh turn them off) and shared_buffers=1GB,
# 3. starts Kiln (`serve --https off`, in-process provisioning worker ON, as deployed), creates
#    resource groups through the API, PUTs one template workspace through the API and copies
#    its row with SQL into BENCH_WORKSPACES workspaces over BENCH_GROUPS groups,
# 4. fills a raw table (database `rawbench`) with as many rows carrying the very same JSONB body,
# 5. for each measure and each client count, runs the raw pgbench script and then the Kiln wrk
#    load back to back:  PK select  vs  GET by id;  100-row keyset page  vs  list page;
#    insert row + outbox row in one tx  vs  PUT of a new workspace (the synchronous 202 part),
# 6. writes BENCHMARKS.md at the repo root (bench/report.py) and keeps the raw outputs in
#    bench/results/latest/.
#
# Knobs (environment): BENCH_DURATION (s per load, 15), BENCH_WARMUP (s of unmeasured Kiln
# load before each measured one, 3), BENCH_CLIENTS ("8 32"), BENCH_WORKSPACES (100000),
# BENCH_GROUPS (4), BENCH_DURABLE (1), BENCH_BUILD (1), BENCH_DRAIN_WAIT (s to wait for the
# provisioning backlog after a PUT load, 15), BENCH_OUT (BENCHMARKS.md).
# Every load is bounded (-T / -d) and stops by itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-3}
CLIENTS=${BENCH_CLIENTS:-"8 32"}
WORKSPACES=${BENCH_WORKSPACES:-100000}
NGROUPS=${BENCH_GROUPS:-4}
DURABLE=${BENCH_DURABLE:-1}
BUILD=${BENCH_BUILD:-1}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
DRAIN_WAIT=${BENCH_DRAIN_WAIT:-15}
PER_GROUP=$((WORKSPACES / NGROUPS))
WORKSPACES=$((PER_GROUP * NGROUPS))
RESULTS=$BENCH_DIR/results/latest
API_WS=2025-12-01

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

command -v wrk >/dev/null || die "wrk is not installed (apt-get install -y wrk)"
command -v pgbench >/dev/null || die "pgbench is not installed (package postgresql-client)"
command -v psql >/dev/null || die "psql is not installed"
command -v python3 >/dev/null || die "python3 is needed for the report"

START_EPOCH=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
RUNS=$RESULTS/runs.jsonl
: >"$RUNS"

# ---------------------------------------------------------------- build
cd "$ROOT"
if [ "$BUILD" = 1 ]; then
    log "cargo build --release"
    cargo build --release >"$RESULTS/build.log" 2>&1 || { tail -n 30 "$RESULTS/build.log" >&2; die "build"; }
fi
KILN=$ROOT/target/release/kiln
[ -x "$KILN" ] || die "$KILN missing (run cargo build --release or BENCH_BUILD=1)"

# ---------------------------------------------------------------- cleanup trap
KILN_PID=""
KILN_DATA=""
TMP=$(mktemp -d /tmp/kiln-bench.XXXXXX)
cleanup() {
    local rc=$?
    if [ -n "$KILN_PID" ] && kill -0 "$KILN_PID" 2>/dev/null; then
        kill "$KILN_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$KILN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$KILN_PID" 2>/dev/null || true
    fi
    if [ -n "${KILN_TEST_PG_DIR:-}" ]; then
        bash "$ROOT/scripts/pg-down.sh" "$KILN_TEST_PG_DIR" || true
    fi
    [ -n "$KILN_DATA" ] && rm -rf "$KILN_DATA"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- PostgreSQL
unset KILN_TEST_PG_DIR KILN_TEST_DATABASE_URL
# shellcheck source=../scripts/pg-up.sh
source "$ROOT/scripts/pg-up.sh" || die "pg-up"
PG_ADMIN=$KILN_TEST_DATABASE_URL
PG_BASE=${KILN_TEST_DATABASE_URL%/postgres}
PG_PORT=${PG_BASE##*:}
PG_BINDIR=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

if [ "$DURABLE" = 1 ]; then
    psql_q "$PG_ADMIN" -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
        -c "ALTER SYSTEM SET full_page_writes = on"
fi
psql_q "$PG_ADMIN" -c "ALTER SYSTEM SET shared_buffers = '1GB'"
as_postgres "$PG_BINDIR/pg_ctl" -D "$KILN_TEST_PG_DIR" -l "$KILN_TEST_PG_DIR/server.log" -w -t 60 restart >/dev/null
"$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -t 30 || die "PostgreSQL did not come back"
PG_SETTINGS=$(psql -X -At "$PG_ADMIN" -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','shared_buffers','max_connections','wal_sync_method')")
PG_VERSION=$(psql -X -At "$PG_ADMIN" -c "SHOW server_version")
log "PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT ($PG_SETTINGS)"
psql_q "$PG_ADMIN" -c "CREATE DATABASE kilnbench" -c "CREATE DATABASE rawbench"
KDB=$PG_BASE/kilnbench
RDB=$PG_BASE/rawbench

# ---------------------------------------------------------------- Kiln
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
KILN_DATA=$(mktemp -d /tmp/kiln-bench-data.XXXXXX)
HTTP_PORT=$(free_port)
BASE=http://127.0.0.1:$HTTP_PORT
KILN_CMD=("$KILN" --data-dir "$KILN_DATA" --database-url "$KDB" serve --http "127.0.0.1:$HTTP_PORT" --https off)
log "starting Kiln on $BASE (worker on)"
KILN_DEV_TOKENS=true KILN_LOG=warn "${KILN_CMD[@]}" >"$RESULTS/kiln.log" 2>&1 &
KILN_PID=$!
for _ in $(seq 1 300); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$KILN_PID" 2>/dev/null || { cat "$RESULTS/kiln.log" >&2; die "Kiln exited"; }
    sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null || die "Kiln not ready"
TOKEN=$("$KILN" --data-dir "$KILN_DATA" --database-url "$KDB" token)
SUB=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/subscriptions?api-version=2022-12-01" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["value"][0]["subscriptionId"])')
export KILN_TOKEN=$TOKEN KILN_SUB=$SUB BENCH_DIR BENCH_GROUPS=$NGROUPS BENCH_PER_GROUP=$PER_GROUP
rss_kb() { ps -o rss= -p "$KILN_PID" 2>/dev/null | tr -d ' ' || echo 0; }
RSS_START=$(rss_kb)

api() { # METHOD PATH [BODY] -> prints the status code, body in $TMP/api.out
    local method=$1 path=$2 body=${3:-}
    curl -sS -o "$TMP/api.out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' ${body:+--data-binary "$body"} "$BASE$path"
}
for g in $(seq 1 "$NGROUPS") put; do
    code=$(api PUT "/subscriptions/$SUB/resourceGroups/bench-rg-$g?api-version=2024-03-01" '{"location":"eastus"}')
    case $code in 200 | 201) ;; *) cat "$TMP/api.out" >&2; die "resource group bench-rg-$g: HTTP $code" ;; esac
done
# The PUT body: ~1 KB once stored (the description pads it), the same for every load.
python3 - "$TMP/put-body.json" <<'EOF'
import json, sys
doc = {"location": "eastus", "kind": "Hub",
       "properties": {"friendlyName": "Bench workspace", "description": "d" * 640}}
open(sys.argv[1], "w").write(json.dumps(doc))
EOF
export BENCH_PUT_BODY=$TMP/put-body.json
WS_PREFIX=/subscriptions/$SUB/resourceGroups/bench-rg-put/providers/Microsoft.MachineLearningServices/workspaces
code=$(api PUT "$WS_PREFIX/ws-template?api-version=$API_WS" "$(cat "$BENCH_PUT_BODY")")
[ "$code" = 202 ] || [ "$code" = 201 ] || [ "$code" = 200 ] || { cat "$TMP/api.out" >&2; die "template workspace: HTTP $code"; }
for _ in $(seq 1 100); do
    state=$(psql -X -At "$KDB" -c "SELECT provisioning_state FROM resources WHERE name = 'ws-template'")
    [ "$state" = Succeeded ] && break
    sleep 0.1
done
[ "$state" = Succeeded ] || die "template workspace did not reach Succeeded (state '$state')"
code=$(api GET "$WS_PREFIX/ws-template?api-version=$API_WS")
[ "$code" = 200 ] || die "GET template: HTTP $code"
GET_BYTES=$(wc -c <"$TMP/api.out")

# ---------------------------------------------------------------- seed Kiln (SQL copy of the API's row)
log "seeding $WORKSPACES workspaces ($NGROUPS groups x $PER_GROUP) by copying the API-written row"
t0=$(date +%s.%N)
psql_q "$KDB" -v per="$PER_GROUP" -v ngroups="$NGROUPS" <<'EOF'
INSERT INTO resources (id_key, id, subscription_key, group_key, parent_key, type_key, name, kind_key,
                       location, top_level, depends_on_key, body, etag, provisioning_state, generation,
                       observed_generation, created_at, updated_at)
SELECT replace(replace(t.id_key, '/resourcegroups/bench-rg-put/', '/resourcegroups/bench-rg-' || g || '/'),
               '/workspaces/ws-template', '/workspaces/' || n),
       replace(replace(t.id, '/resourceGroups/bench-rg-put/', '/resourceGroups/bench-rg-' || g || '/'),
               '/workspaces/ws-template', '/workspaces/' || n),
       t.subscription_key,
       replace(t.group_key, '/resourcegroups/bench-rg-put', '/resourcegroups/bench-rg-' || g),
       replace(t.parent_key, '/resourcegroups/bench-rg-put', '/resourcegroups/bench-rg-' || g),
       t.type_key, n, t.kind_key, t.location, t.top_level, t.depends_on_key,
       jsonb_set(t.body, '{properties,workspaceId}', to_jsonb(gen_random_uuid()::text)),
       '"' || replace(gen_random_uuid()::text, '-', '') || '"',
       t.provisioning_state, t.generation, t.observed_generation, t.created_at, t.updated_at
FROM resources t
CROSS JOIN generate_series(1, :ngroups) AS g
CROSS JOIN LATERAL (SELECT 'ws-' || lpad(i::text, 7, '0') AS n FROM generate_series(1, :per) AS i) AS names
WHERE t.name = 'ws-template' AND t.type_key = 'microsoft.machinelearningservices/workspaces';
VACUUM ANALYZE resources;
EOF
SEED_S=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
SEEDED=$(psql -X -At "$KDB" -c "SELECT count(*) FROM resources WHERE type_key = 'microsoft.machinelearningservices/workspaces'")
BODY_BYTES=$(psql -X -At "$KDB" -c "SELECT octet_length(body::text) FROM resources WHERE name = 'ws-template'")
KILN_DB_SIZE=$(psql -X -At "$KDB" -c "SELECT pg_size_pretty(pg_total_relation_size('resources'))")
# Sanity: a seeded workspace answers GET 200 and a page has 100 items with a nextLink.
code=$(api GET "/subscriptions/$SUB/resourceGroups/bench-rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-0000001?api-version=$API_WS")
[ "$code" = 200 ] || { cat "$TMP/api.out" >&2; die "GET seeded workspace: HTTP $code"; }
code=$(api GET "/subscriptions/$SUB/resourceGroups/bench-rg-1/providers/Microsoft.MachineLearningServices/workspaces?api-version=$API_WS&\$top=100")
[ "$code" = 200 ] || die "list: HTTP $code"
python3 -c '
import json, sys
page = json.load(open(sys.argv[1]))
assert len(page["value"]) == 100 and page.get("nextLink"), "first page: %d items, nextLink %r" % (len(page["value"]), page.get("nextLink"))
' "$TMP/api.out" || die "list page shape"
LIST_BYTES=$(wc -c <"$TMP/api.out")
log "seeded $SEEDED workspaces in ${SEED_S}s (resources table $KILN_DB_SIZE); GET body ${GET_BYTES} B, page ${LIST_BYTES} B"

# ---------------------------------------------------------------- seed raw
log "seeding raw table with $WORKSPACES rows of the same ${BODY_BYTES}-byte body"
DOC=$(psql -X -At "$KDB" -c "SELECT body::text FROM resources WHERE name = 'ws-template'")
printf '%s' "$DOC" >"$RESULTS/doc.json"
psql_q "$RDB" -v doc="$DOC" -v rows="$WORKSPACES" -f "$BENCH_DIR/raw_schema.sql" >/dev/null
RAW_DB_SIZE=$(psql -X -At "$RDB" -c "SELECT pg_size_pretty(pg_total_relation_size('bench_raw'))")
# The plans Kiln's read statements and the raw ones get (generic plans, as prepared statements).
MID=$(printf 'ws-%07d' $((PER_GROUP / 2)))
G1=$(psql -X -At "$KDB" -c "SELECT group_key FROM resources WHERE name = '$MID' AND group_key LIKE '%/resourcegroups/bench-rg-1'")
K1=$(psql -X -At "$KDB" -c "SELECT id_key FROM resources WHERE name = '$MID' AND group_key = '$G1'")
{
    psql -X "$KDB" -v g1="$G1" -v k="$K1" -f "$BENCH_DIR/plans.sql"
    psql -X "$RDB" -f "$BENCH_DIR/plans_raw.sql"
} >"$RESULTS/plans.txt" 2>&1 || log "query plans failed (see $RESULTS/plans.txt)"
psql_q "$PG_ADMIN" -c CHECKPOINT

# ---------------------------------------------------------------- measurement helpers
cpu_stat() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6, $9, $8}' /proc/stat; } # busy idle steal softirq (ticks)
proc_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU ticks of all PostgreSQL processes alive now (Kiln's pooled backends live through a load;
# pgbench's do not, so raw runs derive PostgreSQL's share instead).
pg_ticks() {
    local p t=0 v
    for p in $(pgrep -u postgres 2>/dev/null); do
        v=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null) && t=$((t + v))
    done
    echo "$t"
}
pg_xacts() { psql -X -At "$PG_ADMIN" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$1'"; }
HZ=$(getconf CLK_TCK)

# record KEY=VALUE... -> one JSON line in runs.jsonl
record() { python3 -c '
import json, sys
d = {}
for kv in sys.argv[2:]:
    k, _, v = kv.partition("=")
    try:
        v = int(v)
    except ValueError:
        try:
            v = float(v)
        except ValueError:
            pass
    d[k] = v
open(sys.argv[1], "a").write(json.dumps(d) + "\n")
' "$RUNS" "$@"; }

# raw MEASURE SCRIPT CLIENTS
raw_run() {
    local measure=$1 script=$2 c=$3 j=$(($3 < 2 ? $3 : 2))
    local tag=raw-$measure-c$c out=$RESULTS/raw-$measure-c$c.txt
    psql_q "$PG_ADMIN" -c CHECKPOINT
    local logdir=$TMP/pgl-$tag
    mkdir -p "$logdir"
    read -r b0 i0 s0 q0 < <(cpu_stat)
    local x0; x0=$(pg_xacts rawbench)
    TIMEFORMAT='%3U %3S'
    { time (cd "$logdir" && pgbench -n -M prepared -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "$c" -j "$j" \
        -T "$DURATION" -f "$BENCH_DIR/$script" -D rows="$WORKSPACES" -D doc="$DOC" -l rawbench \
        >"$out" 2>&1); } 2>"$TMP/time.$tag" || { cat "$out" >&2; die "pgbench $tag"; }
    read -r b1 i1 s1 q1 < <(cpu_stat)
    local x1; x1=$(pg_xacts rawbench)
    local tps lat failed txs
    tps=$(awk '/^tps = /{print $3}' "$out")
    lat=$(awk '/^latency average = /{print $4}' "$out")
    txs=$(awk '/number of transactions actually processed/{print $NF}' "$out" | cut -d/ -f1)
    failed=$(awk '/number of failed transactions/{print $5}' "$out")
    # per-transaction latencies (µs, 3rd field) from the -l logs
    read -r p50 p99 < <(cat "$logdir"/pgbench_log.* | awk '{print $3}' | sort -n |
        awk '{a[NR]=$1} END {i50=int(NR*0.50); i99=int(NR*0.99); if (i50<1) i50=1; if (i99<1) i99=1; printf "%.3f %.3f\n", a[i50]/1000, a[i99]/1000}')
    rm -rf "$logdir"
    read -r lu ls <"$TMP/time.$tag"
    record side=raw measure="$measure" clients="$c" rps="$tps" requests="$txs" p50_ms="$p50" p99_ms="$p99" \
        avg_ms="$lat" failed="${failed:-0}" busy_ticks=$((b1 - b0)) idle_ticks=$((i1 - i0)) steal_ticks=$((s1 - s0)) softirq_ticks=$((q1 - q0)) \
        loadgen_cpu_s="$(echo "$lu $ls" | awk '{print $1+$2}')" db_xacts=$((x1 - x0)) hz="$HZ" duration_s="$DURATION"
    log "raw   $measure c=$c: $tps tx/s, p50 ${p50} ms, p99 ${p99} ms"
}

# kiln MEASURE LUA CLIENTS
kiln_run() {
    local measure=$1 lua=$2 c=$3
    local tag=kiln-$measure-c$c out=$RESULTS/kiln-$measure-c$c.txt
    psql_q "$PG_ADMIN" -c CHECKPOINT
    if [ "$WARMUP" -gt 0 ]; then
        BENCH_PUT_RUN=w$c wrk -t2 -c"$c" -d"${WARMUP}s" --timeout 10s -s "$BENCH_DIR/$lua" "$BASE" \
            >"$RESULTS/warmup-$measure-c$c.txt" 2>&1 || die "wrk warm-up $tag"
        local wline; wline=$(grep '^BENCH ' "$RESULTS/warmup-$measure-c$c.txt" | head -n 1) || die "no BENCH line in warm-up $tag"
        # shellcheck disable=SC2086
        record side=warmup measure="$measure" clients="$c" ${wline#BENCH }
    fi
    read -r b0 i0 s0 q0 < <(cpu_stat)
    local ip0 ip1; ip0=$(in_progress)
    local k0 x0 g0; k0=$(proc_ticks "$KILN_PID"); x0=$(pg_xacts kilnbench); g0=$(pg_ticks)
    touch "$TMP/sampling"
    (max=0; while [ -f "$TMP/sampling" ]; do r=$(rss_kb); [ -n "$r" ] && [ "$r" -gt "$max" ] && max=$r; sleep 0.5; done; echo "$max" >"$TMP/rss.$tag") &
    local sampler=$!
    TIMEFORMAT='%3U %3S'
    { time BENCH_PUT_RUN=m$c wrk -t2 -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$BENCH_DIR/$lua" "$BASE" \
        >"$out" 2>&1; } 2>"$TMP/time.$tag" || { cat "$out" >&2; die "wrk $tag"; }
    read -r b1 i1 s1 q1 < <(cpu_stat)
    local k1 x1 g1; k1=$(proc_ticks "$KILN_PID"); g1=$(pg_ticks); x1=$(pg_xacts kilnbench)
    ip1=$(in_progress)
    rm -f "$TMP/sampling"
    wait "$sampler"
    local rss_peak rss_after line
    rss_peak=$(cat "$TMP/rss.$tag")
    rss_after=$(rss_kb)
    line=$(grep '^BENCH ' "$out" | head -n 1) || { cat "$out" >&2; die "no BENCH line in $out"; }
    read -r lu ls <"$TMP/time.$tag"
    # shellcheck disable=SC2086  # the BENCH line is KEY=VALUE words
    record side=kiln measure="$measure" clients="$c" ${line#BENCH } rss_peak_kb="$rss_peak" rss_after_kb="$rss_after" \
        busy_ticks=$((b1 - b0)) idle_ticks=$((i1 - i0)) steal_ticks=$((s1 - s0)) softirq_ticks=$((q1 - q0)) server_ticks=$((k1 - k0)) pg_ticks=$((g1 - g0)) \
        loadgen_cpu_s="$(echo "$lu $ls" | awk '{print $1+$2}')" db_xacts=$((x1 - x0)) hz="$HZ" duration_s="$DURATION" \
        in_progress_before="$ip0" in_progress_after="$ip1"
    log "kiln  $measure c=$c: ${line#BENCH }; RSS peak ${rss_peak} kB"
    if [ "$measure" = put ]; then
        wait_drain "$measure-c$c"
    fi
}

# After PUTs the in-process worker completes the accepted operations. Wait for it, up to
# DRAIN_WAIT seconds, so that the next load starts from a quieter server, and record how fast it
# drained. What is left keeps draining in the background of the next loads (it is reported).
in_progress() { psql -X -At "$KDB" -c "SELECT count(*) FROM operations WHERE status = 'InProgress'"; }
wait_drain() {
    local tag=$1 t0 n left secs
    t0=$(date +%s.%N)
    n=$(in_progress)
    left=$n
    while [ "$left" != 0 ]; do
        secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
        python3 -c "import sys; sys.exit(0 if $secs < $DRAIN_WAIT else 1)" || break
        sleep 0.5
        left=$(in_progress)
    done
    secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    record side=drain measure="$tag" backlog="$n" left="$left" seconds="$secs" rss_kb="$(rss_kb)"
    log "drain $tag: backlog $n operations, $left left after ${secs}s"
}

# ---------------------------------------------------------------- the loads
RSS_SEEDED=$(rss_kb)
for c in $CLIENTS; do
    raw_run get raw_select.sql "$c"
    kiln_run get get.lua "$c"
done
for c in $CLIENTS; do
    raw_run list raw_list.sql "$c"
    kiln_run list list.lua "$c"
done
for c in $CLIENTS; do
    raw_run put raw_insert.sql "$c"
    kiln_run put put.lua "$c"
done
sleep 2
RSS_END=$(rss_kb)

# ---------------------------------------------------------------- facts and report
OPS=$(psql -X -At "$KDB" -c "SELECT coalesce(string_agg(status || ':' || n, ', ' ORDER BY status), '') FROM (SELECT status, count(*) n FROM operations GROUP BY status) s")
PUT_ROWS=$(psql -X -At "$KDB" -c "SELECT count(*) FROM resources WHERE group_key LIKE '%/resourcegroups/bench-rg-put'")
NONSUCCEEDED=$(psql -X -At "$KDB" -c "SELECT count(*) FROM resources WHERE provisioning_state <> 'Succeeded'")
OUTBOX=$(psql -X -At "$KDB" -c "SELECT count(*) FROM outbox")
TOTAL_WS=$(psql -X -At "$KDB" -c "SELECT count(*) FROM resources WHERE type_key = 'microsoft.machinelearningservices/workspaces'")
KILN_ALIVE=yes
kill -0 "$KILN_PID" 2>/dev/null || KILN_ALIVE=no
LOG_WARN=$(grep -ciE 'warn|error|panic' "$RESULTS/kiln.log" || true)

{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "elapsed_s=$(($(date +%s) - START_EPOCH))"
    echo "nproc=$(nproc)"
    echo "loadavg_start=$LOADAVG_START"
    echo "cpu_model=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "mem_total=$(free -m | awk '/^Mem:/{print $2}') MiB"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "pg_version=$PG_VERSION"
    echo "pg_settings=$PG_SETTINGS"
    echo "wrk_version=$(wrk -v 2>&1 | head -n 1)"
    echo "pgbench_version=$(pgbench --version)"
    echo "git_commit=$(git -C "$ROOT" rev-parse --short HEAD)"
    echo "git_dirty=$(git -C "$ROOT" status --porcelain -- src migrations Cargo.toml Cargo.lock | wc -l)"
    echo "kiln_binary_mtime=$(date -u -r "$KILN" +%Y-%m-%dT%H:%M:%SZ)"
    echo "duration_s=$DURATION"
    echo "warmup_s=$WARMUP"
    echo "clients=$CLIENTS"
    echo "workspaces=$WORKSPACES"
    echo "groups=$NGROUPS"
    echo "per_group=$PER_GROUP"
    echo "durable=$DURABLE"
    echo "seed_s=$SEED_S"
    echo "body_bytes=$BODY_BYTES"
    echo "get_bytes=$GET_BYTES"
    echo "list_bytes=$LIST_BYTES"
    echo "kiln_resources_size=$KILN_DB_SIZE"
    echo "raw_table_size=$RAW_DB_SIZE"
    echo "rss_start_kb=$RSS_START"
    echo "rss_seeded_kb=$RSS_SEEDED"
    echo "rss_end_kb=$RSS_END"
    echo "operations=$OPS"
    echo "put_rows=$PUT_ROWS"
    echo "drain_wait_s=$DRAIN_WAIT"
    echo "not_succeeded=$NONSUCCEEDED"
    echo "outbox_rows=$OUTBOX"
    echo "total_workspaces=$TOTAL_WS"
    echo "kiln_alive=$KILN_ALIVE"
    echo "kiln_log_warn_lines=$LOG_WARN"
    echo "command=bash bench/run.sh"
    for v in BENCH_DURATION BENCH_WARMUP BENCH_CLIENTS BENCH_WORKSPACES BENCH_GROUPS BENCH_DURABLE BENCH_BUILD; do
        [ -n "${!v:-}" ] && echo "env_$v=${!v}"
    done
} >"$RESULTS/facts.txt"

python3 "$BENCH_DIR/report.py" "$RESULTS" "$OUT"
log "wrote $OUT (raw outputs in $RESULTS) in $(($(date +%s) - START_EPOCH)) s"
