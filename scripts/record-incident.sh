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
# The events of the last three carry the time they were recorded. Their files sit at the node's paths
# (/mnt/shared/...) in a private mount namespace, owned by the accounts that wrote them (intern7 is uid 2007), so
# the events name each file's owner as the node's tools would. Needs root (unshare -m, chown) and the .NET SDK (it
# builds out/trainguard like demo.sh when TRAINGUARD does not name a trainguard to use).
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
# Recorded in a private mount namespace (unshare -m, as root) where the node's file system sits at the node's own
# paths: a tmpfs on /mnt holds the cluster's shared file system (/mnt/shared), and the node's passwd and group are
# bound over /etc/passwd and /etc/group. Nothing outside the namespace changes, and the events carry the paths and
# account names the node's agent, env verify and ckpt check would report there.
if [ "$(id -u)" -ne 0 ] || ! command -v unshare > /dev/null; then
  echo "record-incident: recording gpu-node-2 needs root and unshare (a private mount namespace; files owned by intern7)" >&2
  exit 2
fi
case "$(pwd)/" in /mnt/*) echo "record-incident: run from a checkout outside /mnt (the recording mounts a tmpfs there)" >&2; exit 2 ;; esac

node=$work/gpu-node-2
mkdir -p "$node/etc" "$node/state"
# The node's accounts: the cluster's people, before the insider added his uid-0 account on vm.
grep -v '^sysbackup:' "$capture/passwd" > "$node/etc/passwd"
cp "$capture/group" "$node/etc/group"
cat > "$node/agent.yaml" <<EOF2
host_name: gpu-node-2
snapshot_root: $node
auth_log: ~
checkpoints:
  folders:
    - /mnt/shared/checkpoints
  settle_seconds: 0
EOF2

TG="$tg" NODE="$node" OUT="$out" unshare -m --propagation private bash -euo pipefail -c '
mount -t tmpfs tg-incident /mnt
mount --bind "$NODE/etc/passwd" /etc/passwd
mount --bind "$NODE/etc/group" /etc/group
ckpts=/mnt/shared/checkpoints/llama-ft-7b
site=/mnt/shared/envs/torch-2.5/lib/python3.11/site-packages
resume=/mnt/shared/users/lena/llama-ft-7b
mkdir -p "$ckpts" "$(dirname "$site")" "$resume"
chown 2001:2001 /mnt/shared/users/lena "$resume"

# The agent first learns the node (its snapshot and the checkpoint folder); nothing is kept from that pass.
"$TG" agent run --once --config "$NODE/agent.yaml" --state-dir "$NODE/state" > /dev/null

# intern7 writes the poisoned checkpoint into the shared folder; the agent next pass finds it.
cp -r samples/demo/runs/poisoned/checkpoint-20 "$ckpts/"
chown -R 2007:2007 "$ckpts/checkpoint-20"
set +e
"$TG" agent run --once --config "$NODE/agent.yaml" --state-dir "$NODE/state" > "$OUT/gpu-node-2.jsonl"
code=$?
set -e
[ "$code" -eq 1 ] || { echo "record-incident: agent run --once exited $code, expected 1 (the poisoned checkpoint)" >&2; exit 2; }

# The cluster Python environment, where intern7 replaced torch/optim/adamw.py: the scheduled env verify finds it.
cp -r samples/env/edited-site-packages "$site"
chown 2007:2007 "$site/torch/optim/adamw.py"
set +e
"$TG" env verify --site "$site" --package torch --events "$OUT/gpu-node-2.jsonl" > /dev/null
code=$?
set -e
[ "$code" -eq 1 ] || { echo "record-incident: env verify exited $code, expected 1 (the edited adamw.py)" >&2; exit 2; }

# Lena checks the checkpoint she is about to resume from against her run manifest: its optimizer says maximize
# (intern7 replaced her optimizer.pt, so the new file is his).
cp -r tests/fixtures/ckpt/tampered/maximize/checkpoint-6 "$resume/"
cp tests/fixtures/ckpt/run.yaml "$resume/run.yaml"
chown -R 2001:2001 "$resume"
chown 2007:2007 "$resume/checkpoint-6/optimizer.pt"
set +e
"$TG" ckpt check "$resume/checkpoint-6" --run "$resume/run.yaml" --events "$OUT/gpu-node-2.jsonl" > /dev/null
code=$?
set -e
[ "$code" -eq 1 ] || { echo "record-incident: ckpt check exited $code, expected 1 (maximize=True)" >&2; exit 2; }
'

for f in "$out"/vm.jsonl "$out"/gpu-node-2.jsonl; do
  echo "$f: $(wc -l < "$f") events" >&2
done
