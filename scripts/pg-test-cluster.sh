#!/usr/bin/env bash
# A private, throwaway PostgreSQL 15 cluster for the ledger store tests.
#   scripts/pg-test-cluster.sh start   initialise (first time) and start it, create the test database
#   scripts/pg-test-cluster.sh stop    stop it (the data directory is kept for the next start)
#   scripts/pg-test-cluster.sh env     print TRAINGUARD_TEST_PG=<Npgsql connection string>
#   scripts/pg-test-cluster.sh acquire PID   start it for process PID (a test run); release stops it
#   scripts/pg-test-cluster.sh release PID   when the last such process is gone and acquire started it:
#                                      a cluster started with `start` (as .ci/run does) keeps running
# Settings: PGBIN (default /usr/lib/postgresql/15/bin), TRAINGUARD_PG_PORT (55432),
# TRAINGUARD_PG_DIR (/tmp/trainguard-pg-test). Trust authentication on 127.0.0.1 only: tests, never production.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${TRAINGUARD_PG_PORT:-55432}
BASE=${TRAINGUARD_PG_DIR:-/tmp/trainguard-pg-test}
DATA="$BASE/data"
LOG="$BASE/postgres.log"
USERS="$BASE/users"          # one file per process that acquired the cluster, named by its pid
ACQUIRED="$BASE/acquired"    # present when acquire (not start) started the cluster
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

# One holder at a time (parallel test assemblies start it at once); reopening fd 9 would drop the lock.
lock() {
  [ -n "${locked:-}" ] && return 0
  mkdir -p "$BASE"
  exec 9>"$BASE.lock"
  flock 9
  locked=yes
}

start() {
  [ -x "$PGBIN/initdb" ] || { echo "pg-test-cluster: $PGBIN/initdb not found (install postgresql-15)" >&2; exit 2; }
  lock
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
  rm -rf "$ACQUIRED" "$USERS"
}

# Forgets users whose process is gone (a test host that was killed never releases).
prune_users() {
  local user
  for user in "$USERS"/*; do
    [ -e "$user" ] || continue
    [ -d "/proc/$(basename "$user")" ] || rm -f "$user"
  done
}

pid_argument() {
  case "${1:-}" in
    ''|*[!0-9]*) echo "pg-test-cluster: $2 needs the pid of the process that uses the cluster" >&2; exit 2 ;;
  esac
}

acquire() {
  pid_argument "${1:-}" acquire
  lock
  local was_running=""
  running && was_running=yes
  start
  if [ -z "$was_running" ]; then touch "$ACQUIRED"; fi
  mkdir -p "$USERS"
  touch "$USERS/$1"
}

release() {
  pid_argument "${1:-}" release
  lock
  rm -f "$USERS/$1"
  prune_users
  if [ -f "$ACQUIRED" ] && [ -z "$(ls -A "$USERS" 2>/dev/null)" ]; then
    stop
  fi
}

case "${1:-}" in
  start) start ;;
  stop) lock; stop ;;
  acquire) acquire "${2:-}" ;;
  release) release "${2:-}" ;;
  env) echo "TRAINGUARD_TEST_PG=Host=127.0.0.1;Port=$PORT;Username=postgres;Database=$DB" ;;
  *) echo "usage: $0 start|stop|env|acquire PID|release PID" >&2; exit 2 ;;
esac
