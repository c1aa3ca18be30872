#!/usr/bin/python3
"""Regenerates the benign pickle fixtures for TrainGuard.Pickle.Tests.

Run with the Debian interpreter (it has numpy, joblib and torch):  /usr/bin/python3 make.py
Only dumps: nothing here ever loads a pickle.
"""
import collections
import io
import os
import pickle
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def plain_data():
    shared = [1, 2, 3]
    return {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**63, -2**63 - 1, 2**100, -(2**1000)],
        "floats": [0.0, 1.5, -2.25, 1e300, 5e-324, float("inf"), float("-inf")],
        "strs": ["", "a", "h\u00e9llo", "\u65e5\u672c\u8a9e", "emoji \U0001f389", "quote ' \" \\ \n\t\r", "x" * 300],
        "bytes": [b"", b"\x00\xff", b"abc" * 100],
        "bytearray": bytearray(b"\x01\x02\x03"),
        "set": {1, 2, 3},
        "frozenset": frozenset({"a", "b"}),
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "consts": [None, True, False],
        "nested": {"a": [{"b": (1, [2, {3: 4}])}]},
        "shared": [shared, shared],
        "big_list": list(range(2500)),
        "big_dict": {i: str(i) for i in range(1500)},
    }


def main():
    data = plain_data()
    for proto in range(0, 6):
        write(f"benign-plain-p{proto}.pkl", pickle.dumps(data, protocol=proto))

    # Several pickles back to back, as legacy torch files and some loggers write them.
    write("benign-three-pickles.pkl", pickle.dumps(1, protocol=2) + pickle.dumps("two", protocol=4) + pickle.dumps([3], protocol=0))

    try:
        import numpy as np
        import joblib
    except ImportError:
        np = joblib = None
    if joblib is not None:
        buf = io.BytesIO()
        joblib.dump({"w": np.arange(6, dtype="<f8").reshape(2, 3), "i": np.array([1, 2, 3], dtype=">i4"),
                     "u": np.array(["ab", "c"]), "o": np.array([1, "x", None], dtype=object), "after": "tail"}, buf)
        write("benign-joblib.pkl", buf.getvalue())
        buf = io.BytesIO()
        joblib.dump([np.ones((2, 2), dtype=np.float32), 7], buf, protocol=2)
        write("benign-joblib-p2.pkl", buf.getvalue())

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        state = collections.OrderedDict([("layer.weight", torch.arange(4, dtype=torch.float32).reshape(2, 2)),
                                         ("layer.bias", torch.zeros(2))])
        buf = io.BytesIO()
        torch.save(state, buf, _use_new_zipfile_serialization=False)
        write("benign-torch-legacy.pt", buf.getvalue())
        buf = io.BytesIO()
        torch.save(state, buf)
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
            name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            write("benign-torch-data.pkl", z.read(name))


if __name__ == "__main__":
    main()
