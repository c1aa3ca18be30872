#!/usr/bin/python3
"""Makes samples/demo/sabotaged/checkpoint-20: a copy of runs/clean/checkpoint-20 whose optimizer.pt has
AdamW's `maximize` flag flipped by one byte (NEWFALSE 0x89 -> NEWTRUE 0x88 in data.pkl, CRC-32 fixed), the
sabotage `trainguard ckpt check --run samples/demo/run.yaml` reports as critical. Nothing is unpickled and
no third-party module is needed: python3 samples/demo/make_sabotaged.py
"""
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "fixtures" / "ckpt"))
from zippatch import maximize_value_offset, patch_zip_member_byte, zip_member  # noqa: E402

clean = HERE / "runs" / "clean" / "checkpoint-20"
target = HERE / "sabotaged" / "checkpoint-20"
shutil.rmtree(target, ignore_errors=True)
shutil.copytree(clean, target)
optimizer = target / "optimizer.pt"
patch_zip_member_byte(optimizer, "/data.pkl", maximize_value_offset(zip_member(optimizer, "/data.pkl")), 0x88)
print(f"wrote {target.relative_to(HERE.parents[1])}")
