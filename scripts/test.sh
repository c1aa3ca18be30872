#!/usr/bin/env bash
# Runs the whole test suite (the README's test command). Extra arguments go to `dotnet test`.
set -uo pipefail
cd "$(dirname "$0")/.."
dotnet test TrainGuard.slnx --nologo "$@"
