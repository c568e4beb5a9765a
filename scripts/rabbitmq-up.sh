#!/usr/bin/env bash
# Start a throwaway RabbitMQ node for the tests, on loopback only.
#
#   eval "$(bash scripts/rabbitmq-up.sh)"   # executed: prints `export ...` lines on stdout
#   source scripts/rabbitmq-up.sh           # sourced: exports the variables into the caller
#   KILN_RMQ_MANAGEMENT=1 ...               # also enable the management UI/API
#
# Either way the caller gets:
#   KILN_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:PORT/%2f
#   KILN_TEST_RMQ_DIR=DIR    (config, data, logs; stop with scripts/rabbitmq-down.sh DIR)
#   KILN_TEST_RMQ_NODE=kiln-XXXXXX@localhost
#   KILN_TEST_RMQ_MANAGEMENT_PORT=PORT   (only with KILN_RMQ_MANAGEMENT=1; user guest/guest)
#
# DIR/env holds the node's whole environment as KEY=VALUE lines without
# spaces, so the broker can be driven later, e.g. for broker-restart tests:
#
#   env $(cat "$KILN_TEST_RMQ_DIR/env") /usr/lib/rabbitmq/bin/rabbitmqctl -n "$KILN_TEST_RMQ_NODE" stop_app
#   env $(cat "$KILN_TEST_RMQ_DIR/env") /usr/lib/rabbitmq/bin/rabbitmqctl -n "$KILN_TEST_RMQ_NODE" start_app
#
# (From Rust: read DIR/env, split each line at the first '=', pass as .env().)
# Use /usr/lib/rabbitmq/bin/rabbitmqctl, not /usr/sbin/rabbitmqctl: as root the
# latter re-runs itself through `su rabbitmq`, which resets HOME and so loses
# the node's Erlang cookie.
#
# Every run makes a new node in a new directory, so runs never share state.
# When sourced into a shell whose KILN_TEST_RMQ_DIR still has a running node,
# that node is reused instead, so sourcing twice does not leak a node.
# Progress goes to stderr so that stdout stays eval-able.

