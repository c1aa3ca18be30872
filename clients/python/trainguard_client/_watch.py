"""The training-side watcher: per-step metrics from an optimizer, periodic attestation, events off the training thread.

Work on the training thread is kept to a few clock reads and appending one tuple to a deque; the event envelope,
JSON and the conversion of 0-dim tensors to numbers happen on the sender thread. Vector metrics (gradient norm,
update norm and the cosine between the applied update and the negative gradient) are computed on one step in
`sample_every` on average, the steps drawn at random (an attacker who knows `sample_every` cannot keep to the steps
between samples), on a fixed sample of coordinates; both with the client's own generators (the training's random
streams are never drawn from).
"""

import atexit
import collections
import hashlib
import math
import os
import random
import struct
import sys
import time
import types
import weakref

from . import _events
from ._attest import Attester
from ._transport import FileSink, HttpSink, Outbox

_RUNS = weakref.WeakKeyDictionary()


def _build(factory, item):
    """The JSON text of one queued item (made on the sender thread)."""
    action, seconds, fields, kind, outcome = item
    if action == "run-step":
        return factory.step_json(_step_fields(fields), seconds)
    return _events.encode(factory.make(action, fields, kind=kind, outcome=outcome, seconds=seconds))


def _ids_hash(batches):
    """SHA-256 over the step's sample ids as little-endian signed 64-bit integers, in order (ids that are not
    integers: their decimal or text forms joined by commas)."""
    digest = hashlib.sha256()
    try:
        for batch in batches:
            digest.update(struct.pack("<%dq" % len(batch), *batch))
    except (struct.error, TypeError):
        digest = hashlib.sha256(",".join(",".join(map(str, batch)) for batch in batches).encode("utf-8"))
    return digest.hexdigest()


def _vector_metrics(sample):
    """grad_norm, update_norm, cosine and moment_cosine from the sums the training thread left as 0-dim tensors."""
    grad_norms, uu, ug, gg, ff, fg = sample
    metrics = {}
    if grad_norms:
        metrics["grad_norm"] = math.sqrt(sum(_number(n) ** 2 for n in grad_norms))
    if uu is not None:
        uu, ug, gg = _number(uu), _number(ug), _number(gg)
        metrics["update_norm"] = math.sqrt(uu) if uu >= 0 else float("nan")
        metrics["cosine"] = _cosine(-ug, uu, gg)
        if ff is not None:
            metrics["moment_cosine"] = _cosine(_number(fg), _number(ff), gg)
    return metrics


def _cosine(dot, aa, bb):
    if not all(math.isfinite(v) for v in (dot, aa, bb)):
        return float("nan")
    denominator = math.sqrt(aa * bb)
    return dot / denominator if denominator > 0 else 0.0


def _number(value):
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


def _step_fields(raw):
    end, pre, last = raw["end"], raw["pre"], raw["last"]
    step = {"step": raw["step"],
            "time_ms": None if last is None else round((end - last) * 1000.0, 3),
            "optimizer_ms": None if pre is None else round((end - pre) * 1000.0, 3)}
    if "sample" in raw:
        raw.update(_vector_metrics(raw.pop("sample")))
    nonfinite = []
    for name in ("loss", "grad_norm", "update_norm", "cosine", "moment_cosine"):
        if name not in raw:
            if name == "cosine":
                step[name] = None  # not a sampled step
            continue
        number = _number(raw[name])
        if number is not None and not math.isfinite(number):
            nonfinite.append(name)
            number = None
        step[name] = None if number is None else float("%.6g" % number)
    step["lr"] = [float("%.6g" % float(v)) for v in raw["lr"]]
    if raw.get("batch_ids") is not None:
        step["batch_hash"] = _ids_hash(raw["batch_ids"])
    for name in ("rng_hash", "seed"):
        if raw.get(name) is not None:
            step[name] = raw[name]
    if nonfinite:
        step["nonfinite"] = nonfinite
    return step


def _close_at_exit(reference, timeout=2.0):
    """At interpreter exit, what is still queued gets `timeout` seconds to leave (a dead server delays exit that long)."""
    run = reference()
    if run is not None and not run._closed:
        run.close(timeout)


