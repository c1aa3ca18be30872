"""A tiny CPU training loop watched by trainguard_client (a few hundred AdamW steps on a synthetic task, seconds).

    /usr/bin/python3 clients/python/examples/train_tiny.py --events run.jsonl
    /usr/bin/python3 clients/python/examples/train_tiny.py --no-client          # the same loop without the client

The seed (`--seed`: Python's, numpy's and torch's generators, as the run manifest declares it) and the data order (`--data-seed`, the
sampler's own generator) are separate, so a rerun can change one and keep the other. The dataset is made from a
fixed generator, so every run trains on the same samples.
"""

import argparse
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import trainguard_client  # noqa: E402  (the package sits beside this folder)

FEATURES, HIDDEN, CLASSES, SAMPLES = 64, 256, 10, 8192


def dataset():
    generator = torch.Generator().manual_seed(1234)
    inputs = torch.randn(SAMPLES, FEATURES, generator=generator)
    teacher = torch.randn(FEATURES, CLASSES, generator=generator)
    labels = (inputs @ teacher + 0.5 * torch.randn(SAMPLES, CLASSES, generator=generator)).argmax(dim=1)
    return torch.utils.data.TensorDataset(inputs, labels)


def model():
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, CLASSES))


def set_seed(seed):
    """What the run manifest's `seed` means (transformers.set_seed): Python's, numpy's and torch's generators."""
    random.seed(seed)
    try:
        import numpy
    except ImportError:
        numpy = None
    if numpy is not None:
        numpy.random.seed(seed)
    torch.manual_seed(seed)


def linear_schedule(warmup, total):
    """transformers' get_linear_schedule_with_warmup, the `linear` schedule of the run manifest."""
    def factor(step):
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


class Loop:
    """The example's training loop, runnable a block of steps at a time (the overhead benchmark alternates two)."""

    def __init__(self, steps=300, seed=42, data_seed=0, batch_size=128, lr=1e-3, client=True, **watch_options):
        set_seed(seed)
        self.net = model()
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=0.01)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, linear_schedule(10, steps))
        data = dataset()
        order = torch.Generator().manual_seed(data_seed)
        batches = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(data, generator=order), batch_size, drop_last=True)
        self.run = None
        if client:
            self.run = trainguard_client.watch(self.optimizer, **watch_options)
            batches = self.run.wrap_batch_sampler(batches)
        self.loader = torch.utils.data.DataLoader(data, batch_sampler=batches)
        self._batches = iter(())
        self.loss = None

    def next_batch(self):
        for _ in range(2):
            for batch in self._batches:
                return batch
            self._batches = iter(self.loader)  # a new epoch
        raise RuntimeError("the data loader yields no batch")

    def steps(self, count, step_times=None):
        for _ in range(count):
            started = time.perf_counter()
            inputs, labels = self.next_batch()
            loss = torch.nn.functional.cross_entropy(self.net(inputs), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.run is not None:
                self.run.record_loss(loss)
            self.optimizer.step()
            self.scheduler.step()
            self.loss = loss
            if step_times is not None:
                step_times.append(time.perf_counter() - started)

    def close(self):
        if self.run is not None:
            self.run.close()


def train(steps=300, seed=42, data_seed=0, events=None, run_id=None, client=True, sample_every=1, attest_every=100,
          rng_every=50, manifest=None):
    """Trains `steps` steps; with the client, its events go to `events` (JSON lines). Returns the last loss."""
    options = dict(run_id=run_id, manifest=manifest, events_file=events, sample_every=sample_every,
                   attest_every=attest_every, rng_every=rng_every) if client else {}
    loop = Loop(steps=steps, seed=seed, data_seed=data_seed, client=client, **options)
    loop.steps(steps)
    loop.close()
    return float(loop.loss.detach()) if hasattr(loop.loss, "detach") else float(loop.loss)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42, help="random.seed, numpy.random.seed and torch.manual_seed")
    parser.add_argument("--data-seed", type=int, default=0, help="the sampler's generator (data order)")
    parser.add_argument("--events", help="append the run's events here (JSON lines); default $TRAINGUARD_EVENTS_FILE")
    parser.add_argument("--run-id", help="the run id (default: $SLURM_JOB_ID, $TORCHELASTIC_RUN_ID or a new one)")
    parser.add_argument("--manifest", help="the run.yaml the run declares (recorded in run-started)")
    parser.add_argument("--sample-every", type=int, default=1, help="vector metrics every N steps")
    parser.add_argument("--no-client", action="store_true", help="train without trainguard_client")
    args = parser.parse_args(argv)
    threads = os.environ.get("TG_EXAMPLE_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    loss = train(steps=args.steps, seed=args.seed, data_seed=args.data_seed, events=args.events, run_id=args.run_id,
                 client=not args.no_client, sample_every=args.sample_every, manifest=args.manifest)
    print("final loss %.4f" % loss)


if __name__ == "__main__":
    main()
