"""Overhead of trainguard_client on the bundled example (clients/python/examples/train_tiny.py).

    /usr/bin/python3 clients/python/bench_overhead.py [--rounds 40 --block 25 --sample-every N]

Two copies of the example's loop run in one process, one watched by the client (events to a temporary JSON-lines
file; the client's default settings unless given) and one not, in alternating blocks of steps so that load on the
machine hits both alike. Reported:
- A/B: per round, the watched block's time per step over the plain block's (training-thread CPU time, plus the
  sender thread's CPU time spread over the round's steps; and wall clock), as the median over rounds with the
  interquartile range: the end-to-end cost, noisy on a shared machine;
- direct (a second pass): CPU time the training thread spends inside the client (its step code and the batch
  sampler wrapper, measured around them, the cost of measuring subtracted) plus the sender thread's, per step, as a
  share of the median CPU time of a plain step.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples"))
import torch  # noqa: E402

import train_tiny  # noqa: E402


def thread_cpu_seconds(thread):
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError):
        return float("nan")


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def loops(folder, total, sample_every, name):
    extra = {} if sample_every is None else {"sample_every": sample_every}
    plain = train_tiny.Loop(steps=total, client=False)
    watched = train_tiny.Loop(steps=total, client=True, run_id=name, events_file=os.path.join(folder, name + ".jsonl"), **extra)
    return plain, watched


def ab_pass(options, folder):
    total = options.rounds * options.block * 2
    plain, watched = loops(folder, total, options.sample_every, "ab")
    plain.steps(options.block)  # warm-up: first-call costs, the first attestation
    watched.steps(options.block)
    sender = watched.run.outbox._thread
    cpu_ratios, wall_ratios, plain_cpu = [], [], []
    for round_number in range(options.rounds):
        measured = {}
        order = (plain, watched) if round_number % 2 == 0 else (watched, plain)
        for loop in order:
            sender_before = thread_cpu_seconds(sender)
            cpu, wall = time.thread_time(), time.perf_counter()
            loop.steps(options.block)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            extra = thread_cpu_seconds(sender) - sender_before if loop is watched else 0.0
            measured[loop is watched] = ((cpu + extra) / options.block, wall / options.block)
        cpu_ratios.append(measured[True][0] / measured[False][0] - 1.0)
        wall_ratios.append(measured[True][1] / measured[False][1] - 1.0)
        plain_cpu.append(measured[False][0])
    sample_every = watched.run.sample_every
    watched.close()
    return cpu_ratios, wall_ratios, statistics.median(plain_cpu), sample_every


def direct_pass(options, folder):
    total = options.rounds * options.block * 2
    plain, watched = loops(folder, total, options.sample_every, "direct")
    run = watched.run
    inside = [0.0, 0]

    def timed(function):
        def measured(*args):
            started = time.thread_time()
            try:
                return function(*args)
            finally:
                inside[0] += time.thread_time() - started
                inside[1] += 1
        return measured

    empty = timed(lambda: None)
    started = time.thread_time()
    for _ in range(20000):
        empty()
    cost = (time.thread_time() - started) / 20000  # what one measurement costs, subtracted below
    run._before, run._after, run.record_batch = timed(run._before), timed(run._after), timed(run.record_batch)
    watched.steps(options.block)
    plain.steps(options.block)
    inside[:] = [0.0, 0]
    sender_start = thread_cpu_seconds(run.outbox._thread)
    plain_times = []
    for _ in range(options.rounds):
        watched.steps(options.block)
        started = time.thread_time()
        plain.steps(options.block)
        plain_times.append((time.thread_time() - started) / options.block)
    run.flush(30.0)
    sender = thread_cpu_seconds(run.outbox._thread) - sender_start
    steps = options.rounds * options.block
    watched.close()
    return (inside[0] - inside[1] * cost) / steps, sender / steps, statistics.median(plain_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--block", type=int, default=25, help="steps per block")
    parser.add_argument("--sample-every", type=int, default=None, help="the client's sample_every (default: its own default)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as folder:
        cpu_ratios, wall_ratios, plain_cpu, sample_every = ab_pass(options, folder)
        inside, sender, plain_direct = direct_pass(options, folder)
    print("%d rounds of %d steps per loop, torch threads %d, sample_every %d, load average %.2f %.2f %.2f" % (
        options.rounds, options.block, options.threads, sample_every, *os.getloadavg()))
    q1, median, q3 = quartiles(cpu_ratios)
    print("A/B CPU (training + sender thread): %+.2f%% median over rounds (IQR %+.2f%% .. %+.2f%%); plain step %.2f ms CPU" % (
        100 * median, 100 * q1, 100 * q3, plain_cpu * 1e3))
    q1, median, q3 = quartiles(wall_ratios)
    print("A/B wall clock: %+.2f%% median over rounds (IQR %+.2f%% .. %+.2f%%)" % (100 * median, 100 * q1, 100 * q3))
    print("direct: inside the client %.1f us/step + sender thread %.1f us/step = %.2f%% of a plain step's CPU (%.2f ms)" % (
        inside * 1e6, sender * 1e6, 100.0 * (inside + sender) / plain_direct, plain_direct * 1e3))


if __name__ == "__main__":
    main()
