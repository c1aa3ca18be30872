"""The reference attack, reproduced inside one example process: AdamW.step patched to sleep and to flip `maximize`.

    /usr/bin/python3 clients/python/examples/sabotage.py --truth flips.json -- clients/python/examples/train_tiny.py ARGS...

It patches `torch.optim.AdamW.step` in this process only (the installed torch is never touched), then runs the
example script. From step `--start` on, each step is flipped with probability `--flip` (`maximize` set to True
inside the step and restored after it, so `param_groups` never shows it) and sleeps `--sleep-ms` with probability
`--sleep`; the attacker's own random stream decides, so the training's generators are untouched. The reference
attacker fired only on jobs above 256 GPUs (`--min-world-size`; the recording sets 0 so it fires on this job).
The steps it flipped are written to `--truth` as JSON, for the tests that check each was caught.
"""

import argparse
import functools
import json
import os
import random
import runpy
import sys
import time

import torch


def install(start, flip, sleep, sleep_ms, min_world_size, seed, truth):
    original = torch.optim.AdamW.step
    chooser = random.Random(seed)
    counter = {"step": 0, "flipped": [], "slept": []}
    world = int(os.environ.get("WORLD_SIZE", "1"))

    @functools.wraps(original)
    def step(self, closure=None):
        counter["step"] += 1
        number = counter["step"]
        armed = world > min_world_size and number >= start
        flipping = armed and chooser.random() < flip
        if armed and chooser.random() < sleep:
            time.sleep(sleep_ms / 1000.0)
            counter["slept"].append(number)
        saved = [group["maximize"] for group in self.param_groups]
        if flipping:
            counter["flipped"].append(number)
            for group in self.param_groups:
                group["maximize"] = True
        try:
            return original(self, closure)
        finally:
            for group, value in zip(self.param_groups, saved):
                group["maximize"] = value
            if truth:
                with open(truth, "w", encoding="utf-8") as handle:
                    json.dump({"flipped": counter["flipped"], "slept": counter["slept"], "steps": number}, handle)

    torch.optim.AdamW.step = step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=int, default=120, help="first step the attack may fire at")
    parser.add_argument("--flip", type=float, default=0.25, help="probability a step is flipped")
    parser.add_argument("--sleep", type=float, default=0.25, help="probability a step sleeps")
    parser.add_argument("--sleep-ms", type=float, default=30.0)
    parser.add_argument("--min-world-size", type=int, default=256, help="fire only on jobs larger than this")
    parser.add_argument("--attack-seed", type=int, default=2026)
    parser.add_argument("--truth", help="write the flipped and slept steps here (JSON)")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    install(options.start, options.flip, options.sleep, options.sleep_ms, options.min_world_size, options.attack_seed, options.truth)
    sys.argv = [options.script] + [a for a in options.args if a != "--"]
    runpy.run_path(options.script, run_name="__main__")


if __name__ == "__main__":
    main()