# All the work happens in a subshell: when this file is sourced, its `set -e`,
# traps and helper variables must not leak into the caller's shell.
_kiln_rmq_up() (
    set -euo pipefail

    log() { echo "rabbitmq-up: $*" >&2; }

    rmq_bin=/usr/lib/rabbitmq/bin
    epmd=$(command -v epmd 2>/dev/null || echo /usr/lib/erlang/bin/epmd)

    port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

    # Install the Debian package without letting it start a node of its own
    # (that one would listen on all interfaces and outlive the test run):
    # a policy-rc.d that exits 101 forbids service starts during the install.
    # A policy-rc.d that was already there (Docker images ship one) is put
    # back byte-identical. A subshell function, so its EXIT trap restores the
    # policy even when apt-get fails and `set -e` ends the install early.
    install_rabbitmq() (
        if [ "$(id -u)" != 0 ]; then
            log "$rmq_bin/rabbitmq-server not found and not root: install package 'rabbitmq-server'"
            exit 1
        fi
        log "installing RabbitMQ (apt-get)"
        policy=/usr/sbin/policy-rc.d
        backup=""
        if [ -e "$policy" ]; then
            backup=$(mktemp)
            cp -p "$policy" "$backup"
        fi
        trap 'if [ -n "$backup" ]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi' EXIT
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q </dev/null >&2
        apt-get install -y -q --no-install-recommends rabbitmq-server </dev/null >&2
    )

    # Belt and braces after an install: where policy-rc.d is not honoured
    # (e.g. under systemd) the package starts a node on 0.0.0.0:5672 and an
    # epmd on all interfaces. The binary was missing until now, so any
    # listening beam.smp is the package's node, not another test run's.
    kill_package_node() {
        local pids
        pids=$(ss -ltnpH 2>/dev/null | awk '
            /"beam\.smp"/ { print }
            /"epmd"/ && $4 !~ /^(127\.|\[::1\]|\[::ffff:127\.)/ { print }' |
            grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | xargs || true)
        [ -n "$pids" ] || return 0
        log "stopping services the package started (pids $pids)"
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
        for _ in $(seq 30); do
            ps -p "${pids// /,}" >/dev/null || return 0
            sleep 1
        done
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    }

    # All ports at once, so they differ from each other. 35672-35682 are
    # left to the CLI tools, which listen there while they run.
    free_ports() {
        python3 - "$1" <<'EOF'
import socket, sys
socks, ports = [], []
while len(ports) < int(sys.argv[1]):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    p = s.getsockname()[1]
    if not 35672 <= p <= 35682:
        ports.append(p)
print(*ports)
EOF
    }

    # Reuse: sourced again in the same shell while our node still runs (and
    # has the management plugin if that is asked for now).
    if [ -n "${KILN_TEST_RMQ_DIR:-}" ] && [ -n "${KILN_TEST_AMQP_URL:-}" ] &&
        [ -n "${KILN_TEST_RMQ_NODE:-}" ] && [ -f "$KILN_TEST_RMQ_DIR/rabbit.pid" ] &&
        { [ "${KILN_RMQ_MANAGEMENT:-0}" != 1 ] || [ -n "${KILN_TEST_RMQ_MANAGEMENT_PORT:-}" ]; }; then
        old_port=$(sed -n 's/^RABBITMQ_NODE_PORT=//p' "$KILN_TEST_RMQ_DIR/env" 2>/dev/null || true)
        old_pid=$(cat "$KILN_TEST_RMQ_DIR/rabbit.pid" 2>/dev/null || true)
        if [ -n "$old_port" ] && [ -n "$old_pid" ] && kill -0 "$old_pid" 2>/dev/null &&
            port_open "$old_port"; then
            log "reusing running node $KILN_TEST_RMQ_NODE in $KILN_TEST_RMQ_DIR"
            printf 'export KILN_TEST_AMQP_URL=%q\nexport KILN_TEST_RMQ_DIR=%q\nexport KILN_TEST_RMQ_NODE=%q\n' \
                "$KILN_TEST_AMQP_URL" "$KILN_TEST_RMQ_DIR" "$KILN_TEST_RMQ_NODE"
            [ -z "${KILN_TEST_RMQ_MANAGEMENT_PORT:-}" ] ||
                printf 'export KILN_TEST_RMQ_MANAGEMENT_PORT=%q\n' "$KILN_TEST_RMQ_MANAGEMENT_PORT"
            return 0
        fi
    fi

    if [ ! -x "$rmq_bin/rabbitmq-server" ]; then
        t0=$SECONDS
        install_rabbitmq
        kill_package_node
        [ -x "$rmq_bin/rabbitmq-server" ] ||
            { log "no $rmq_bin/rabbitmq-server after installing rabbitmq-server"; exit 1; }
        log "installed in $((SECONDS - t0)) s"
    fi

    # /tmp rather than $TMPDIR: the rabbitmq user must be able to reach it.
    dir=$(mktemp -d /tmp/kiln-rmq.XXXXXX)
    # The mktemp suffix doubles as the node's random name: easy to match up.
    node="kiln-${dir##*.}@localhost"
    pgid=""
    # On any failure below, take down what was started and remove the dir,
    # so a failed rabbitmq-up leaves nothing behind for the caller to clean up.
    # shellcheck disable=SC2317  # invoked by the trap
    cleanup_on_error() {
        local rc=$?
        if [ "$rc" != 0 ]; then
            tail -n 30 "$dir/log/startup.log" 2>/dev/null | sed 's/^/rabbitmq-up: startup.log: /' >&2
            if [ -n "$pgid" ]; then
                # The node runs in its own session (setsid): end all of it.
                kill -TERM -- "-$pgid" 2>/dev/null || true
                for _ in $(seq 20); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.5; done
                kill -KILL -- "-$pgid" 2>/dev/null || true
                if [ -f "$dir/epmd-started-by-node" ] &&
                    ! ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -names 2>/dev/null | grep -q "^name "; then
                    ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -kill >/dev/null 2>&1 || true
                fi
            fi
            rm -rf "$dir"
        fi
    }
    trap cleanup_on_error EXIT

    read -r amqp_port dist_port mgmt_port <<<"$(free_ports 3)"

    # Everything the node and rabbitmqctl need, one KEY=VALUE per line (see
    # the header). HOME: the Erlang cookie is $HOME/.erlang.cookie, and it
    # must be ours, not the system node's. CONF_ENV_FILE/ADVANCED_CONFIG_FILE
    # point into DIR so nothing in /etc/rabbitmq can change this node (and
    # DIR/rabbitmq-env.conf keeps distribution on loopback, see below).
    # LC_ALL: the CLI (Elixir) warns about latin1 otherwise.
    cat >"$dir/env" <<EOF
HOME=$dir
LC_ALL=C.UTF-8
RABBITMQ_NODENAME=$node
RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
RABBITMQ_NODE_PORT=$amqp_port
RABBITMQ_DIST_PORT=$dist_port
ERL_EPMD_ADDRESS=127.0.0.1
RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
RABBITMQ_MNESIA_BASE=$dir/mnesia
RABBITMQ_LOG_BASE=$dir/log
RABBITMQ_PID_FILE=$dir/rabbit.pid
ERL_CRASH_DUMP=$dir/erl_crash.dump
EOF

    # guest may only log in from loopback, which is all this node listens on.
    echo "listeners.tcp.1 = 127.0.0.1:$amqp_port" >"$dir/rabbitmq.conf"
    if [ "${KILN_RMQ_MANAGEMENT:-0}" = 1 ]; then
        echo '[rabbitmq_management].' >"$dir/enabled_plugins"
        printf 'management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = %s\n' "$mgmt_port" >>"$dir/rabbitmq.conf"
    else
        echo '[].' >"$dir/enabled_plugins"
    fi
    # RABBITMQ_NODE_IP_ADDRESS binds AMQP only: Erlang distribution (the
    # node's, and the CLI's while it runs) would listen on 0.0.0.0. The
    # server and the CLI both source this file, and it keeps the spaces out
    # of DIR/env.
    cat >"$dir/rabbitmq-env.conf" <<'EOF'
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
    mkdir "$dir/mnesia" "$dir/log"

    # Write the cookie before anything starts: otherwise whichever of node and
    # CLI comes first creates it, and a root-owned 0400 cookie locks the node out.
    tr -dc '[:upper:]' </dev/urandom 2>/dev/null | head -c 20 >"$dir/.erlang.cookie" || true
    chmod 400 "$dir/.erlang.cookie"
    if [ "$(id -u)" = 0 ]; then
        chown -R rabbitmq: "$dir"
    fi

    # If no epmd answers now, the node will start one: down must then stop it.
    if ! ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -names >/dev/null 2>&1; then
        touch "$dir/epmd-started-by-node"
    fi

    # Root runs the node as `rabbitmq` (the files it creates must belong to
    # that user; runuser resets HOME, hence `env` after it). `cd /` because the
    # caller's cwd may be unreadable for that user.
    run_as=()
    if [ "$(id -u)" = 0 ]; then run_as=(runuser -u rabbitmq --); fi

    t0=$SECONDS
    # setsid: own session, so a Ctrl-C aimed at the test run does not kill the
    # broker under its cleanup, and a failed start can end the whole group.
    # `exec` makes setsid run as $! (not a group leader, so it does not fork):
    # $! is then the session and process group id.
    # Output to a file: an inherited stdout would keep `$(rabbitmq-up.sh)` open.
    # shellcheck disable=SC2046
    (cd / && exec setsid "${run_as[@]}" env $(cat "$dir/env") "$rmq_bin/rabbitmq-server") \
        >"$dir/log/startup.log" 2>&1 </dev/null &
    pgid=$!

    # The CLI runs as the caller, like the tests will: proves DIR/env suffices.
    # `wait` sits out its whole timeout if the node dies before writing its
    # pid file (a bad config does that), so watch the node meanwhile.
    # shellcheck disable=SC2046  # DIR/env is KEY=VALUE words by design
    (cd / && exec env $(cat "$dir/env") "$rmq_bin/rabbitmqctl" -n "$node" \
        wait --timeout 120 "$dir/rabbit.pid") >"$dir/wait.log" 2>&1 </dev/null &
    waiter=$!
    while kill -0 "$waiter" 2>/dev/null && kill -0 "$pgid" 2>/dev/null; do sleep 0.2; done
    if ! kill -0 "$pgid" 2>/dev/null; then
        kill "$waiter" 2>/dev/null || true
        wait "$waiter" 2>/dev/null || true
        log "rabbitmq-server exited during start"
        exit 1
    fi
    if ! wait "$waiter"; then
        cat "$dir/wait.log" >&2
        log "node $node did not come up"
        exit 1
    fi
    # `wait` returns once the app is booted; listeners are up by then, but check.
    port_open "$amqp_port" || { log "AMQP port 127.0.0.1:$amqp_port not accepting connections"; exit 1; }
    log "RabbitMQ node $node ready on 127.0.0.1:$amqp_port in $((SECONDS - t0)) s (dir $dir)"

    printf 'export KILN_TEST_AMQP_URL=%q\nexport KILN_TEST_RMQ_DIR=%q\nexport KILN_TEST_RMQ_NODE=%q\n' \
        "amqp://guest:guest@127.0.0.1:$amqp_port/%2f" "$dir" "$node"
    if [ "${KILN_RMQ_MANAGEMENT:-0}" = 1 ]; then
        port_open "$mgmt_port" || { log "management port 127.0.0.1:$mgmt_port not accepting connections"; exit 1; }
        printf 'export KILN_TEST_RMQ_MANAGEMENT_PORT=%q\n' "$mgmt_port"
    fi
)

# `return` only succeeds when this file is being sourced.
if (return 0 2>/dev/null); then
    # Sourced: run, then export into the caller. Capture first so a failure
    # is not hidden by eval (which would return 0 on empty input).
    if _kiln_rmq_up_out=$(_kiln_rmq_up); then
        eval "$_kiln_rmq_up_out"
        unset _kiln_rmq_up_out
        unset -f _kiln_rmq_up
    else
        unset _kiln_rmq_up_out
        unset -f _kiln_rmq_up
        return 1
    fi
else
    _kiln_rmq_up
fi
