#!/usr/bin/env bash
# A private, throwaway PostgreSQL 15 cluster for the ledger store tests.
#   scripts/pg-test-cluster.sh start   initialise (first time) and start it, create the test database
#   scripts/pg-test-cluster.sh stop    stop it (the data directory is kept for the next start)
#   scripts/pg-test-cluster.sh env     print TRAINGUARD_TEST_PG=<Npgsql connection string>
# Settings: PGBIN (default /usr/lib/postgresql/15/bin), TRAINGUARD_PG_PORT (55432),
# TRAINGUARD_PG_DIR (/tmp/trainguard-pg-test). Trust authentication on 127.0.0.1 only: tests, never production.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${TRAINGUARD_PG_PORT:-55432}
BASE=${TRAINGUARD_PG_DIR:-/tmp/trainguard-pg-test}
DATA="$BASE/data"
LOG="$BASE/postgres.log"
DB=trainguard_test

# initdb and postgres refuse to run as root: run them as the postgres account when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "'$PGBIN/pg_ctl' -D '$DATA' status" >/dev/null 2>&1
}

start() {
  [ -x "$PGBIN/initdb" ] || { echo "pg-test-cluster: $PGBIN/initdb not found (install postgresql-15)" >&2; exit 2; }
  mkdir -p "$BASE"
  exec 9>"$BASE.lock"
  flock 9
  if [ "$(id -u)" = 0 ]; then chown postgres "$BASE"; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    as_owner "'$PGBIN/initdb' -D '$DATA' -U postgres --auth=trust -E UTF8 --no-sync" >"$BASE/initdb.log" 2>&1 \
      || { cat "$BASE/initdb.log" >&2; exit 1; }
  fi
  if ! running; then
    # 9>&-: the server must not inherit (and hold forever) the lock descriptor or our output pipes.
    as_owner "'$PGBIN/pg_ctl' -D '$DATA' -l '$LOG' -w -t 60 -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1\" start" </dev/null >/dev/null 2>&1 9>&- \
      || { tail -n 30 "$LOG" >&2; exit 1; }
  fi
  if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE $DB" >/dev/null
  fi
}

stop() {
  if running; then
    as_owner "'$PGBIN/pg_ctl' -D '$DATA' -m fast -w stop" >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "TRAINGUARD_TEST_PG=Host=127.0.0.1;Port=$PORT;Username=postgres;Database=$DB" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
