#!/usr/bin/env bash
# Stops or starts a cluster that scripts/pg-up.sh made, keeping its directory and port:
#
#   bash scripts/pg-ctl.sh DIR stop    # fast shutdown: open transactions roll back, clients drop
#   bash scripts/pg-ctl.sh DIR start   # returns once the server accepts connections
#
# The fault tests use it to take the database away under a running Kiln.
set -euo pipefail
dir=$1
action=$2
bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$bindir/pg_ctl" ] || bindir=$(dirname "$(command -v pg_ctl)")
run=()
if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
cd /
case "$action" in
stop) "${run[@]}" "$bindir/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null ;;
start) "${run[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null ;;
*) echo "pg-ctl: stop or start, not '$action'" >&2; exit 2 ;;
esac
