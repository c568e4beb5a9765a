#!/usr/bin/env bash
# Stop a cluster started by scripts/pg-up.sh and delete its directory.
#
#   bash scripts/pg-down.sh DIR      (DIR defaults to $KILN_TEST_PG_DIR)
#
# Safe to call more than once, or for a cluster that never started: a missing
# directory or a stopped server is not an error.
set -euo pipefail

dir=${1:-${KILN_TEST_PG_DIR:-}}
if [ -z "$dir" ]; then
    echo "usage: $0 DIR (or set KILN_TEST_PG_DIR)" >&2
    exit 2
fi
[ -d "$dir" ] || exit 0

# Guard the rm -rf below: only touch directories that pg-up.sh made.
case "$(basename "$dir")" in
kiln-pg.*) ;;
*)
    echo "pg-down: refusing to remove $dir (not a kiln-pg.* directory)" >&2
    exit 2
    ;;
esac

# Same binary choice as pg-up.sh: newest Debian server dir, else PATH.
bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    bindir=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
fi

if [ -f "$dir/postmaster.pid" ]; then
    # The server runs as postgres and pg_ctl refuses to run as root.
    if [ "$(id -u)" = 0 ]; then
        run=(runuser -u postgres --)
    else
        run=()
    fi
    # -m fast: roll back open transactions and disconnect clients now rather
    # than waiting for test connection pools to go away.
    if ! (cd / && "${run[@]}" "$bindir/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null 2>&1); then
        # Not running any more (stale pid file), or stuck: make sure it is gone.
        pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            echo "pg-down: fast stop failed, sending SIGQUIT to $pid" >&2
            kill -QUIT "$pid" 2>/dev/null || true
            sleep 1
        fi
    fi
fi

rm -rf "$dir"
