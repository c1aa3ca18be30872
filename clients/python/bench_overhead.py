"""Overhead of trainguard_client on the bundled example (clients/python/examples/train_tiny.py).

    /usr/bin/python3 clients/python/bench_overhead.py [--rounds 40 --block 25 --sample-every 10]

Two copies of the example's loop run in one process, one watched by the client (events to a temporary JSON-lines
file, the default settings unless given) and one not, alternating blocks of steps so that load on the machine hits
both alike. Reported:
- the A/B figures: median wall-clock step time and training-thread CPU time per step with the client against
  without (the CPU figure adds the sender thread's CPU time; wall clock is noisy on a shared machine);
- the direct figure: CPU time the training thread spends inside the client (its step code and the batch sampler
  wrapper, measured around them) plus the sender thread's CPU time, per step, as a share of the CPU time of a step
  without the client.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--block", type=int, default=25, help="steps per block")
    parser.add_argument("--sample-every", type=int, default=None, help="the client's sample_every (default: the client's own default)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    total = options.rounds * options.block + options.block
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as folder:
        plain = train_tiny.Loop(steps=total, client=False)
        extra = {} if options.sample_every is None else {"sample_every": options.sample_every}
        watched = train_tiny.Loop(steps=total, client=True, run_id="bench", events_file=os.path.join(folder, "events.jsonl"), **extra)
        run = watched.run
        inside = [0.0]

        def timed(function):
            def measured(*args):
                started = time.thread_time()
                try:
                    return function(*args)
                finally:
                    inside[0] += time.thread_time() - started
            return measured

        run._before, run._after, run.record_batch = timed(run._before), timed(run._after), timed(run.record_batch)
        plain.steps(options.block)  # warm-up: first-call costs, the first attestation
        watched.steps(options.block)
        inside[0] = 0.0
        sender_start = thread_cpu_seconds(run.outbox._thread)
        times_plain, times_watched = [], []
        cpu = {"plain": 0.0, "watched": 0.0}
        for round_number in range(options.rounds):
            first, second = (plain, watched) if round_number % 2 == 0 else (watched, plain)
            for loop in (first, second):
                name = "plain" if loop is plain else "watched"
                started = time.thread_time()
                loop.steps(options.block, times_plain if loop is plain else times_watched)
                cpu[name] += time.thread_time() - started
        run.flush(30.0)
        sender = thread_cpu_seconds(run.outbox._thread) - sender_start
        watched.close()
    count = len(times_watched)
    median_plain = statistics.median(times_plain)
    median_watched = statistics.median(times_watched)
    cpu_plain = cpu["plain"] / count
    cpu_watched = cpu["watched"] / count
    per_step_inside = inside[0] / count
    per_step_sender = sender / count
    print("steps per loop: %d (%d rounds of %d, alternating), torch threads %d, sample_every %d, load average %.2f %.2f %.2f" % (
        count, options.rounds, options.block, options.threads, run.sample_every, *os.getloadavg()))
    print("A/B wall clock: median step %.3f ms without the client, %.3f ms with (%+.2f%%)" % (
        median_plain * 1e3, median_watched * 1e3, 100.0 * (median_watched - median_plain) / median_plain))
    print("A/B CPU: %.3f ms per step without, %.3f ms with (+ sender %.1f us) (%+.2f%%)" % (
        cpu_plain * 1e3, cpu_watched * 1e3, per_step_sender * 1e6, 100.0 * (cpu_watched + per_step_sender - cpu_plain) / cpu_plain))
    print("direct: training thread inside the client %.1f us/step, sender thread %.1f us/step: %.2f%% of a step's CPU time" % (
        per_step_inside * 1e6, per_step_sender * 1e6, 100.0 * (per_step_inside + per_step_sender) / cpu_plain))


if __name__ == "__main__":
    main()
