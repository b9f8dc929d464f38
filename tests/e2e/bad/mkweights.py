#!/usr/bin/env python3
# tests/e2e/bad/mkweights.py -- writes the weight files test_badinput.sh needs into the
# folder given as argv[1], with the standard library only (the safetensors layout is simple
# enough to write by hand: 8-byte little-endian header size, JSON header, raw data).
import json, os, struct, sys

def safetensors(path, tensors):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)

def f32(n):
    return struct.pack("<%df" % n, *[0.25 * i for i in range(n)])

out = sys.argv[1]
# w: f32[4,4] -- the well-formed file the other cases are variations of
safetensors(os.path.join(out, "good.safetensors"), [("w", "F32", [4, 4], f32(16))])
# the same file cut short in the middle of its data area
good = open(os.path.join(out, "good.safetensors"), "rb").read()
with open(os.path.join(out, "short.safetensors"), "wb") as f:
    f.write(good[:len(good) - 20])
# the file ends inside the 8-byte header length
with open(os.path.join(out, "tiny.safetensors"), "wb") as f:
    f.write(good[:5])
# w stored as I32 where the model declares f32
safetensors(os.path.join(out, "i32.safetensors"),
            [("w", "I32", [4, 4], struct.pack("<16i", *range(16)))])
# w is f32[3,4] where the model declares f32[4,4]
safetensors(os.path.join(out, "shape.safetensors"), [("w", "F32", [3, 4], f32(12))])
