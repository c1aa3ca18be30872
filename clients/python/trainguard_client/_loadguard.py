"""The load guard: a checkpoint is scanned by `trainguard scan` and loaded only when the scan says clean.

`guarded_load(path, **kwargs)` scans, refuses anything whose verdict is not `clean` (the scanner's first finding in
the exception), then calls `torch.load` on the very file it scanned (opened before the scan; its inode, size and
change time compared after). `install_load_guard()` puts the same check in front of `torch.load` (and of
`transformers.modeling_utils.load_state_dict` when transformers is importable) for the whole process.
A missing `trainguard` executable, a scan that fails or output that is not the scanner's JSON is an error, never a pass.
"""

import functools
import io
import json
import os
import shutil
import subprocess
import tempfile

DEFAULT_TIMEOUT = 600.0


class LoadRefused(Exception):
    """The scanner did not find the file clean; `verdict`, `findings` and `report` carry what it said."""

    def __init__(self, path, verdict, findings, report):
        self.path = path
        self.verdict = verdict
        self.findings = findings
        self.report = report
        first = findings[0] if findings else None
        reason = _describe_finding(first) if first else "no finding given"
        super().__init__("trainguard refused to load %s: scan verdict %s: %s" % (path, verdict, reason))


class ScanUnavailable(RuntimeError):
    """The scan could not be run or its answer could not be read: nothing is loaded."""


def _describe_finding(finding):
    where = finding.get("file") or ""
    if finding.get("member"):
        where += " member " + str(finding["member"])
    if finding.get("offset") is not None:
        where += " at offset %s" % finding["offset"]
    return "%s (%s) %s [%s]" % (finding.get("rule"), finding.get("severity"), finding.get("message"), where.strip())


def trainguard_executable():
    """`$TRAINGUARD_BIN`, else `trainguard` on PATH; ScanUnavailable when neither exists."""
    configured = os.environ.get("TRAINGUARD_BIN")
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise ScanUnavailable("TRAINGUARD_BIN=%s is not an executable file: nothing was loaded" % configured)
    found = shutil.which("trainguard")
    if not found:
        raise ScanUnavailable("the trainguard executable was not found (set TRAINGUARD_BIN or put trainguard on PATH): nothing was loaded")
    return found


