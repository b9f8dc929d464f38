#!/usr/bin/python3
"""samples/tools/safetensors.py -- minimal safetensors writer and reader on numpy.

Format: 8-byte little-endian header length H, then H bytes of JSON
  {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
padded with spaces to a multiple of 8, then the data area (offsets relative to its start).
Keys are written sorted and data is stored in that order, so output is byte-deterministic.

    save(path, {"fc1.weight": array, ...})
    tensors = load(path)        # dict name -> numpy array (a copy, C order, little-endian)
"""
import json
import struct

import numpy as np

DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def _code(dtype):
    for code, dt in DTYPES.items():
        if dt == np.dtype(dtype).newbyteorder("<") or dt == np.dtype(dtype):
            return code
    raise ValueError("unsupported dtype %s" % dtype)


def save(path, tensors):
    """Write dict name -> numpy array as a safetensors file at path."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        code = _code(a.dtype)
        data = np.ascontiguousarray(a, dtype=DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": [int(d) for d in a.shape],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def load(path):
    """Read a safetensors file into a dict name -> numpy array."""
    with open(path, "rb") as f:
        buf = f.read()
    (hlen,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        shape = tuple(e["shape"])
        n = int(np.prod(shape, dtype=np.int64))
        if end - begin != n * dt.itemsize or base + end > len(buf):
            raise ValueError("%s: bad data_offsets for %s" % (path, name))
        out[name] = np.frombuffer(buf, dt, n, base + begin).reshape(shape).copy()
    return out


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        for k, v in sorted(load(p).items()):
            print("%s: %s %s %s" % (p, k, v.dtype, list(v.shape)))
