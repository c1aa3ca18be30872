#!/usr/bin/env bash
# Quick-start demo: builds TrainGuard, scans the bundled demo checkpoints (a clean Hugging Face Trainer
# checkpoint and a poisoned copy of it, as in the 2024 reference attack), then checks a checkpoint whose
# optimizer was sabotaged (AdamW maximize flipped: every update goes uphill) against its run manifest.
# Needs only the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> building trainguard"
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
status=0
dotnet build src/TrainGuard.Cli -c Release --nologo -v quiet -o out/trainguard >"$build_log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  # Say why: each distinct error line (file(line,col): error CODE: message), else the whole build output.
  echo "==> the build failed (exit $status):" >&2
  errors=$(grep -E '(^|: )error [A-Z]+[0-9]*' "$build_log" | sed 's/ \[[^]]*\.csproj\]$//' | sort -u || true)
  if [ -n "$errors" ]; then echo "$errors" >&2; else cat "$build_log" >&2; fi
  exit "$status"
fi
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
