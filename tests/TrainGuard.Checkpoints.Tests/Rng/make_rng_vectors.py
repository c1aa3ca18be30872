#!/usr/bin/python3
"""Writes rng_vectors.json: real generator states from torch, numpy and CPython after seeding and after N draws.

Run with the Debian interpreter (python3-torch, python3-numpy): /usr/bin/python3 make_rng_vectors.py
Benign data only: nothing is unpickled, only get_state()/getstate() values are written as JSON.
"""
import base64
import json
import os
import random

import numpy as np
import torch


def torch_vectors():
    out = []
    # (seed, what to draw): rand(n) draws n 32-bit words for float32; randn caches normals.
    cases = [(0, 0), (42, 0), (42, 1), (42, 3), (123, 624), (123, 625), (7, 5000), (2**32 + 5, 10), (-1, 2), (2**40 + 9, 100000)]
    for seed, draws in cases:
        torch.manual_seed(seed)
        if draws:
            torch.rand(draws)
        state = torch.get_rng_state().numpy().tobytes()
        out.append({"seed": seed, "draws": draws, "initial_seed": torch.initial_seed(), "state_b64": base64.b64encode(state).decode()})
    torch.manual_seed(9)
    torch.randn(1)
    out.append({"seed": 9, "draws": -1, "note": "randn(1): cached normal", "initial_seed": torch.initial_seed(),
                "state_b64": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()})
    return out


def numpy_vectors():
    out = []
    for seed, draws in [(0, 0), (42, 0), (42, 1), (42, 623), (42, 624), (42, 625), (2**32 - 1, 10), (3, 200000)]:
        np.random.seed(seed)
        if draws:
            np.random.randint(0, 2**32, size=draws, dtype=np.uint64)  # one 32-bit word per value
        name, key, pos, has_gauss, gauss = np.random.get_state()
        out.append({"seed": seed, "draws": draws, "algorithm": name, "key": [int(k) for k in key], "pos": int(pos),
                    "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)})
    np.random.seed(5)
    np.random.randn()
    name, key, pos, has_gauss, gauss = np.random.get_state()
    out.append({"seed": 5, "draws": -1, "note": "randn(): cached gaussian", "algorithm": name, "key": [int(k) for k in key],
                "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)})
    return out


def python_vectors():
    out = []
    cases = [(0, 0), (42, 0), (42, 1), (42, 1000), (-7, 5), (2**32, 3), (2**40 + 3, 700), (12345678901234567890123, 2000), (5 + 4 * 2**32, 0)]
    for seed, draws in cases:
        random.seed(seed)
        for _ in range(draws):
            random.getrandbits(32)
        version, internal, gauss = random.getstate()
        out.append({"seed": str(seed), "draws": draws, "version": version, "state": list(internal), "gauss_next": gauss})
    random.seed(11)
    random.gauss(0, 1)
    version, internal, gauss = random.getstate()
    out.append({"seed": "11", "draws": -1, "note": "gauss(): cached gauss_next", "version": version, "state": list(internal), "gauss_next": gauss})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    doc = {
        "generator": "make_rng_vectors.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "torch_cpu": torch_vectors(),
        "numpy": numpy_vectors(),
        "python": python_vectors(),
    }
    with open(os.path.join(here, "rng_vectors.json"), "w") as f:
        # One vector per line: readable diffs, small file.
        f.write("{\n")
        items = list(doc.items())
        for n, (name, value) in enumerate(items):
            comma = "," if n < len(items) - 1 else ""
            if isinstance(value, list):
                f.write(json.dumps(name) + ": [\n" + ",\n".join(json.dumps(v) for v in value) + "\n]" + comma + "\n")
            else:
                f.write(json.dumps(name) + ": " + json.dumps(value) + comma + "\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
