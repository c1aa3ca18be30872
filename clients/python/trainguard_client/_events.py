"""Event construction: the `run-*` events of docs/events.md (ECS field names, UUIDv7 ids)."""

import json
import os
import random
import secrets
import socket
import sys
import time

try:
    import pwd
except ImportError:  # pragma: no cover - not on Linux
    pwd = None


_random = random.Random(secrets.randbits(128))  # seeded from the OS once; ids need uniqueness, not secrecy
_second = [None, ""]


def uuid7(seconds=None):
    """A UUIDv7 string: 48-bit millisecond timestamp, version 7, RFC 4122 variant, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if seconds is None else int(seconds * 1000)
    rand = _random.getrandbits(74)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    h = "%032x" % value
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def timestamp(seconds=None):
    """RFC 3339 UTC with three fractional digits."""
    ms = int((time.time() if seconds is None else seconds) * 1000)
    whole = ms // 1000
    if _second[0] != whole:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return _second[1] + ".%03dZ" % (ms % 1000)


def _user():
    uid = os.getuid() if hasattr(os, "getuid") else None
    name = None
    if pwd is not None and uid is not None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = None
    return name or os.environ.get("USER") or str(uid), uid


def run_identity(run_id=None, name=None):
    """`trainguard.run.{id,name,rank,world_size,local_rank}` from the arguments, torch.distributed or the environment."""
    rank, world = None, None
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            rank, world = dist.get_rank(), dist.get_world_size()
    except Exception:  # noqa: BLE001 - a broken process group must not stop training
        rank, world = None, None
    if rank is None:
        rank = _int_env("RANK", 0)
        world = _int_env("WORLD_SIZE", 1)
    run_id = run_id or os.environ.get("SLURM_JOB_ID") or os.environ.get("TORCHELASTIC_RUN_ID") or uuid7()
    return {
        "id": str(run_id),
        "name": name or str(run_id),
        "rank": rank,
        "world_size": world,
        "local_rank": _int_env("LOCAL_RANK", 0),
    }


def _int_env(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class EventFactory:
    """Makes the common envelope every `run-*` event carries."""

    def __init__(self, run):
        self.run = dict(run)
        self.host = socket.gethostname()
        self.user_name, self.user_id = _user()
        self.pid = os.getpid()
        self._step_prefix = None
        self._step_suffix = None

    def step_json(self, step, seconds):
        """The JSON text of a `run-step` event (the envelope encoded once per run; `step` is the trainguard.step object)."""
        if self._step_prefix is None:
            envelope = self.make("run-step", {}, seconds=0)
            envelope["trainguard"]["step"] = None
            text = _encode(envelope)
            head, self._step_suffix = text.split('"step":null', 1)
            self._step_prefix = head.split('"@timestamp":', 1)[1].split(",", 1)[1]
        return '{"id":"%s","@timestamp":"%s",%s"step":%s%s' % (
            uuid7(seconds), timestamp(seconds), self._step_prefix, _encode(step), self._step_suffix)

    def make(self, action, fields, kind="event", outcome=None, seconds=None):
        event = {
            "id": uuid7(seconds),
            "@timestamp": timestamp(seconds),
            "event": {"kind": kind, "module": "run", "dataset": "run", "action": action},
            "host": {"name": self.host},
            "user": {"name": self.user_name, "id": None if self.user_id is None else str(self.user_id)},
            "process": {"pid": self.pid},
            "trainguard": {"run": dict(self.run)},
        }
        if outcome is not None:
            event["event"]["outcome"] = outcome
        for key, value in fields.items():
            _merge(event, key.split("."), value)
        return event


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def encode(event):
    """One event as compact JSON text (NaN refused: the ledger refuses it)."""
    return _encode(event)


def _merge(target, path, value):
    for part in path[:-1]:
        target = target.setdefault(part, {})
    leaf = path[-1]
    if isinstance(value, dict) and isinstance(target.get(leaf), dict):
        target[leaf].update(value)
    else:
        target[leaf] = value
