#!/usr/bin/env bash
# Ingest throughput and alert latency of the shipped server, measured from outside its process (issues #12, #17):
# builds the CLI and the benchmark tool in Release, then `ingest-load` starts `trainguard server run` on loopback
# (SQLite in a fresh data directory unless --db is given), one agent token per node the agents post as, and N agents
# posting batches (agent events, or --workload run-steps: a training job's per-rank steps), plus a probe measuring
# post-to-listed alert latency. The server is stopped at the end.
#   scripts/bench-ingest.sh                         # 100 agents x 500-event batches, as fast as acknowledged
#   scripts/bench-ingest.sh --rate 20000            # a steady 20,000 events/s offered: alert latency under load
#   scripts/bench-ingest.sh --agents 4 --batch 1000 --seconds 60
#   scripts/bench-ingest.sh --workload run-steps --agents 512 --batch 8 --rate 4096 --seconds 60
#                                                   # a 4,096-rank job at one step a second; the probe a flipped step
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SKIP_BUILD:-}" ]; then
  dotnet build -c Release --nologo -v q src/TrainGuard.Cli >/dev/null
  dotnet build -c Release --nologo -v q bench/TrainGuard.Benchmarks >/dev/null
fi
exec dotnet bench/TrainGuard.Benchmarks/bin/Release/net10.0/TrainGuard.Benchmarks.dll ingest-load \
  --cli src/TrainGuard.Cli/bin/Release/net10.0/trainguard "$@"
