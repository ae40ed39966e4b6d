#!/usr/bin/env bash
# Start or stop a throwaway PostGIS cluster on 127.0.0.1 for tests and benchmarks.
#   scripts/postgis.sh start [DIR] [PORT] [DB]  -> prints the URL (postgresql://postgres@127.0.0.1:PORT/DB)
#   scripts/postgis.sh stop  [DIR]
# Needs root (to run as the postgres user) and Debian's postgresql-15-postgis-3 (scripts/setup.sh installs it).
set -euo pipefail
cmd=${1:-start}
dir=${2:-/tmp/gridmap-pg}
port=${3:-55432}
db=${4:-gridmap}
bin=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    fi
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 || \
      as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d "$db" -qtAc "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/$db"
    ;;
  stop)
    [ -f "$dir/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop [DIR] [PORT]" >&2; exit 2 ;;
esac
