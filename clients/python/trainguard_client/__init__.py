"""TrainGuard's training-side client: watch a running optimizer, attest its code, guard checkpoint loads.

    import trainguard_client
    run = trainguard_client.watch(optimizer, run_id="exp-42", manifest="run.yaml", events_file="run.jsonl")
    ...
    loss.backward(); run.record_loss(loss); optimizer.step()

Standard library only; torch is imported when a function needs it. See docs/runs.md.
"""

from ._loadguard import LoadRefused, ScanUnavailable, guarded_load, install_load_guard, uninstall_load_guard
from ._watch import Run

__all__ = ["LoadRefused", "Run", "ScanUnavailable", "TrainGuardCallback", "guarded_load", "install_load_guard",
           "uninstall_load_guard", "watch"]
__version__ = "0.1.0"


def watch(optimizer, run_id=None, manifest=None, **options):
    """Starts watching `optimizer` (torch 2.x step hooks, or a step wrapper on torch 1.13) and returns the Run.

    Events go to `events_file=` / `$TRAINGUARD_EVENTS_FILE` (JSON lines) or `server=` / `$TRAINGUARD_SERVER` with
    `token=`, `token_file=`, `$TRAINGUARD_TOKEN` or `$TRAINGUARD_TOKEN_FILE`. Options: `sample_every` (vector
    metrics on one step in N on average, the steps drawn at random; default 20), `attest_every` (default 500), `rng_every` (default 100), `sample_size`
    (coordinates for the cosine, default 4096), `batches_per_step`.
    """
    return Run(optimizer, run_id=run_id, manifest=manifest, **options)


def __getattr__(name):
    if name == "TrainGuardCallback":
        from .hf import TrainGuardCallback

        return TrainGuardCallback
    raise AttributeError(name)