def scan(path, profile=None, allow=(), timeout=DEFAULT_TIMEOUT):
    """Runs `trainguard scan PATH --format json` and returns its report (a dict)."""
    command = [trainguard_executable(), "scan", os.fspath(path), "--format", "json", "--no-progress"]
    if profile:
        command += ["--profile", profile]
    for name in allow:
        command += ["--allow", name]
    try:
        completed = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ScanUnavailable("trainguard scan %s could not run: %s: nothing was loaded" % (path, error)) from error
    try:
        report = json.loads(completed.stdout.decode("utf-8"))
        verdict = report["verdict"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        stderr = completed.stderr.decode("utf-8", "replace").strip()[-500:]
        raise ScanUnavailable("trainguard scan %s exited %d without a JSON report (%s): nothing was loaded" % (
            path, completed.returncode, stderr or error)) from error
    if not isinstance(verdict, str):
        raise ScanUnavailable("trainguard scan %s: the report's verdict is not a string: nothing was loaded" % path)
    return report


def check(path, profile=None, allow=(), timeout=DEFAULT_TIMEOUT):
    """Scans the path; returns the report when its verdict is clean, raises LoadRefused otherwise."""
    report = scan(path, profile=profile, allow=allow, timeout=timeout)
    if report["verdict"] != "clean":
        findings = [f for item in report.get("files", []) if isinstance(item, dict) for f in item.get("findings", []) or []]
        if not findings:
            findings = [{"rule": None, "severity": None, "message": "%s: %s" % (item.get("path"), item.get("verdict")), "file": item.get("path")}
                        for item in report.get("files", []) if isinstance(item, dict) and item.get("verdict") != "clean"]
        _report_refusal(path, report["verdict"], findings)
        raise LoadRefused(os.fspath(path), report["verdict"], findings, report)
    return report


def guarded_load(path, *args, profile=None, allow=(), scan_timeout=DEFAULT_TIMEOUT, **kwargs):
    """`torch.load(path, ...)` after `trainguard scan` found the file or folder clean."""
    import torch

    load = getattr(torch.load, "_trainguard_original", torch.load)
    if isinstance(path, (str, bytes, os.PathLike)):
        path = os.fsdecode(path)
        if os.path.isdir(path):
            check(path, profile, allow, scan_timeout)
            return load(path, *args, **kwargs)
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            check(path, profile, allow, scan_timeout)
            after = os.stat(path)
            if (before.st_ino, before.st_dev, before.st_size, before.st_mtime_ns, before.st_ctime_ns) != \
                    (after.st_ino, after.st_dev, after.st_size, after.st_mtime_ns, after.st_ctime_ns):
                raise LoadRefused(path, "changed", [{"rule": "TG-RUN-010", "severity": "critical",
                                                     "message": "the file changed while it was scanned", "file": path}], None)
            return load(handle, *args, **kwargs)
    # A file object: its bytes are written to a private temporary file, scanned, and loaded from memory.
    data = path.read()
    with tempfile.TemporaryDirectory(prefix="trainguard-load-") as folder:
        copy = os.path.join(folder, "checkpoint.pt")
        with open(copy, "wb") as handle:
            handle.write(data)
        check(copy, profile, allow, scan_timeout)
    return load(io.BytesIO(data), *args, **kwargs)


def install_load_guard(profile=None, allow=(), scan_timeout=DEFAULT_TIMEOUT):
    """Wraps `torch.load` (and transformers' `load_state_dict` when importable) for this process; returns what it wrapped."""
    import torch

    trainguard_executable()  # fail now, not at the first load, when the scanner is missing
    wrapped = []
    if not hasattr(torch.load, "_trainguard_original"):
        original = torch.load

        @functools.wraps(original)
        def load(f, *args, **kwargs):
            return guarded_load(f, *args, profile=profile, allow=allow, scan_timeout=scan_timeout, **kwargs)

        load._trainguard_original = original
        torch.load = load
        wrapped.append("torch.load")
    try:
        import transformers.modeling_utils as modeling_utils  # optional: only when installed
    except Exception:  # noqa: BLE001 - not installed or broken: nothing to wrap
        modeling_utils = None
    if modeling_utils is not None and hasattr(modeling_utils, "load_state_dict") and \
            not hasattr(modeling_utils.load_state_dict, "_trainguard_original"):
        original_hf = modeling_utils.load_state_dict

        @functools.wraps(original_hf)
        def load_state_dict(checkpoint_file, *args, **kwargs):
            check(checkpoint_file, profile, allow, scan_timeout)
            return original_hf(checkpoint_file, *args, **kwargs)

        load_state_dict._trainguard_original = original_hf
        modeling_utils.load_state_dict = load_state_dict
        wrapped.append("transformers.modeling_utils.load_state_dict")
    return wrapped


def uninstall_load_guard():
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch.load, "_trainguard_original"):
        torch.load = torch.load._trainguard_original
    modeling_utils = sys.modules.get("transformers.modeling_utils")
    if modeling_utils is not None and hasattr(getattr(modeling_utils, "load_state_dict", None), "_trainguard_original"):
        modeling_utils.load_state_dict = modeling_utils.load_state_dict._trainguard_original


def _report_refusal(path, verdict, findings):
    """A `run-load-refused` event to the active run's destination, else to $TRAINGUARD_EVENTS_FILE when set."""
    from . import _events, _watch

    fields = {
        "file.path": os.path.abspath(os.fspath(path)),
        "trainguard.scan": {"verdict": verdict, "findings": findings[:20]},
        "trainguard.finding": {
            "rule": "TG-RUN-010", "severity": "critical", "verdict": "malicious" if verdict == "malicious" else "suspicious",
            "message": "load refused: trainguard scan found %s %s" % (os.fspath(path), verdict),
            "why": "A checkpoint that does not scan clean can run code when torch.load unpickles it.",
            "guidance": "Do not load it; quarantine the file and see the scan findings (docs/runs.md, TG-RUN-010).",
        },
        "event.severity": 99 if verdict == "malicious" else 75,
        "trainguard.severity": "critical" if verdict == "malicious" else "high",
    }
    try:
        runs = list(_watch._RUNS.values())
        if runs:
            runs[-1]._emit("run-load-refused", fields, kind="alert", outcome="failure")
            return
        events_file = os.environ.get("TRAINGUARD_EVENTS_FILE")
        if events_file:
            factory = _events.EventFactory(_events.run_identity())
            event = factory.make("run-load-refused", fields, kind="alert", outcome="failure")
            with open(events_file, "a", encoding="utf-8") as handle:
                handle.write(_events.encode(event) + "\n")
    except Exception:  # noqa: BLE001 - the refusal itself stands even when it cannot be reported
        pass
