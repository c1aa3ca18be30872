#!/usr/bin/env bash
# Records the insider incident of tests/fixtures/audit/insider-incident/ under real Linux audit and a real
# sshd on this machine, then restores the machine.
#
#   sudo bash scripts/capture-audit.sh [--out DIR]      (default DIR: tests/fixtures/audit/insider-incident)
#
# The staged story (tests/fixtures/audit/README.md tells it with the recorded times):
#   lena (colleague) logs in over ssh with her own key and starts two training ranks and an eval job;
#   intern7 (insider) logs in with his own key, looks at lena's processes, tries to write into her
#   authorized_keys and to append a uid-0 line to /etc/passwd (both denied), then through sudo plants his
#   key in lena's authorized_keys (the comment claims to be lena's laptop), kills her rank 0 and creates a
#   uid-0 account; lena logs in again, kills her own stale eval job (benign) and restarts rank 0; intern7
#   logs in as lena with the planted key and kills both ranks.
#
# Needs root, a kernel that allows audit (auditctl -s), and: auditd, openssh-server, sudo, rsyslog
#   apt-get install -y auditd openssh-server sudo rsyslog
# plus the .NET SDK (for `trainguard agent audit-rules`; or set TRAINGUARD to a built trainguard binary).
#
# What it starts it stops, by pid: sshd (127.0.0.1:2222), rsyslogd (only when /dev/log is absent; else sshd
# logs with -E), auditd (only when no audit daemon runs; else the running daemon's log is sliced), and the
# accounts' processes. It removes the audit rules it added, the accounts (lena, intern7, sysbackup) and the
# sudoers entry, and restores the audit enabled flag and backlog limit.
#
# Output:
#   audit.log           the audit records of the incident (ENRICHED format), from the first login to the end
#   auth.log            the sshd/sudo/useradd syslog lines of the same span (RFC 3339 timestamps)
#   passwd, group       the staged accounts as /etc/passwd and /etc/group held them during the capture
#   audit.rules         the rules that were loaded (`trainguard agent audit-rules`)
#   scenario.json       accounts, uids, key fingerprints, target pids and the time of each step
# Only events of the staged accounts and of the capture's sshd are kept: the machine runs other work whose
# records (signals of build tools, for instance) are no part of the incident.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
out="$repo/tests/fixtures/audit/insider-incident"
raw=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --raw) raw=$(realpath -m "$2"); shift 2 ;;  # also keep the unfiltered audit slice there (to review the filter)
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "capture-audit: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "capture-audit: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (it adds accounts, audit rules and starts sshd)"
for tool in auditctl auditd /usr/sbin/sshd sudo ssh ssh-keygen useradd userdel setpriv ss /usr/bin/python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install -y auditd openssh-server sudo rsyslog)"
done
auditctl -s >/dev/null 2>&1 || die "the kernel refuses audit here (auditctl -s failed: no CAP_AUDIT_CONTROL?)"

PORT=${TG_CAPTURE_PORT:-2222}
COLLEAGUE=lena
INSIDER=intern7
BACKDOOR=sysbackup
COLLEAGUE_UID=2001
INSIDER_UID=2007
for name in "$COLLEAGUE" "$INSIDER" "$BACKDOOR"; do
  getent passwd "$name" >/dev/null && die "account $name exists already; remove it or run on another machine"
done
for uid in "$COLLEAGUE_UID" "$INSIDER_UID"; do
  getent passwd "$uid" >/dev/null && die "uid $uid is taken on this machine"
done
if ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; then die "port $PORT is in use (set TG_CAPTURE_PORT)"; fi

work=$(mktemp -d /tmp/tg-capture.XXXXXX)
chmod 755 "$work"

