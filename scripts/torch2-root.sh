#!/usr/bin/env bash
# A Debian testing root with Debian's python3-torch 2.x, python3-transformers and python3-accelerate (the Trainer
# needs it), for the Python training client's tests on torch 2.x (the machine's own Debian 12 has torch 1.13 only,
# and PyPI is not reachable).
#
#   scripts/torch2-root.sh build            make the root (once; 3 to 6 minutes and 1.4 GB from the Debian mirror)
#   scripts/torch2-root.sh path             print where the root is
#   scripts/torch2-root.sh check            exit 0 when the root is complete, else say what is missing (exit 1)
#   scripts/torch2-root.sh run [--bind DIR]... -- COMMAND [ARGS...]
#                                           run COMMAND inside the root with the current folder as working folder:
#                                           each DIR (and the current folder) is bound at the same path, read-write,
#                                           /proc is mounted; all of it in a private mount namespace that ends with
#                                           the command, so nothing stays mounted on the host
#
# The root is $TRAINGUARD_TORCH2_ROOT, default /var/tmp/trainguard-torch2. Needs root (debootstrap, chroot, unshare).
# Debian testing is used because it carries python3-transformers; the versions it installed are written to
# ROOT/trainguard-versions and printed by `build`.
set -euo pipefail

root=${TRAINGUARD_TORCH2_ROOT:-/var/tmp/trainguard-torch2}
mirror=${TRAINGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
stamp="$root/trainguard-versions"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

die() { echo "torch2-root: $*" >&2; exit 2; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and unshare need it)"; }

check() {
  if [ ! -f "$stamp" ]; then
    echo "torch2-root: $root is not built (run: bash scripts/torch2-root.sh build)" >&2
    return 1
  fi
}

build() {
  need_root
  if check 2>/dev/null; then
    echo "torch2-root: $root is ready"; cat "$stamp"; return 0
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "torch2-root: installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
      || die "could not install debootstrap"
  fi
  rm -rf "$root.partial"
  echo "torch2-root: debootstrap Debian testing into $root.partial (about a minute)"
  debootstrap --variant=minbase --include=python3 testing "$root.partial" "$mirror" >"$root.partial.log" 2>&1 \
    || { tail -20 "$root.partial.log" >&2; die "debootstrap failed (log: $root.partial.log)"; }
  echo "torch2-root: installing python3-torch, python3-transformers and python3-accelerate (about 2 minutes)"
  # The mirror may serve a snapshot whose Release file has expired: its signatures are still checked.
  local apt_opts="-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -q"
  # libssl and libicu let the host's .NET runtime (bound in by the tests) run the trainguard CLI inside the root.
  if ! chroot "$root.partial" /bin/sh -c "export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8;
        apt-get $apt_opts update >/dev/null &&
        icu=\$(apt-cache search --names-only '^libicu[0-9]+\$' | awk '{print \$1}' | sort -V | tail -1) &&
        apt-get $apt_opts install -y python3-torch python3-transformers python3-accelerate libssl3t64 \$icu >/dev/null &&
        apt-get clean" >>"$root.partial.log" 2>&1; then
    tail -20 "$root.partial.log" >&2
    die "installing the packages failed (log: $root.partial.log)"
  fi
  chroot "$root.partial" /usr/bin/python3 -c '
import sys, torch, transformers, accelerate
print("python %d.%d.%d" % sys.version_info[:3])
print("torch " + torch.__version__)
print("transformers " + transformers.__version__)
print("accelerate " + accelerate.__version__)' 2>/dev/null | grep -E '^(python|torch|transformers|accelerate) ' \
    >"$root.partial/trainguard-versions" || die "the root's python3 cannot import torch and transformers (log: $root.partial.log)"
  rm -rf "$root" "$root.partial.log"
  mv "$root.partial" "$root"
  echo "torch2-root: ready at $root"
  cat "$stamp"
}

run() {
  need_root
  check || exit 2
  local binds=("$(pwd)")
  while [ $# -gt 0 ]; do
    case "$1" in
      --bind) [ $# -ge 2 ] || die "--bind needs a folder"; [ -d "$2" ] || die "--bind $2: no such folder"
              binds+=("$(cd "$2" && pwd -P)"); shift 2 ;;
      --) shift; break ;;
      *) die "unknown option $1 (expected --bind DIR or -- COMMAND)" ;;
    esac
  done
  [ $# -gt 0 ] || die "no command given after --"
  # The mounts are made inside a new mount namespace (private propagation): they vanish with the command.
  local script='set -e; root=$1; shift; cwd=$1; shift; n=$1; shift
    mount -t proc proc "$root/proc"
    i=0; while [ $i -lt "$n" ]; do mkdir -p "$root$1"; mount --bind "$1" "$root$1"; shift; i=$((i+1)); done
    cd "$root$cwd"
    exec chroot "$root" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"'
  exec unshare --mount --propagation private /bin/sh -c "$script" sh "$root" "$(pwd -P)" "${#binds[@]}" "${binds[@]}" "$@"
}

case "${1:-}" in
  build) build ;;
  path) echo "$root" ;;
  check) check ;;
  run) shift; run "$@" ;;
  -h|--help|help) usage ;;
  "") usage; exit 2 ;;
  *) echo "torch2-root: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
