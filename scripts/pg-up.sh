#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the tests, on loopback only.
#
#   eval "$(bash scripts/pg-up.sh)"   # executed: prints `export ...` lines on stdout
#   source scripts/pg-up.sh           # sourced: exports the variables into the caller
#
# Either way the caller gets:
#   KILN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/postgres
#   KILN_TEST_PG_DIR=DIR   (data dir, socket dir and server.log; stop with scripts/pg-down.sh DIR)
#
# Every run makes a new cluster in a new directory, so runs never share state.
# When sourced into a shell whose KILN_TEST_PG_DIR still has a running server,
# that server is reused instead, so sourcing twice does not leak a cluster.
# Progress goes to stderr so that stdout stays eval-able.

# All the work happens in a subshell: when this file is sourced, its `set -e`,
# traps and helper variables must not leak into the caller's shell.
_kiln_pg_up() (
    set -euo pipefail

    log() { echo "pg-up: $*" >&2; }

    # The server refuses to run as root, so root runs it as `postgres`.
    # `cd /` because the caller's cwd (e.g. /root) may be unreadable for postgres.
    as_postgres() {
        if [ "$(id -u)" = 0 ]; then
            (cd / && runuser -u postgres -- "$@")
        else
            (cd / && "$@")
        fi
    }

    # Prefer Debian's versioned server directory (newest version first); fall
    # back to whatever initdb is on PATH (this machine also has symlinks in
    # /usr/local/bin). Prints nothing when no server binaries exist.
    find_bindir() {
        local d
        d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
        elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
            dirname "$(command -v initdb)"
        fi
    }

    # Install the Debian package without letting it start a cluster of its own
    # (that one would listen on the default port and outlive the test run):
    # a policy-rc.d that exits 101 forbids service starts during the install.
    # A policy-rc.d that was already there (Docker images ship one) is kept.
    # A subshell function, so its EXIT trap restores the policy even when
    # apt-get fails and `set -e` ends the install early.
    install_postgres() (
        if [ "$(id -u)" != 0 ]; then
            log "PostgreSQL server binaries not found and not root: install package 'postgresql'"
            exit 1
        fi
        log "installing PostgreSQL (apt-get)"
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
        apt-get install -y -q --no-install-recommends postgresql </dev/null >&2
    )

    free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    }

    # Reuse: sourced again in the same shell while our server still runs.
    if [ -n "${KILN_TEST_PG_DIR:-}" ] && [ -n "${KILN_TEST_DATABASE_URL:-}" ] &&
        [ -f "${KILN_TEST_PG_DIR}/postmaster.pid" ]; then
        local_bindir=$(find_bindir)
        if [ -n "$local_bindir" ] && as_postgres "$local_bindir/pg_ctl" -D "$KILN_TEST_PG_DIR" status >/dev/null 2>&1; then
            log "reusing running cluster in $KILN_TEST_PG_DIR"
            printf 'export KILN_TEST_DATABASE_URL=%q\nexport KILN_TEST_PG_DIR=%q\n' \
                "$KILN_TEST_DATABASE_URL" "$KILN_TEST_PG_DIR"
            return 0
        fi
    fi

    bindir=$(find_bindir)
    if [ -z "$bindir" ]; then
        install_postgres
        bindir=$(find_bindir)
        [ -n "$bindir" ] || { log "no initdb/pg_ctl after installing postgresql"; exit 1; }
    fi
    log "using $("$bindir/pg_ctl" --version) from $bindir"

    # /tmp rather than $TMPDIR: the postgres user must be able to reach the
    # directory, and the unix socket path must stay short (limit ~107 bytes).
    dir=$(mktemp -d /tmp/kiln-pg.XXXXXX)
    started=0
    # On any failure below, take down what was started and remove the dir,
    # so a failed pg-up leaves nothing behind for the caller to clean up.
    # shellcheck disable=SC2317  # invoked by the trap
    cleanup_on_error() {
        local rc=$?
        if [ "$rc" != 0 ]; then
            [ -f "$dir/server.log" ] && sed 's/^/pg-up: server.log: /' "$dir/server.log" >&2
            [ "$started" = 1 ] && as_postgres "$bindir/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1
            rm -rf "$dir"
        fi
    }
    trap cleanup_on_error EXIT

    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"

    # trust auth is fine: the server listens on 127.0.0.1 and a socket in a
    # mode-700 directory only. --no-sync: a throwaway cluster needs no fsync.
    # (Output captured in a variable: initdb wants an empty directory.)
    if ! initdb_out=$(as_postgres "$bindir/initdb" -D "$dir" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync 2>&1); then
        echo "$initdb_out" >&2
        exit 1
    fi

    # The free port may be taken between probing and binding: try a few.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        # fsync/synchronous_commit off: durability is pointless for test data
        # and turning it off makes the many CREATE DATABASEs much faster.
        # max_connections: every test opens its own pool, and nextest runs
        # tests in parallel.
        cat >"$dir/kiln-test.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        grep -q "^include = 'kiln-test.conf'" "$dir/postgresql.conf" ||
            echo "include = 'kiln-test.conf'" >>"$dir/postgresql.conf"
        if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/kiln-test.conf"; fi

        if as_postgres "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
            started=1
            break
        fi
        log "start on port $port failed (attempt $attempt)"
        tail -n 5 "$dir/server.log" >&2 || true
    done
    [ "$started" = 1 ] || { log "could not start PostgreSQL"; exit 1; }

    # pg_ctl -w only says the postmaster is up; check that TCP on loopback answers.
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 30 ||
        { log "server not accepting TCP connections on 127.0.0.1:$port"; exit 1; }

    log "PostgreSQL ready on 127.0.0.1:$port (dir $dir)"
    printf 'export KILN_TEST_DATABASE_URL=%q\nexport KILN_TEST_PG_DIR=%q\n' \
        "postgres://postgres@127.0.0.1:$port/postgres" "$dir"
)

# `return` only succeeds when this file is being sourced.
if (return 0 2>/dev/null); then
    # Sourced: run, then export into the caller. Capture first so a failure
    # is not hidden by eval (which would return 0 on empty input).
    if _kiln_pg_up_out=$(_kiln_pg_up); then
        eval "$_kiln_pg_up_out"
        unset _kiln_pg_up_out
        unset -f _kiln_pg_up
    else
        unset _kiln_pg_up_out
        unset -f _kiln_pg_up
        return 1
    fi
else
    _kiln_pg_up
fi
