#!/usr/bin/env bash
# Runs the whole test suite (the README's test command). Extra arguments go to `dotnet test`.
# Where PostgreSQL 15 is installed and TRAINGUARD_TEST_PG is not set, one private cluster
# (scripts/pg-test-cluster.sh) serves every test assembly and is stopped at the end, unless it was
# already running. With TRAINGUARD_TEST_PG set (as .ci/run does) the cluster is the caller's.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TRAINGUARD_TEST_PG:-}" ] && [ -x "${PGBIN:-/usr/lib/postgresql/15/bin}/initdb" ]; then
  if bash scripts/pg-test-cluster.sh acquire $$; then
    trap 'bash scripts/pg-test-cluster.sh release $$' EXIT
    export "$(bash scripts/pg-test-cluster.sh env)"
  else
    echo "test.sh: could not start the PostgreSQL test cluster (the PostgreSQL tests will fail, not skip)" >&2
  fi
fi

dotnet test TrainGuard.slnx --nologo "$@"