def _sink_from(server, token, token_file, events_file):
    server = server or os.environ.get("TRAINGUARD_SERVER")
    events_file = events_file or os.environ.get("TRAINGUARD_EVENTS_FILE")
    if events_file:
        return FileSink(events_file)
    if server:
        token = token or os.environ.get("TRAINGUARD_TOKEN")
        token_file = token_file or os.environ.get("TRAINGUARD_TOKEN_FILE")
        if not token and token_file:
            with open(token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        if not token:
            raise ValueError("TrainGuard server %s given without a token (token=, TRAINGUARD_TOKEN or TRAINGUARD_TOKEN_FILE)" % server)
        return HttpSink(server, token)
    raise ValueError("no destination for the events: give events_file= or server= (or TRAINGUARD_EVENTS_FILE / TRAINGUARD_SERVER)")


def _inner_optimizer(optimizer):
    import torch

    # accelerate's AcceleratedOptimizer (the Trainer's) subclasses torch's Optimizer without being one: it delegates
    # to `.optimizer`, which is the optimizer that steps. Other wrappers hold it the same way.
    for _ in range(4):
        inner = getattr(optimizer, "optimizer", None)
        if inner is None or inner is optimizer or not isinstance(inner, torch.optim.Optimizer):
            break
        optimizer = inner
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError("trainguard_client.watch needs a torch.optim.Optimizer, got %s" % type(optimizer).__name__)
    return optimizer


class Run:
    """One watched optimizer. Made by `trainguard_client.watch`."""

    def __init__(self, optimizer, run_id=None, name=None, manifest=None, server=None, token=None, token_file=None,
                 events_file=None, sample_every=20, attest_every=500, rng_every=100, sample_size=4096,
                 batches_per_step=1, spike_factor=5.0, sink=None, queue_size=10_000, buffer_size=50_000,
                 flush_interval=1.0, allow_hooks=()):
        import torch

        self.torch = torch
        self.optimizer = _inner_optimizer(optimizer)
        self.sample_every = max(1, int(sample_every))
        self._chooser = random.Random(int.from_bytes(os.urandom(16), "little"))  # which steps are sampled
        self.attest_every = max(0, int(attest_every))
        self.rng_every = max(0, int(rng_every))
        self.batches_per_step = max(1, int(batches_per_step))
        self.spike_factor = spike_factor
        self.spike_min_ms = 20.0  # a spike is also this much above the median: not a scheduler hiccup
        self.spike_interval = 200  # steps between attestations a spike triggers
        self.run = _events.run_identity(run_id, name)
        self.factory = _events.EventFactory(self.run)
        self.outbox = Outbox(self.factory, _build, sink or _sink_from(server, token, token_file, events_file),
                              capacity=queue_size, buffer=buffer_size, interval=flush_interval)
        self.step = 0
        self.attestation_failed = False
        self._loss = None
        self._held = None  # a step waiting for a loss reported after it (the Hugging Face callback's on_log)
        self.loss_after_step = False
        self._batches = collections.deque()
        self._last_end = None
        self._pre = None
        self._sampled = None
        self._opt_times = collections.deque(maxlen=64)
        self._median_ms = 0.0
        self._last_spike_attest = -10 ** 9
        self._closed = False
        self._own_wrappers = set()
        self._own_hooks = set()
        self._attester = Attester(self._own_wrappers, self._own_hooks, allow_hooks=allow_hooks)
        self._sample = _CoordinateSample(self.optimizer, sample_size, torch)
        self._emit("run-started", {
            "trainguard.run.torch_version": torch.__version__,
            "trainguard.run.python_version": "%d.%d.%d" % sys.version_info[:3],
            "trainguard.run.optimizer": "%s.%s" % (type(self.optimizer).__module__, type(self.optimizer).__qualname__),
            "trainguard.run.manifest": None if manifest is None else os.fspath(manifest),
            "trainguard.run.seed": {"initial": str(torch.initial_seed())},
            "trainguard.run.sample_every": self.sample_every,
        })
        self.attest("start")
        self._install()
        _RUNS[self.optimizer] = self
        atexit.register(_close_at_exit, weakref.ref(self))

    # ---- public API ---------------------------------------------------------------------------------------------

    def record_loss(self, loss, step=None):
        """The loss of the current step (a tensor or number); read on the sender thread, never synchronised here.

        With `loss_after_step` set (the Hugging Face callback sets it: the Trainer logs a step's loss after the step),
        the last step is held until its loss arrives, or the next step, and `step` names the step the loss is of.
        """
        loss = loss.detach() if hasattr(loss, "detach") else loss
        held = self._held
        if held is not None and (step is None or step == held[2]["step"]):
            held[2]["loss"] = loss
            self._release()
            return
        self._loss = loss

    def record_batch(self, sample_ids):
        """The sample ids of one batch (the sampler wrapper calls this for you)."""
        self._batches.append(sample_ids.tolist() if hasattr(sample_ids, "tolist") else sample_ids)

    def wrap_batch_sampler(self, batch_sampler):
        """A batch sampler that records each batch's indices; pass it to DataLoader(batch_sampler=...)."""
        from ._sampler import RecordingBatchSampler

        return RecordingBatchSampler(batch_sampler, self)

    def attest(self, reason="periodic"):
        try:
            checks = self._attester.attest(self.optimizer)
        except Exception as error:  # noqa: BLE001 - an attestation that cannot run is a failed attestation
            checks = [{"name": "step-code", "ok": False, "detail": "attestation could not run: %s: %s" % (type(error).__name__, error)}]
        ok = all(c["ok"] for c in checks)
        fields = {"trainguard.attest": {"checks": checks, "reason": reason, "step": self.step}}
        if not ok:
            self.attestation_failed = True
            failed = [c for c in checks if not c["ok"]]
            fields["trainguard.finding"] = {
                "rule": "TG-RUN-001", "severity": "critical", "verdict": "malicious",
                "message": "the optimizer step that runs is not the code on disk: " + "; ".join("%s: %s" % (c["name"], c["detail"]) for c in failed)[:2000],
                "why": "A training job's optimizer was replaced, wrapped, patched on the instance or hooked: the update it applies is not the one its source declares.",
                "guidance": "Stop the job, keep the process's environment as evidence, run `trainguard env verify`, and find who changed the code (docs/runs.md, TG-RUN-001).",
            }
            fields["event.severity"] = 99
            fields["trainguard.severity"] = "critical"
        self._emit("run-attestation", fields, kind="event" if ok else "alert", outcome="success" if ok else "failure")
        return checks

    def flush(self, timeout=5.0):
        self._release()
        return self.outbox.flush(timeout)

    def close(self, timeout=5.0):
        if self._closed:
            return True
        self._closed = True
        self._uninstall()
        self._release()
        return self.outbox.close(timeout)

    def _release(self):
        held, self._held = self._held, None
        if held is not None:
            self.outbox.put(held)

    @property
    def dropped(self):
        return self.outbox.dropped

    # ---- hooks --------------------------------------------------------------------------------------------------

    def _install(self):
        opt = self.optimizer
        if hasattr(opt, "register_step_pre_hook") and hasattr(opt, "register_step_post_hook"):
            pre = lambda optimizer, args, kwargs: self._before()  # noqa: E731
            post = lambda optimizer, args, kwargs: self._after(None)  # noqa: E731
            self._own_hooks.update((pre, post))
            self._handles = [opt.register_step_pre_hook(pre), opt.register_step_post_hook(post)]
            self._wrapper = None
            return
        # torch 1.13: no step hooks. The instance gets a bound-method wrapper that calls what `step` resolved to
        # before: the class's step (looked up at each call), or what is already on the instance (an lr scheduler's
        # step counter, or a patch, which attestation reports). Schedulers created later wrap it in turn.
        previous = vars(opt).get("step")
        run = self

        def step(optimizer, *args, **kwargs):
            run._before()
            try:
                result = previous(*args, **kwargs) if previous is not None else type(optimizer).step(optimizer, *args, **kwargs)
            except BaseException:
                run._pre = None
                raise
            run._after(result)
            return result

        step._trainguard_previous = previous
        if getattr(previous, "_with_counter", False):
            step._with_counter = True  # the scheduler's counter still runs: it is `previous`
        bound = types.MethodType(step, opt)
        self._own_wrappers.update((step, bound))
        self._wrapper = bound
        self._handles = []
        opt.step = bound

    def _uninstall(self):
        for handle in getattr(self, "_handles", []):
            handle.remove()
        if getattr(self, "_wrapper", None) is not None and vars(self.optimizer).get("step") is self._wrapper:
            previous = self._wrapper.__func__._trainguard_previous
            if previous is None:
                del self.optimizer.step
            else:
                self.optimizer.step = previous
        _RUNS.pop(self.optimizer, None)

    # ---- per step -----------------------------------------------------------------------------------------------

    def _before(self):
        try:
            sampled = self.sample_every == 1 or self._chooser.random() * self.sample_every < 1.0
            self._sampled = self._sample.before() if sampled else None
        except Exception:  # noqa: BLE001 - telemetry never breaks a step
            self._sampled = None
        self._pre = time.perf_counter()

    def _after(self, result):
        end = time.perf_counter()
        try:
            self._record(end, result)
        except Exception as error:  # noqa: BLE001
            self.outbox.last_error = "step: %s: %s" % (type(error).__name__, error)

    def _record(self, end, result):
        # The training thread's share of a step: clock reads, a few references, one deque append. Numbers, hashes
        # and the envelope are made on the sender thread (`_step_fields`).
        pre = self._pre
        self.step = step = self.step + 1
        fields = {"step": step, "end": end, "pre": pre, "last": self._last_end,
                  "lr": [group.get("lr", 0.0) for group in self.optimizer.param_groups]}
        loss = self._loss if self._loss is not None else result
        if loss is not None:
            fields["loss"] = loss
            self._loss = None
        if self._sampled is not None:
            fields.update(self._sample.after(self._sampled))
            self._sampled = None
        batches = self._batches
        if len(batches) >= self.batches_per_step:
            fields["batch_ids"] = [batches.popleft() for _ in range(self.batches_per_step)]
        if self.rng_every and step % self.rng_every == 0:
            fields["rng_hash"], fields["seed"] = _rng_hash(self.torch), str(self.torch.initial_seed())
        item = ("run-step", time.time(), fields, "event", None)
        if self.loss_after_step:
            self._release()
            self._held = item  # the queued item, whose fields get the loss when it arrives
        else:
            self.outbox.put(item)
        self._pre = None
        if self.attest_every and step % self.attest_every == 0:
            self.attest("periodic")
        elif pre is not None:
            self._spike_check((end - pre) * 1000.0)
        self._last_end = time.perf_counter()

    def _spike_check(self, optimizer_ms):
        times = self._opt_times
        times.append(optimizer_ms)
        if optimizer_ms > self.spike_factor * self._median_ms and self.step - self._last_spike_attest >= self.spike_interval \
                and len(times) >= 16:
            median = sorted(times)[len(times) // 2]
            if optimizer_ms > self.spike_factor * median and optimizer_ms - median > self.spike_min_ms:
                self._last_spike_attest = self.step
                self.attest("optimizer-time-spike")
        if self.step % 16 == 0:
            self._median_ms = sorted(times)[len(times) // 2]

    def _emit(self, action, fields, kind="event", outcome=None):
        self.outbox.put((action, time.time(), fields, kind, outcome))


class _CoordinateSample:
    """A fixed sample of parameter coordinates (the client's own generator), read before and after a step.

    Besides the update and the gradient it reads the optimizer's first-moment buffer (`exp_avg` of the Adam family,
    `momentum_buffer` of SGD) on the same coordinates: `after - beta * before` is the gradient the optimizer folded
    in, so its cosine with the gradient is +1 when the step used the gradient and -1 when it used it upside down
    (`maximize` flipped), whatever the momentum carried over.
    """

    MAX_TENSORS = 4
    MIN_NUMEL = 1024

    def __init__(self, optimizer, size, torch):
        self.torch = torch
        self.optimizer = optimizer
        params = [(p, group) for group in optimizer.param_groups for p in group["params"]]
        self.params = [p for p, _ in params]
        generator = torch.Generator().manual_seed(0x7467)  # the client's own stream: training RNG untouched
        total = sum(p.numel() for p in self.params)
        chosen = []
        if total:
            # A few tensors, chosen in proportion to their size among those of at least MIN_NUMEL elements (biases and
            # norms add a call each for a handful of coordinates), keep the cost of a sampled step small and bounded.
            large = [float(p.numel()) if p.numel() >= self.MIN_NUMEL else 0.0 for p in self.params]
            weights = torch.tensor(large if any(large) else [float(p.numel()) for p in self.params])
            count = min(self.MAX_TENSORS, int((weights > 0).sum()))
            picks = torch.multinomial(weights, count, replacement=False, generator=generator).tolist()
            picked_total = sum(self.params[i].numel() for i in picks)
            for i in sorted(picks):
                p, group = params[i]
                n = p.numel()
                k = max(1, min(n, round(size * n / picked_total)))
                idx = torch.randperm(n, generator=generator)[:k] if n <= 1 << 22 else torch.randint(n, (k,), generator=generator)
                chosen.append((p, group, idx.to(p.device)))
        self.chosen = chosen
        self._foreach_norm = getattr(torch, "_foreach_norm", None)


    def _moment(self, p, idx):
        state = self.optimizer.state.get(p)
        if not state:
            return None
        buffer = state.get("exp_avg")
        if buffer is None:
            buffer = state.get("momentum_buffer")
        return None if buffer is None else buffer.detach().take(idx)

    def before(self):
        # Everything read here is detached (no autograd graph is recorded), so no torch.no_grad() is needed. As few
        # torch calls as possible: the sums are reduced to numbers on the sender thread.
        grads, values, moments = [], [], []
        for p, _, idx in self.chosen:
            if p.grad is None:
                return None
            grads.append(p.grad.detach().take(idx))
            values.append(p.detach().take(idx))
            moments.append(self._moment(p, idx))
        all_grads = [p.grad.detach() for p in self.params if p.grad is not None and not p.grad.is_sparse]
        if self._foreach_norm is not None and all_grads:
            grad_norms = self._foreach_norm(all_grads)
        else:
            grad_norms = [g.float().norm() for g in all_grads]
        # beta as the step will use it (schedulers such as OneCycleLR move it)
        betas = [group["betas"][0] if "betas" in group else group.get("momentum", 0.0) for _, group, _ in self.chosen]
        return grads, values, moments, grad_norms, betas

    def after(self, state):
        if state is None:
            return {"cosine": None}
        torch = self.torch
        grads, values, moments, grad_norms, betas = state
        cast = self._cast
        update = cast(torch.cat([p.detach().take(idx) for p, _, idx in self.chosen])) - cast(torch.cat(values))
        grad = cast(torch.cat(grads))
        ff = fg = None
        moments_after = [self._moment(p, idx) for p, _, idx in self.chosen]
        if all(m is not None for m in moments_after):
            after = cast(torch.cat(moments_after))
            if all(m is not None for m in moments):
                before = cast(torch.cat(moments))
                if len(set(betas)) == 1:
                    folded = after.sub(before, alpha=float(betas[0]))
                else:
                    folded = after - before * torch.cat([torch.full((idx.numel(),), float(beta), device=idx.device)
                                                         for (_, _, idx), beta in zip(self.chosen, betas)])
            else:
                folded = after  # the first step: the buffer starts from the gradient
            ff, fg = folded.dot(folded), folded.dot(grad)
        return {"sample": (grad_norms, update.dot(update), update.dot(grad), grad.dot(grad), ff, fg)}

    def _cast(self, tensor):
        return tensor if tensor.dtype == self.torch.float32 or tensor.dtype == self.torch.float64 else tensor.float()


def _rng_hash(torch):
    """sha256 over torch's CPU generator state, the CUDA ones when initialised, Python's and numpy's global states."""
    digest = hashlib.sha256()
    digest.update(_tensor_bytes(torch.get_rng_state()))
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and cuda.is_available() and cuda.is_initialized():
        for state in cuda.get_rng_state_all():
            digest.update(_tensor_bytes(state))
    digest.update(repr(random.getstate()).encode("ascii"))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        kind, keys, pos, gauss, cached = numpy.random.get_state()
        digest.update(repr((kind, keys.tolist(), pos, gauss, cached)).encode("ascii"))
    return digest.hexdigest()


def _tensor_bytes(tensor):
    try:
        return tensor.cpu().numpy().tobytes()
    except Exception:  # noqa: BLE001 - torch built without numpy
        return bytes(tensor.tolist())
