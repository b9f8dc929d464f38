#!/usr/bin/env python3
"""tests/onnx/models/npy_compare.py -- compares kiln's outputs with reference outputs.

    python3 npy_compare.py GOTDIR REFDIR [ATOL RTOL]

Every REFDIR/<name>.npy must have a GOTDIR/<name>.npy of the same shape; floats must
satisfy |got - ref| <= ATOL + RTOL |ref| (default 1e-4, 1e-3), other types must be equal.
Prints one line per output with its max abs error; exit 1 on any mismatch."""
import os
import sys

import numpy as np


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit("usage: npy_compare.py GOTDIR REFDIR [ATOL RTOL]")
    got_dir, ref_dir = sys.argv[1], sys.argv[2]
    atol, rtol = (float(sys.argv[3]), float(sys.argv[4])) if len(sys.argv) == 5 else (1e-4, 1e-3)
    names = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    if not names:
        sys.exit("npy_compare: no reference outputs in %s" % ref_dir)
    bad = 0
    for f in names:
        ref = np.load(os.path.join(ref_dir, f))
        path = os.path.join(got_dir, f)
        if not os.path.exists(path):
            print("  %s: missing (expected %s)" % (f[:-4], path))
            bad += 1
            continue
        got = np.load(path)
        if got.shape != ref.shape:
            print("  %s: shape %s, expected %s" % (f[:-4], got.shape, ref.shape))
            bad += 1
            continue
        if ref.dtype.kind == "f":
            err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
            ok = bool(np.all(err <= atol + rtol * np.abs(ref.astype(np.float64))))
            print("  %s: max abs error %.3g (%s)" % (f[:-4], err.max() if err.size else 0.0,
                                                    "ok" if ok else "MISMATCH"))
        else:
            ok = got.dtype == ref.dtype and bool(np.array_equal(got, ref))
            print("  %s: %s" % (f[:-4], "equal (ok)" if ok else "MISMATCH"))
        bad += not ok
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