# ---- restore everything, whatever happened -------------------------------------------------------------
added_rules=()
audit_enabled_before=$(auditctl -s | awk '/^enabled/ {print $2}')
backlog_before=$(auditctl -s | awk '/^backlog_limit/ {print $2}')
sshd_pid="" rsyslog_pid="" auditd_pid="" made_run_sshd="" made_dev_log="" sudoers_file=""
cleanup() {
  set +e
  for user in "$COLLEAGUE" "$INSIDER"; do
    if id "$user" >/dev/null 2>&1; then
      for pid in $(pgrep -u "$user"); do kill -KILL "$pid" 2>/dev/null; done
    fi
  done
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
  [ -n "$rsyslog_pid" ] && kill "$rsyslog_pid" 2>/dev/null
  sleep 0.5
  [ -n "$made_dev_log" ] && rm -f /dev/log
  [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null
  for rule in "${added_rules[@]}"; do
    # shellcheck disable=SC2086  # a rule line is a list of auditctl arguments
    auditctl $rule >/dev/null 2>&1
  done
  auditctl -b "$backlog_before" >/dev/null 2>&1
  auditctl -e "$audit_enabled_before" >/dev/null 2>&1
  [ -n "$auditd_pid" ] && kill "$auditd_pid" 2>/dev/null
  [ -n "$sudoers_file" ] && rm -f "$sudoers_file"
  # sysbackup shares uid 0: userdel -f removes its passwd/shadow/subuid lines by name, nothing else.
  getent passwd "$BACKDOOR" >/dev/null && userdel -f "$BACKDOOR" 2>/dev/null
  for user in "$COLLEAGUE" "$INSIDER"; do
    id "$user" >/dev/null 2>&1 && userdel -r -f "$user" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "==> $*"; }

# ---- accounts, keys, the training job -------------------------------------------------------------------
step "adding accounts $COLLEAGUE ($COLLEAGUE_UID) and $INSIDER ($INSIDER_UID)"
useradd -m -u "$COLLEAGUE_UID" -s /bin/bash -c "Lena, research" "$COLLEAGUE"
useradd -m -u "$INSIDER_UID" -s /bin/bash -c "intern" "$INSIDER"
sudoers_file=/etc/sudoers.d/tg-capture-$INSIDER
# The insider was given root on the node to manage drivers; that is what made the incident possible.
echo "$INSIDER ALL=(ALL) NOPASSWD: ALL" >"$sudoers_file.tmp"
chmod 0440 "$sudoers_file.tmp"
mv "$sudoers_file.tmp" "$sudoers_file"

# setpriv, not runuser or su: it opens no PAM session, so the staging leaves no records of its own.
as() { local user=$1; shift; setpriv --reuid "$user" --regid "$user" --init-groups --reset-env -- "$@"; }
for user in "$COLLEAGUE" "$INSIDER"; do
  as "$user" mkdir -m 700 "/home/$user/.ssh"
  as "$user" ssh-keygen -q -t ed25519 -N "" -C "$user@workstation" -f "/home/$user/.ssh/id_ed25519"
  as "$user" cp "/home/$user/.ssh/id_ed25519.pub" "/home/$user/.ssh/authorized_keys"
  chmod 600 "/home/$user/.ssh/authorized_keys"
done
# The insider's second key, the one he plants: its comment claims to be the colleague's laptop.
as "$INSIDER" mkdir -p "/home/$INSIDER/.cache/.k"
as "$INSIDER" ssh-keygen -q -t ed25519 -N "" -C "$COLLEAGUE@laptop" -f "/home/$INSIDER/.cache/.k/id"

as "$COLLEAGUE" mkdir -p "/home/$COLLEAGUE/runs/llama-ft-7b"
cat >"/home/$COLLEAGUE/runs/train.py" <<'PY'
"""Stands in for one rank of a training job: writes a step line every second until it is stopped."""
import sys, time
args = sys.argv[1:]
log = open("rank%s.log" % args[args.index("--rank") + 1], "a", buffering=1)
step = 0
while True:
    step += 1
    log.write("step %d\n" % step)
    time.sleep(1)
PY
cp "/home/$COLLEAGUE/runs/train.py" "/home/$COLLEAGUE/runs/eval.py"
chown "$COLLEAGUE:$COLLEAGUE" "/home/$COLLEAGUE/runs/train.py" "/home/$COLLEAGUE/runs/eval.py"

# ---- sshd on 127.0.0.1 ------------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N "" -C capture-host -f "$work/ssh_host_ed25519_key"
for user in "$COLLEAGUE" "$INSIDER"; do
  echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$work/ssh_host_ed25519_key.pub")" >"/home/$user/.ssh/known_hosts"
  chown "$user:$user" "/home/$user/.ssh/known_hosts"
done
cat >"$work/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $work/ssh_host_ed25519_key
PidFile $work/sshd.pid
UsePAM yes
LogLevel VERBOSE
SyslogFacility AUTH
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $COLLEAGUE $INSIDER
AuthorizedKeysFile .ssh/authorized_keys
PrintMotd no
EOF
[ -d /run/sshd ] || { mkdir -m 755 /run/sshd; made_run_sshd=yes; }

syslog_mode=stderr
if [ ! -e /dev/log ] && command -v rsyslogd >/dev/null 2>&1; then
  cat >"$work/rsyslog.conf" <<EOF
global(workDirectory="$work")
module(load="imuxsock" SysSock.Name="/dev/log")
auth,authpriv.* action(type="omfile" file="$work/auth.log" template="RSYSLOG_FileFormat")
EOF
  rsyslogd -n -f "$work/rsyslog.conf" -i "$work/rsyslogd.pid" &
  rsyslog_pid=$!
  made_dev_log=yes
  for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
  [ -S /dev/log ] || die "rsyslogd did not create /dev/log"
  syslog_mode=rsyslog
fi

# ---- audit ------------------------------------------------------------------------------------------------
audit_pid=$(auditctl -s | awk '/^pid/ {print $2}')
if [ "$audit_pid" = 0 ]; then
  mkdir -p "$work/auditd"
  sed -e "s#^log_file = .*#log_file = $work/audit.log#" -e 's#^log_format = .*#log_format = ENRICHED#' \
      -e 's#^space_left_action = .*#space_left_action = ignore#' -e 's#^admin_space_left_action = .*#admin_space_left_action = ignore#' \
      -e 's#^disk_full_action = .*#disk_full_action = ignore#' -e 's#^disk_error_action = .*#disk_error_action = ignore#' \
      /etc/audit/auditd.conf >"$work/auditd/auditd.conf"
  chmod 640 "$work/auditd/auditd.conf"
  auditd -n -c "$work/auditd" &
  auditd_pid=$!
  audit_log="$work/audit.log"
  for _ in $(seq 50); do [ "$(auditctl -s | awk '/^pid/ {print $2}')" != 0 ] && break; sleep 0.1; done
  [ "$(auditctl -s | awk '/^pid/ {print $2}')" != 0 ] || die "auditd did not register with the kernel"
else
  audit_log=$(awk -F' *= *' '$1 == "log_file" {print $2}' /etc/audit/auditd.conf)
  echo "    an audit daemon runs already (pid $audit_pid): slicing $audit_log"
  [ "$(awk -F' *= *' '$1 == "log_format" {print $2}' /etc/audit/auditd.conf)" = ENRICHED ] \
    || echo "    warning: its log_format is not ENRICHED; names will be missing from the records"
fi

step "loading the agent's audit rules"
if [ -n "${TRAINGUARD:-}" ]; then
  "$TRAINGUARD" agent audit-rules >"$work/audit.rules"
else
  dotnet build src/TrainGuard.Cli --nologo -v quiet -o "$work/tg" >"$work/build.log" 2>&1 \
    || { grep -E 'error|Error' "$work/build.log" >&2 || cat "$work/build.log" >&2; die "building trainguard failed"; }
  "$work/tg/trainguard" agent audit-rules >"$work/audit.rules"
fi
grep -q -- "/home/$COLLEAGUE/.ssh" "$work/audit.rules" || die "the generated rules do not watch /home/$COLLEAGUE/.ssh"
while IFS= read -r rule; do
  case "$rule" in
    -a\ *) undo="-d ${rule#-a }" ;;
    -w\ *) undo="-W ${rule#-w }" ;;
    *) continue ;;
  esac
  # shellcheck disable=SC2086
  if auditctl $rule >/dev/null 2>&1; then added_rules+=("$undo"); fi
