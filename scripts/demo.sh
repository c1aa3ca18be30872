#!/usr/bin/env bash
# Quick-start demo: builds TrainGuard and scans the bundled demo checkpoints (a clean Hugging Face
# Trainer checkpoint and a poisoned copy of it, as in the 2024 reference attack). Needs only the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> building trainguard"
dotnet build src/TrainGuard.Cli -c Release --nologo -v quiet -o out/trainguard >/dev/null
echo "==> trainguard scan samples/demo/runs"
set +e
out/trainguard/trainguard scan samples/demo/runs "$@"
code=$?
set -e
echo
echo "==> exit code $code (0 clean, 1 findings, 2 error) — the poisoned checkpoint is expected to give 1"
exit 0
