#!/usr/bin/env bash
# Records the insider incident that scripts/demo.sh ships to a server, as the events each node's agent would
# send, into samples/incident/ (one JSON-lines file per node). Everything is made by trainguard's own tools:
#
#   vm.jsonl          agent replay of the real audit and sshd logs of tests/fixtures/audit/insider-incident
#                     (recorded by scripts/capture-audit.sh): intern7 plants his key in lena's authorized_keys
#                     with sudo, kills her rank 0, adds a uid-0 account, then logs in as lena with the planted
#                     key and kills her other ranks; lena kills her own stale job and logs in with her own key.
#   gpu-node-2.jsonl  on the training node: the agent's checkpoint watcher (agent run --once over a watched
#                     folder) finds the poisoned checkpoint of samples/demo/runs/poisoned in the shared
#                     checkpoint folder; env verify --events finds the edited torch/optim/adamw.py of
#                     samples/env/edited-site-packages; ckpt check --events finds the checkpoint whose
#                     optimizer was flipped to maximize (tests/fixtures/ckpt/tampered/maximize) against its
#                     run manifest, when lena checks it before resuming.
#
# The events of the last three carry the time they were recorded; their files sit in a temporary folder that
# stands for the node's file system (its path is in the events). Run from anywhere; needs only the .NET SDK
# (it builds out/trainguard like demo.sh when TRAINGUARD does not name a trainguard to use). As root, the
# poisoned checkpoint is written by uid 2007 (intern7), so the watcher's event names its owner as it would.
#
#   bash scripts/record-incident.sh            # rewrites samples/incident/*.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."

tg=${TRAINGUARD:-out/trainguard/trainguard}
if [ ! -x "$tg" ]; then
  echo "==> building trainguard into out/trainguard" >&2
  dotnet build src/TrainGuard.Cli -c Release --nologo -v quiet -o out/trainguard >&2
  tg=out/trainguard/trainguard
fi

capture=tests/fixtures/audit/insider-incident
out=samples/incident
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/tg-incident.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- vm: the real logs, replayed as the agent derives them (host vm, as the capture's sshd names it) ----------
"$tg" agent replay --audit "$capture/audit.log" --auth "$capture/auth.log" \
  --passwd "$capture/passwd" --group "$capture/group" --host vm > "$out/vm.jsonl"

# --- gpu-node-2: a training node with the shared checkpoint folder and the cluster's Python environment -------
node=$work/gpu-node-2
mkdir -p "$node/etc" "$node/shared/checkpoints/llama-ft-7b" "$node/state" "$node/home/lena/resume"
# The node's accounts: the cluster's people, before the insider added his uid-0 account on vm.
grep -v '^sysbackup:' "$capture/passwd" > "$node/etc/passwd"
cp "$capture/group" "$node/etc/group"
cat > "$node/agent.yaml" <<EOF
host_name: gpu-node-2
snapshot_root: $node
auth_log: ~
checkpoints:
  folders:
    - $node/shared/checkpoints
  settle_seconds: 0
EOF

# The agent's first pass only learns the node (its snapshot and the empty checkpoint folder); nothing is kept.
"$tg" agent run --once --config "$node/agent.yaml" --state-dir "$node/state" > /dev/null

# The insider writes the poisoned checkpoint into the shared folder; the agent's next pass finds it.
cp -r samples/demo/runs/poisoned/checkpoint-20 "$node/shared/checkpoints/llama-ft-7b/"
if [ "$(id -u)" -eq 0 ]; then
  chown -R 2007:2007 "$node/shared/checkpoints/llama-ft-7b/checkpoint-20"
fi
set +e
"$tg" agent run --once --config "$node/agent.yaml" --state-dir "$node/state" > "$out/gpu-node-2.jsonl"
code=$?
set -e
[ "$code" -eq 1 ] || { echo "record-incident: agent run --once exited $code, expected 1 (the poisoned checkpoint)" >&2; exit 2; }

# The node's Python environment, where torch/optim/adamw.py was edited: the scheduled env verify finds it.
site=$node/opt/conda/lib/python3.11/site-packages
mkdir -p "$(dirname "$site")"
cp -r samples/env/edited-site-packages "$site"
set +e
"$tg" env verify --site "$site" --package torch --events "$out/gpu-node-2.jsonl" > /dev/null
code=$?
set -e
[ "$code" -eq 1 ] || { echo "record-incident: env verify exited $code, expected 1 (the edited adamw.py)" >&2; exit 2; }

# Lena checks the checkpoint she is about to resume from against her run's manifest: its optimizer says maximize.
cp -r tests/fixtures/ckpt/tampered/maximize/checkpoint-6 "$node/home/lena/resume/"
cp tests/fixtures/ckpt/run.yaml "$node/home/lena/resume/run.yaml"
set +e
"$tg" ckpt check "$node/home/lena/resume/checkpoint-6" --run "$node/home/lena/resume/run.yaml" --events "$out/gpu-node-2.jsonl" > /dev/null
code=$?
set -e
[ "$code" -eq 1 ] || { echo "record-incident: ckpt check exited $code, expected 1 (maximize=True)" >&2; exit 2; }

for f in "$out"/vm.jsonl "$out"/gpu-node-2.jsonl; do
  echo "$f: $(wc -l < "$f") events" >&2
done
