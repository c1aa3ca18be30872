#!/usr/bin/env bash
# Quick-start demo: builds TrainGuard, scans the bundled demo checkpoints (a clean Hugging Face Trainer
# checkpoint and a poisoned copy of it, as in the 2024 reference attack), then checks a checkpoint whose
# optimizer was sabotaged (AdamW maximize flipped: every update goes uphill) against its run manifest.
# Needs only the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> building trainguard"
dotnet build src/TrainGuard.Cli -c Release --nologo -v quiet -o out/trainguard >/dev/null
tg=out/trainguard/trainguard

echo "==> trainguard scan samples/demo/runs"
set +e
"$tg" scan samples/demo/runs "$@"
code=$?
set -e
echo
echo "==> exit code $code (0 clean, 1 findings, 2 error) — the poisoned checkpoint is expected to give 1"

ckpt=tests/fixtures/ckpt
echo
echo "==> trainguard ckpt check $ckpt/tampered/maximize/checkpoint-6 --run $ckpt/run.yaml"
set +e
"$tg" ckpt check "$ckpt/tampered/maximize/checkpoint-6" --run "$ckpt/run.yaml"
code=$?
set -e
echo
echo "==> exit code $code — one byte of optimizer.pt (maximize=True) is expected to give 1"
echo "    compare: $tg ckpt check $ckpt/checkpoint-6 --run $ckpt/run.yaml   (clean, 0)"
exit 0
