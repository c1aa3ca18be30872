"""A Hugging Face Trainer callback that needs no transformers import.

`Trainer(..., callbacks=[TrainGuardCallback(run_id="exp-42", events_file="run.jsonl")])`: the Trainer calls every
`on_*` method with `(args, state, control, **kwargs)`; the optimizer arrives in `on_train_begin`'s keyword
arguments and is watched from there (unwrapping accelerate's optimizer wrapper). Losses come from `on_log`.
Callback methods never raise into the Trainer.
"""

from ._watch import Run


class TrainGuardCallback:
    """Duck-typed `transformers.TrainerCallback`; every event the Trainer may call exists and returns None."""

    def __init__(self, **watch_options):
        self.watch_options = watch_options
        self.run = None
        self.error = None

    def on_train_begin(self, args, state, control, **kwargs):
        optimizer = kwargs.get("optimizer")
        if optimizer is None or self.run is not None:
            return
        options = dict(self.watch_options)
        options.setdefault("run_id", getattr(args, "run_name", None) or None)
        seed = getattr(args, "seed", None)
        try:
            self.run = Run(optimizer, **options)
            self.run.hf_seed = seed
            self.run.loss_after_step = True  # the Trainer logs a step's loss after the step
        except Exception as error:  # noqa: BLE001 - a callback never stops training
            self.error = error

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.run is not None and logs and "loss" in logs:
            self.run.record_loss(logs["loss"], step=getattr(state, "global_step", None))

    def on_step_end(self, args, state, control, **kwargs):
        # The optimizer hooks counted the step; keep the run's step in line with the Trainer's global step.
        if self.run is not None and getattr(state, "global_step", None) is not None:
            self.run.step = max(self.run.step, int(state.global_step))

    def on_train_end(self, args, state, control, **kwargs):
        if self.run is not None:
            self.run.close(timeout=5.0)

    def __getattr__(self, name):
        if name.startswith("on_"):
            return _ignore
        raise AttributeError(name)


def _ignore(*args, **kwargs):
    return None