done <"$work/audit.rules"
auditctl -b 8192 >/dev/null
auditctl -e 1 >/dev/null
echo "    ${#added_rules[@]} rules added"

step "starting sshd on 127.0.0.1:$PORT (LogLevel VERBOSE, $syslog_mode)"
if [ "$syslog_mode" = rsyslog ]; then
  /usr/sbin/sshd -D -f "$work/sshd_config" &
else
  /usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/auth.log" &
fi
sshd_pid=$!
for _ in $(seq 50); do ss -ltn "sport = :$PORT" | grep -q LISTEN && break; sleep 0.1; done
ss -ltn "sport = :$PORT" | grep -q LISTEN || die "sshd did not listen on port $PORT"

# ---- the incident ------------------------------------------------------------------------------------------
sleep 1
audit_start=$(stat -c %s "$audit_log")
auth_start=$(stat -c %s "$work/auth.log" 2>/dev/null || echo 0)
steps="$work/steps.tsv"
: >"$steps"
mark() { printf '%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" >>"$steps"; step "$1"; }
# ssh_as CLIENT-ACCOUNT KEY LOGIN COMMAND: the ssh client runs as CLIENT-ACCOUNT with KEY and logs in as LOGIN,
# with a terminal (-tt) as an interactive login has one: only then does sshd write USER_LOGIN and utmp.
ssh_as() {
  local user=$1 key=$2 login=$3; shift 3
  timeout 60 setpriv --reuid "$user" --regid "$user" --init-groups --reset-env -- \
    ssh -tt -F /dev/null -p "$PORT" -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="/home/$user/.ssh/known_hosts" "$login@127.0.0.1" "$@"
}
own_key() { echo "/home/$1/.ssh/id_ed25519"; }
planted_key="/home/$INSIDER/.cache/.k/id"

mark "$COLLEAGUE logs in with her own key and starts ranks 0 and 1 of llama-ft-7b and an eval job"
ssh_as "$COLLEAGUE" "$(own_key "$COLLEAGUE")" "$COLLEAGUE" \
  'cd runs && for r in 0 1; do setsid nohup python3 train.py --run llama-ft-7b --rank $r </dev/null >/dev/null 2>&1 & done;
   setsid nohup python3 eval.py --run llama-ft-7b --rank 9 </dev/null >/dev/null 2>&1 & sleep 0.5; pgrep -u lena -a python3'
sleep 2
rank0=$(pgrep -u "$COLLEAGUE" -f -- '--rank 0$')
rank1=$(pgrep -u "$COLLEAGUE" -f -- '--rank 1$')
evaljob=$(pgrep -u "$COLLEAGUE" -f -- 'eval.py')

mark "$INSIDER logs in with his own key, lists $COLLEAGUE's processes, tries her authorized_keys and /etc/passwd (denied)"
ssh_as "$INSIDER" "$(own_key "$INSIDER")" "$INSIDER" \
  'ps -o pid,user,args -u lena; cat ~/.cache/.k/id.pub >> /home/lena/.ssh/authorized_keys;
   echo "sysbackup:x:0:0:backup:/root:/bin/bash" >> /etc/passwd; true' || true
sleep 2

mark "$INSIDER plants his key in $COLLEAGUE's authorized_keys with sudo, kills her rank 0, adds a uid-0 account"
ssh_as "$INSIDER" "$(own_key "$INSIDER")" "$INSIDER" \
  "cat ~/.cache/.k/id.pub | sudo tee -a /home/lena/.ssh/authorized_keys >/dev/null;
   sudo kill -TERM $rank0;
   sudo useradd -o -u 0 -g 0 -M -d /root -s /bin/bash -c backup $BACKDOOR"
sleep 2

mark "$COLLEAGUE logs in with her own key, kills her own stale eval job and restarts rank 0"
ssh_as "$COLLEAGUE" "$(own_key "$COLLEAGUE")" "$COLLEAGUE" \
  "kill -TERM $evaljob; cd runs; setsid nohup python3 train.py --run llama-ft-7b --rank 0 </dev/null >/dev/null 2>&1 & sleep 0.5"
sleep 2
rank0b=$(pgrep -u "$COLLEAGUE" -f -- '--rank 0$')

mark "$INSIDER logs in as $COLLEAGUE with the planted key and kills ranks 1 and 0"
ssh_as "$INSIDER" "$planted_key" "$COLLEAGUE" "kill -KILL $rank1; kill -KILL $rank0b"
sleep 2
mark "end"

# ---- collect ----------------------------------------------------------------------------------------------
sleep 2 # auditd and rsyslogd write asynchronously
mkdir -p "$out"
tail -c +"$((audit_start + 1))" "$audit_log" >"$work/audit.slice"
tail -c +"$((auth_start + 1))" "$work/auth.log" >"$work/auth.slice"
[ -z "$raw" ] || cp "$work/audit.slice" "$raw"
cp "$work/audit.rules" "$out/audit.rules"
getent passwd root "$COLLEAGUE" "$INSIDER" "$BACKDOOR" >"$out/passwd"
getent group root "$COLLEAGUE" "$INSIDER" >"$out/group"
fingerprint() { ssh-keygen -lf "$1" | awk '{print $2}'; }

/usr/bin/python3 - "$work" "$out" "$COLLEAGUE_UID" "$INSIDER_UID" "$sshd_pid" "$COLLEAGUE" "$INSIDER" "$BACKDOOR" \
  "$(fingerprint "/home/$COLLEAGUE/.ssh/id_ed25519.pub")" "$(fingerprint "/home/$INSIDER/.ssh/id_ed25519.pub")" \
  "$(fingerprint "$planted_key.pub")" "$rank0" "$rank1" "$evaljob" "$rank0b" "$(hostname)" <<'PY'
import json, re, sys
(work, out, c_uid, i_uid, sshd_pid, colleague, insider, backdoor, c_fp, i_fp, p_fp,
 rank0, rank1, evaljob, rank0b, host) = sys.argv[1:]

# Keep an event (all records of one audit serial) when it concerns a staged account or the capture's sshd.
uids = {c_uid, i_uid}
names = {colleague, insider, backdoor}
serial = re.compile(rb"msg=audit\((\d+\.\d+:\d+)\)")
field = re.compile(rb"\b(auid|uid|ouid|oauid|id|old-auid)=(\d+)")
acct = re.compile(rb"\bacct=\"?([^\" ]+)")
pidf = re.compile(rb"\b(pid|ppid|spid)=(\d+)")
exe = re.compile(rb"\bexe=\"([^\"]*)\"")
lines = open(f"{work}/audit.slice", "rb").read().splitlines(keepends=True)
if lines and not lines[-1].endswith(b"\n"):
    lines.pop()
events = {}
order = []
for line in lines:
    m = serial.search(line)
    key = m.group(1) if m else None
    if key not in events:
        events[key] = []
        order.append(key)
    events[key].append(line)

sshd_pids = {sshd_pid.encode()}
keep = set()
changed = True
while changed:  # sshd's session processes are children of the listener; follow pid/ppid from it
    changed = False
    for key in order:
        if key in keep:
            continue
        text = b"".join(events[key])
        pids = {m.group(2) for m in pidf.finditer(text)}
        mine = any(v.decode() in uids for _, v in field.findall(text)) \
            or any(a.decode() in names for a in acct.findall(text)) \
            or (pids & sshd_pids)
        if mine:
            keep.add(key)
            changed = True
            if any(e == b"/usr/sbin/sshd" for e in exe.findall(text)):
                sshd_pids |= {m.group(2) for m in pidf.finditer(text) if m.group(1) == b"pid"}
with open(f"{out}/audit.log", "wb") as f:
    for key in order:
        if key in keep:
            f.writelines(events[key])

auth = [l for l in open(f"{work}/auth.slice", "rb").read().splitlines(keepends=True) if l.endswith(b"\n")]
with open(f"{out}/auth.log", "wb") as f:
    f.writelines(auth)

steps = [dict(zip(("time", "step"), l.rstrip("\n").split("\t", 1))) for l in open(f"{work}/steps.tsv")]
scenario = {
    "host": host,
    "accounts": {
        colleague: {"uid": int(c_uid), "role": "colleague", "key": c_fp},
        insider: {"uid": int(i_uid), "role": "insider", "key": i_fp, "planted_key": p_fp,
                  "planted_in": f"/home/{colleague}/.ssh/authorized_keys"},
        backdoor: {"uid": 0, "role": "uid-0 account added by the insider"},
    },
    "processes": {
        "rank0": {"pid": int(rank0), "killed_by": insider, "how": "sudo kill -TERM (own login)"},
        "eval": {"pid": int(evaljob), "killed_by": colleague, "how": "kill -TERM (her own job)"},
        "rank1": {"pid": int(rank1), "killed_by": insider, "how": f"kill -KILL, logged in as {colleague} with the planted key"},
        "rank0_restarted": {"pid": int(rank0b), "killed_by": insider, "how": f"kill -KILL, logged in as {colleague} with the planted key"},
    },
    "steps": steps,
    "audit_records": sum(len(events[k]) for k in order if k in keep),
    "audit_events": len(keep),
    "audit_events_left_out": len(order) - len(keep),
    "auth_lines": len(auth),
}
with open(f"{out}/scenario.json", "w") as f:
    json.dump(scenario, f, indent=2)
    f.write("\n")
print(f"    audit.log: {scenario['audit_events']} events ({scenario['audit_records']} records), "
      f"{scenario['audit_events_left_out']} unrelated events left out; auth.log: {len(auth)} lines")
PY
step "written to ${out#"$repo"/}"
