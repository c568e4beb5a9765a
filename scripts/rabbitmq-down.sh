#!/usr/bin/env bash
# Stop a node started by scripts/rabbitmq-up.sh and delete its directory.
#
#   bash scripts/rabbitmq-down.sh DIR      (DIR defaults to $KILN_TEST_RMQ_DIR)
#
# Safe to call more than once, or for a node that never started: a missing
# directory or a stopped node is not an error.
set -euo pipefail

dir=${1:-${KILN_TEST_RMQ_DIR:-}}
if [ -z "$dir" ]; then
    echo "usage: $0 DIR (or set KILN_TEST_RMQ_DIR)" >&2
    exit 2
fi
[ -d "$dir" ] || exit 0

# Guard the rm -rf below: only touch directories that rabbitmq-up.sh made.
case "$(basename "$dir")" in
kiln-rmq.*) ;;
*)
    echo "rabbitmq-down: refusing to remove $dir (not a kiln-rmq.* directory)" >&2
    exit 2
    ;;
esac

epmd=$(command -v epmd 2>/dev/null || echo /usr/lib/erlang/bin/epmd)
pid=$(cat "$dir/rabbit.pid" 2>/dev/null || true)

if [ -f "$dir/env" ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    node=$(sed -n 's/^RABBITMQ_NODENAME=//p' "$dir/env")
    # `stop PIDFILE` returns only once the OS process is gone. Same env as
    # the node (cookie in DIR), hence the direct CLI path (see rabbitmq-up.sh).
    # shellcheck disable=SC2046
    if ! (cd / && env $(cat "$dir/env") /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" \
        stop "$dir/rabbit.pid" >/dev/null 2>&1); then
        # Unreachable (broken cookie, stuck node): make sure it is gone.
        echo "rabbitmq-down: rabbitmqctl stop failed, killing $pid" >&2
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
fi

# rabbitmq-up.sh recorded whether our node had to start epmd. While other
# nodes still use it, leave it running and hand the record on to another
# test run's node (kiln-X lives in /tmp/kiln-rmq.X), whose down stops it.
if [ -f "$dir/epmd-started-by-node" ]; then
    names=$(ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -names 2>/dev/null | sed -n 's/^name \([^ ]*\) at port .*/\1/p')
    if [ -z "$names" ]; then
        ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -kill >/dev/null 2>&1 || true
    else
        for name in $names; do
            heir=/tmp/kiln-rmq.${name#kiln-}
            if [ "$name" != "${name#kiln-}" ] && [ -f "$heir/env" ]; then
                touch "$heir/epmd-started-by-node"
                break
            fi
        done
    fi
fi

rm -rf "$dir"
