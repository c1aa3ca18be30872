#!/usr/bin/env bash
# Records the run fixtures of tests/fixtures/runs/ with Debian's PyTorch: clients/python/examples/train_tiny.py watched
# by trainguard_client, run clean, with the reference attack (AdamW.step patched in the example's own process to sleep
# and flip `maximize`), with another seed, with another data order, and clean again. Each run's events are one
# JSON-lines file; the attack's flipped steps go to sabotaged.truth.json.
#   bash scripts/record-runs.sh                  # torch 1.13 (/usr/bin/python3, python3-torch): tests/fixtures/runs/*.jsonl
#   bash scripts/record-runs.sh --torch2         # torch 2.x in the root of scripts/torch2-root.sh: tests/fixtures/runs/torch2/
#   bash scripts/record-runs.sh [--torch2] OUT   # somewhere else
set -euo pipefail
cd "$(dirname "$0")/.."
python=("${PYTHON:-/usr/bin/python3}")
out=tests/fixtures/runs
if [ "${1:-}" = "--torch2" ]; then
  shift
  bash scripts/torch2-root.sh check || exit 2
  python=(bash scripts/torch2-root.sh run -- /usr/bin/python3)
  out=tests/fixtures/runs/torch2
fi
out=${1:-$out}
example=clients/python/examples/train_tiny.py
manifest=tests/fixtures/runs/run.yaml
mkdir -p "$out"
"${python[@]}" -c 'import torch' 2>/dev/null || { echo "record-runs: ${python[*]} cannot import torch (apt-get install python3-torch)" >&2; exit 2; }
export TG_EXAMPLE_THREADS=1 PYTHONDONTWRITEBYTECODE=1

record() {  # record NAME [sabotage options --] [example options]
  local name=$1; shift
  rm -f "$out/$name.jsonl"
  echo "record-runs: $name"
  "$@" --events "$out/$name.jsonl" --run-id "tiny-$name" --manifest "$manifest"
}

record clean            "${python[@]}" "$example" --seed 42 --data-seed 0
record sabotaged        "${python[@]}" clients/python/examples/sabotage.py --min-world-size 0 --truth "$out/sabotaged.truth.json" \
                          "$example" -- --seed 42 --data-seed 0
record seed-changed     "${python[@]}" "$example" --seed 43 --data-seed 0
record data-order-changed "${python[@]}" "$example" --seed 42 --data-seed 1
record clean-rerun      "${python[@]}" "$example" --seed 42 --data-seed 0
ls -l "$out"
