#!/usr/bin/python3
"""Regenerates the committed fixtures for TrainGuard.Formats.Tests.

Run with the Debian interpreter: /usr/bin/python3 make.py (numpy, python3-torch, tarfile, 7z).
Every object array holds INERT plain strings only; nothing here loads a pickle.
"""
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import tarfile
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(*parts):
    path = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def write(path, data):
    with open(out(path), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- numpy
def npy():
    np.save(out("npy", "benign_f4.npy"), np.arange(6, dtype="<f4").reshape(2, 3))
    np.save(out("npy", "fortran_f8.npy"), np.asfortranarray(np.arange(12, dtype="<f8").reshape(3, 4)))
    np.save(out("npy", "object.npy"), np.array(["echo pwned", "id"], dtype=object), allow_pickle=True)
    structured_object = np.array([(1, "echo pwned")], dtype=[("a", "<i4"), ("b", "O")])
    np.save(out("npy", "structured_object.npy"), structured_object, allow_pickle=True)
    np.save(out("npy", "structured.npy"), np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2", (2,)), ("name", "S5")]))
    np.save(out("npy", "unicode_u3.npy"), np.array(["abc", "de"], dtype="<U3"))
    np.save(out("npy", "scalar_i8.npy"), np.int64(7))
    for version in ((2, 0), (3, 0)):
        with open(out("npy", "v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, np.arange(4, dtype="<i2"), version=version)
    np.savez(out("npz", "arrays.npz"), weights=np.ones((2, 2), dtype="<f4"), bias=np.zeros(2, dtype="<f4"))
    np.savez_compressed(out("npz", "arrays_compressed.npz"), weights=np.ones((64, 64), dtype="<f4"))
    np.savez(out("npz", "with_object.npz"), names=np.array(["echo pwned"], dtype=object), ok=np.arange(3))


# ---------------------------------------------------------------- tar
def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    tar.addfile(info, io.BytesIO(data))


def tars():
    long_name = "archive/" + "very_long_directory_name_" * 6 + "/pickle"
    with tarfile.open(out("tar", "gnu_longname.tar"), "w", format=tarfile.GNU_FORMAT) as tar:
        add_bytes(tar, long_name, b"gnu long name member")
        add_bytes(tar, "storages", b"\x00" * 700)
    with tarfile.open(out("tar", "pax_longname.tar"), "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, long_name + "_pax_\u00e9", b"pax member")
        add_bytes(tar, "tensors", b"t" * 10)
    with tarfile.open(out("tar", "ustar.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
        add_bytes(tar, "pickle", pickle.dumps({"a": 1}, protocol=2))
        add_bytes(tar, "dir/sub/file.txt", b"hello")
    # v7: no magic, no owner names. tarfile cannot write it, so strip a USTAR header.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        add_bytes(tar, "v7member.bin", b"v7 data")
    data = bytearray(buf.getvalue())
    header = data[:512]
    header[257:512] = b"\x00" * 255
    header[148:156] = b" " * 8
    checksum = sum(header)
    header[148:156] = b"%06o\x00 " % checksum
    data[:512] = header
    write(os.path.join("tar", "v7.tar"), bytes(data))


# ---------------------------------------------------------------- safetensors
def st(header, data=b"", raw_header=None, declared=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    n = len(h) if declared is None else declared
    return struct.pack("<Q", n) + h + data


def safetensors():
    valid = {
        "__metadata__": {"format": "pt"},
        "weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "bias": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
        "empty": {"dtype": "BF16", "shape": [0, 4], "data_offsets": [40, 40]},
    }
    write("safetensors/valid.safetensors", st(valid, bytes(range(40))))
    padded = json.dumps({"x": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}}).encode()
    padded += b" " * (-(8 + len(padded)) % 8)
    write("safetensors/valid_padded.safetensors", st(None, b"abc", raw_header=padded))
    write("safetensors/valid_no_tensors.safetensors", st({}))
    write("safetensors/valid_f4.safetensors", st({"q": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}, b"\x12\x34"))

    one = {"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    bad = {
        "header_too_large": st(None, b"", raw_header=b"{}", declared=100_000_001),
        "header_past_end": st(one, b"\x00" * 8, declared=4096),
        "bad_json": st(None, b"", raw_header=b'{"t": {"dtype": "F32",'),
        "trailing_comma": st(None, b"\x00" * 8, raw_header=b'{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}'),
        "unknown_dtype": st({"t": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\x00" * 16),
        "length_mismatch": st({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\x00" * 8),
        "overlap": st({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, b"\x00" * 6),
        "gap": st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [4, 6]}}, b"\x00" * 6),
        "out_of_bounds": st({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]}}, b"\x00" * 4),
        "trailing_data": st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"\x00" * 5),
        "duplicate_key": st(None, b"\x00" * 8, raw_header=b'{"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"t":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}'),
        "non_string_metadata": st({"__metadata__": {"epoch": 3}, **one}, b"\x00" * 8),
        "negative_shape": st({"t": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}),
        "end_before_begin": st({"t": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}}, b"\x00" * 4),
        "not_an_object": st(None, b"", raw_header=b'["t"]'),
        "invalid_utf8": st(None, b"", raw_header=b'{"\xff\xfe":{}}'),
        "float_offset": st(None, b"\x00" * 8, raw_header=b'{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}'),
        "missing_field": st({"t": {"dtype": "F32", "shape": [2]}}, b"\x00" * 8),
    }
    for name, data in bad.items():
        write("safetensors/invalid/%s.safetensors" % name, data)


# ---------------------------------------------------------------- pickles and torch
def pickles():
    value = {"lr": 0.001, "betas": (0.9, 0.999), "name": "adam"}
    for protocol in range(0, 6):
        write("pickle/proto%d.pkl" % protocol, pickle.dumps(value, protocol=protocol))
    write("pickle/proto0_list.pkl", pickle.dumps([1, 2, "three"], protocol=0))
    write("pickle/proto1_tuple.pkl", pickle.dumps((None, True, 3.5), protocol=1))
    # Hand-written protocol 0 GLOBAL opening with an INERT payload (never loaded here).
    write("pickle/proto0_global.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    try:
        import torch
    except ImportError:
        print("torch not available: skipping torch fixtures")
        return
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "step": 3}
    torch.save(state, out("torch", "zip_checkpoint.pt"))
    torch.save(state, out("torch", "legacy_checkpoint.pt"), _use_new_zipfile_serialization=False)


# ---------------------------------------------------------------- 7z
def sevenzip():
    exe = shutil.which("7z") or shutil.which("7za")
    if exe is None:
        print("7z not installed: skipping 7z fixtures")
        return
    target = out("7z", "sample.7z")
    if os.path.exists(target):
        os.remove(target)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "data.pkl"), "wb") as f:
            f.write(pickle.dumps({"a": 1}, protocol=2))
        with open(os.path.join(tmp, "notes.txt"), "wb") as f:
            f.write(b"notes " * 100)
        subprocess.run([exe, "a", "-bd", "-mx=5", target, "data.pkl", "notes.txt"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    npy()
    tars()
    safetensors()
    pickles()
    sevenzip()
    print("fixtures written under", HERE)
