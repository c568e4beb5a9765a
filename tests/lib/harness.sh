# Shared by the client compatibility tests (tests/sdk/run.sh, tests/az/run.sh):
# a cached Python venv, free loopback ports, a kiln server started, waited for
# and stopped. Source it; every function reports through the caller's `log`.

# harness_venv VENV REQUIREMENTS: (re)creates VENV from REQUIREMENTS. The stamp
# holds the requirements the venv was built from; a missing or different stamp
# (or a venv whose python no longer runs) means reinstall.
harness_venv() {
    local venv=$1 requirements=$2
    local stamp=$venv/.kiln-requirements
    if ! "$venv/bin/python" -c '' 2>/dev/null || ! cmp -s "$requirements" "$stamp"; then
        log "creating venv in $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        PIP_NO_INPUT=1 "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$stamp"
    fi
}

# harness_ports: sets http_port and https_port, two distinct free loopback
# ports (both sockets are held open together so the kernel cannot hand out
# the same port twice).
harness_ports() {
    read -r http_port https_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
')
}

# harness_wait_healthy URL PID: waits up to 60 s for URL/healthz to answer 200
# over TLS (-k: the CA file may not be written yet when the port opens; the
# clients themselves verify the certificate); fails when PID exits first.
harness_wait_healthy() {
    local base_url=$1 pid=$2
    local deadline=$((SECONDS + 60))
    until [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$base_url/healthz" || true)" = 200 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "kiln exited before becoming healthy"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "kiln not healthy on $base_url/healthz after 60 s"
            return 1
        fi
        sleep 0.2
    done
    log "kiln is healthy"
}

# harness_stop PID LOG OK: stops the server (a moment to shut down cleanly,
# then for sure) and, unless OK is 1, prints its LOG.
harness_stop() {
    local pid=$1 server_log=$2 ok=$3
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ "$ok" != 1 ] && [ -f "$server_log" ]; then
        echo "---- kiln server log ($server_log) ----" >&2
        cat "$server_log" >&2
        echo "---- end of kiln server log ----" >&2
    fi
}
