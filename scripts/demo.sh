#!/usr/bin/env bash
# Quick-start demo: the insider incident, end to end, on this machine. Builds trainguard, starts a TrainGuard
# server on 127.0.0.1 (embedded SQLite in a temporary data directory), creates an agent token for each node and a
# responder token, ships the recorded attack (samples/incident: the agent's replay of real audit and sshd logs, a
# poisoned checkpoint found by the checkpoint watcher, an edited PyTorch optimizer found by env verify, a
# checkpoint whose optimizer was flipped found by ckpt check) as the nodes' agents would, then prints the alerts
# and the attacker's timeline, how to look further, and the dashboard's address. Needs only the .NET SDK.
#
#   bash scripts/demo.sh          the demo; at a terminal the server stays up for the dashboard until Enter, then it
#                                 is stopped and its data removed (at once when not run from a terminal)
#   bash scripts/demo.sh --keep   the same, but the server keeps running so the commands printed at the end work
#
# TRAINGUARD=PATH uses that trainguard instead of building one (the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    *) echo "demo.sh: unknown argument '$arg' (only --keep)" >&2; exit 2 ;;
  esac
done

build_log=$(mktemp)
work=$(mktemp -d "${TMPDIR:-/tmp}/trainguard-demo.XXXXXX")
server_pid=
cleanup() {
  rm -f "$build_log"
  if [ "$keep" = true ] && [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    return
  fi
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${TRAINGUARD:-}" ]; then
  tg=$TRAINGUARD
else
  echo "==> building trainguard"
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
fi

# The server and every command below use this data directory, never the user's own.
export TRAINGUARD_DATA_DIR="$work/data"
unset TRAINGUARD_TOKEN TRAINGUARD_CA

echo
echo "==> starting a TrainGuard server on 127.0.0.1 (SQLite in $TRAINGUARD_DATA_DIR)"
"$tg" server run --urls http://127.0.0.1:0 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
url=
for _ in $(seq 1 600); do
  url=$(sed -n 's/^trainguard server listening on \([^ ]*\).*/\1/p' "$work/server.out")
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "==> the server did not start:" >&2
    cat "$work/server.log" >&2
    server_pid=
    exit 2
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "==> the server did not start listening within 60 s:" >&2
  cat "$work/server.log" >&2
  exit 2
fi
echo "    listening on $url"

echo
echo "==> tokens: one agent token bound to each node, one responder token"
"$tg" server token create --role agent --host vm --label demo >"$work/vm.token"
"$tg" server token create --role agent --host gpu-node-2 --label demo >"$work/gpu-node-2.token"
"$tg" server token create --role responder --label "demo responder" >"$work/responder.token"
echo "    trainguard server token create --role agent --host vm > vm.token          (and gpu-node-2)"
echo "    trainguard server token create --role responder > responder.token"

echo
echo "==> the nodes' agents ship what they recorded during the attack (samples/incident, scripts/record-incident.sh)"
"$tg" agent ship samples/incident/vm.jsonl --host vm --server "$url" --token-file "$work/vm.token"
"$tg" agent ship samples/incident/gpu-node-2.jsonl --host gpu-node-2 --server "$url" --token-file "$work/gpu-node-2.token"

server=(--server "$url" --token-file "$work/responder.token")
# The server derives alerts right after each append: wait until their number stops changing (at most 15 s).
count() { "$tg" alerts list --status all -f json "${server[@]}" 2>/dev/null | grep -c '^      "id": "alt_' || true; }
previous=-1
for _ in $(seq 1 30); do
  now=$(count)
  if [ "$now" -gt 0 ] && [ "$now" -eq "$previous" ]; then break; fi
  previous=$now
  sleep 0.5
done

echo
echo "==> trainguard alerts list"
set +e
"$tg" alerts list "${server[@]}"
code=$?
set -e
[ "$code" -le 1 ] || exit "$code"

echo
echo "==> trainguard timeline --user intern7"
set +e
"$tg" timeline --user intern7 "${server[@]}"
code=$?
set -e
[ "$code" -le 1 ] || exit "$code"

first=$("$tg" alerts list --user intern7 -f json "${server[@]}" | sed -n 's/^ *"id": "\(alt_[^"]*\)".*/\1/p' | head -n 1 || true)
first=${first:-ALERT_ID}
echo
if [ "$keep" = true ]; then
  echo "==> look further: the server keeps running (pid $server_pid, data in $TRAINGUARD_DATA_DIR)"
else
  echo "==> look further (with the server below running: at a terminal until you press Enter, or with --keep)"
fi
cat <<EOF
    $tg alerts show $first --server $url --token-file $work/responder.token
        the evidence: contributing events with their ledger indexes, history, the rule's guidance
    $tg alerts ack $first --assignee you --note "looking" --server $url --token-file $work/responder.token
    $tg alerts close $first --classification tp --note "account disabled" --server $url --token-file $work/responder.token
        every status change is itself appended to the ledger (who, when, why)
    $tg timeline --host vm --server $url --token-file $work/responder.token
    $tg alerts list --status all -f json --server $url --token-file $work/responder.token
    docs/alerts.md: the responder's guide; docs/rules/TG-DET-*.md: what each alert means and what to do
    offline, no server: $tg scan samples/demo/runs; $tg ckpt check tests/fixtures/ckpt/tampered/maximize/checkpoint-6 --run tests/fixtures/ckpt/run.yaml
EOF

# The end: the dashboard over the same server. At a terminal the server stays up until Enter, so the address works;
# run by a script (no terminal) the server stops, unless --keep.
echo
echo "==> the dashboard: $url/dashboard"
echo "    log in with the responder token: $(head -n 1 "$work/responder.token")  (in $work/responder.token)"
if [ "$keep" = true ]; then
  echo "    the server keeps running; stop it: kill $server_pid && rm -rf $work"
elif [ -t 0 ] && [ -t 1 ]; then
  read -r -p "    open it now; press Enter to stop the server and remove its data " _ || true
else
  echo "    (the server is stopped now: 'bash scripts/demo.sh --keep' leaves it running)"
fi
