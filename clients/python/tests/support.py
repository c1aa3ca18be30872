"""Shared helpers of the client tests: the repository paths, the example, a scanner to use."""

import json
import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CLIENT = os.path.join(REPO, "clients", "python")
EXAMPLES = os.path.join(CLIENT, "examples")
FIXTURES = os.path.join(REPO, "tests", "fixtures")
for path in (CLIENT, EXAMPLES):
    if path not in sys.path:
        sys.path.insert(0, path)


def trainguard_bin():
    """$TRAINGUARD_BIN, else the CLI built into out/trainguard by `dotnet build src/TrainGuard.Cli -o out/trainguard`."""
    configured = os.environ.get("TRAINGUARD_BIN")
    if configured:
        return configured
    built = os.path.join(REPO, "out", "trainguard", "trainguard")
    return built if os.path.isfile(built) and os.access(built, os.X_OK) else None


def per_tensor_function():
    """(module, name) of the function AdamW's step hands each tensor to: `adamw._single_tensor_adamw` on torch 1.13,
    `adam._single_tensor_adam` on torch 2.x (where AdamW is Adam with decoupled weight decay)."""
    import torch.optim.adamw as adamw_module

    if hasattr(adamw_module, "_single_tensor_adamw"):
        return adamw_module, "_single_tensor_adamw"
    import torch.optim.adam as adam_module

    return adam_module, "_single_tensor_adam"


class SavedSteps:
    """The `step` each class defines itself, restored as it was (torch 2.x wraps an optimizer class's step on first use)."""

    def __init__(self, *classes):
        self.saved = [(cls, vars(cls).get("step")) for cls in classes]

    def restore(self):
        for cls, step in self.saved:
            if step is not None:
                cls.step = step
            elif "step" in vars(cls):
                delattr(cls, "step")


def read_events(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def steps(events):
    return [e["trainguard"]["step"] for e in events if e["event"]["action"] == "run-step"]


def attestations(events):
    return [e for e in events if e["event"]["action"] == "run-attestation"]


class MemorySink:
    """Keeps sent events in memory; fails the first `failures` sends."""

    describe = "memory"

    def __init__(self, failures=0):
        self.events = []
        self.failures = failures

    def send(self, events):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("test sink refuses")
        self.events.extend(json.loads(e) for e in events)
