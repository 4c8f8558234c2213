#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on localhost for the test suite, from Debian's packages
# (installed here when missing). Prints the URL to use as PLACEMATCH_TEST_POSTGRES_URL.
# Usage: eval "$(.ci/postgres.sh start)"; ... ; .ci/postgres.sh stop
set -euo pipefail
PGPORT=${PGPORT:-54329}
PGDATA=${PGDATA_DIR:-/tmp/placematch-pg}

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

install_postgres() {
  if [ -z "$(pg_bin)" ]; then
    echo "installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

as_postgres() {
  # PostgreSQL refuses to run as root; Debian's package creates the 'postgres' user.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    install_postgres
    bin=$(pg_bin)
    if ! as_postgres "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
      rm -rf "$PGDATA"; mkdir -p "$PGDATA"
      [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
      as_postgres "$bin/initdb" -D "$PGDATA" -U placematch -A trust --no-sync >/dev/null
      as_postgres "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
        -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
      as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PGPORT" -U placematch placematch_test
    fi
    echo "export PLACEMATCH_TEST_POSTGRES_URL=postgresql+psycopg://placematch@127.0.0.1:$PGPORT/placematch_test"
    ;;
  stop)
    bin=$(pg_bin)
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
