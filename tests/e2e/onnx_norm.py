#!/usr/bin/env python3
"""tests/e2e/onnx_norm.py -- small ONNX models of the LRN and MeanVarianceNormalization
variants the node tests do not cover (LRN with an even size, a size wider than the
channels, rank 3 and rank 5 inputs; MVN with custom and negative axes, rank 3 and 5, a
constant slice), for tests/e2e/test_onnx_norm.sh.

    python3 onnx_norm.py OUTDIR
    python3 onnx_norm.py --compare GOTDIR REFDIR

Writes OUTDIR/<case>.onnx, OUTDIR/<case>/in/<input>.npy (seeded) and the expected outputs
OUTDIR/<case>/ref/<output>.npy, computed here in float64 from the ONNX definitions (numpy
only; no code shared with kiln), and prints the case names; also OUTDIR/bad_*.onnx, models
kiln must reject, with "<name> <op> <error text>" lines in OUTDIR/bad.txt.  --compare
checks GOTDIR/<output>.npy against every REFDIR/<output>.npy: same shape and dtype,
within 1e-5 + 1e-4 |ref|.

The references match ONNX Runtime 1.32 within 3e-7 on the models it runs: it rejects even
LRN sizes, and its MVN kernel, having no epsilon, gives NaN on the constant slice where
the ONNX function body (and the onnx package's reference evaluator) gives 0.  The even
sizes were checked against the onnx package's reference LRN at N = C (its channel loop
runs over N, so it is only right there)."""

import numpy as np

import onnx_models
from onnx_models import main


# ------------------------------------------------------------------ references

def lrn_ref(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    """y[n, c] = x[n, c] / (bias + alpha / size * sum of x[n, i]^2 for i in
    [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)] inside 0..C-1)^beta."""
    x64 = x.astype(np.float64)
    y = np.empty_like(x64)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    ch = x.shape[1]
    for c in range(ch):
        s = (x64[:, max(0, c - lo):min(ch, c + hi + 1)] ** 2).sum(axis=1)
        y[:, c] = x64[:, c] / (bias + alpha / size * s) ** beta
    return y.astype(np.float32)


def mvn_ref(x, axes):
    """(x - mean) / (sqrt(mean((x - mean)^2)) + 1e-9) over axes, as ONNX's function body
    (which takes the variance as E[x^2] - E[x]^2, the same value in exact arithmetic)."""
    x64 = x.astype(np.float64)
    m = x64.mean(axis=tuple(axes), keepdims=True)
    sd = np.sqrt(((x64 - m) ** 2).mean(axis=tuple(axes), keepdims=True))
    return ((x64 - m) / (sd + 1e-9)).astype(np.float32)


# ------------------------------------------------------------------ models

def model(name, op, x, attrs, y):
    """One-node model y = op(x); returns (model, inputs, outputs)."""
    return onnx_models.model(name, op, [("x", x)], attrs, [("y", y)])


def cases():
    rng = np.random.default_rng(11)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

    # LRN, even size (window one channel longer after c than before), rank 3
    x = f32(2, 5, 7)
    at = dict(size=4, alpha=0.02, beta=0.6, bias=1.5)
    yield model("lrn_even_rank3", "LRN", x, at, lrn_ref(x, 4, 0.02, 0.6, 1.5))
    # LRN, odd size, rank 5
    x = f32(1, 6, 2, 3, 2)
    at = dict(size=3, alpha=0.5, beta=0.75, bias=2.0)
    yield model("lrn_rank5", "LRN", x, at, lrn_ref(x, 3, 0.5, 0.75, 2.0))
    # LRN, a window wider than the channels, large values, default alpha, beta, bias
    x = f32(2, 3, 4, 2) * 30
    yield model("lrn_wide", "LRN", x, dict(size=8), lrn_ref(x, 8))
    # LRN of size 1: each channel alone
    x = f32(1, 4, 3, 3)
    at = dict(size=1, alpha=1.0, beta=0.5, bias=1.0)
    yield model("lrn_size1", "LRN", x, at, lrn_ref(x, 1, 1.0, 0.5, 1.0))

    # MVN over custom axes of rank 3, 4 and 5 inputs; a negative axis
    x = f32(3, 4, 5)
    yield model("mvn_axis1_rank3", "MeanVarianceNormalization", x, dict(axes=[1]),
                mvn_ref(x, [1]))
    x = f32(2, 3, 4, 5) * 4 + 3
    yield model("mvn_axes23", "MeanVarianceNormalization", x, dict(axes=[2, 3]),
                mvn_ref(x, [2, 3]))
    x = f32(2, 3, 2, 3, 4)
    yield model("mvn_default_rank5", "MeanVarianceNormalization", x, {},
                mvn_ref(x, [0, 2, 3]))
    x = f32(2, 3, 6)
    yield model("mvn_negative_axes", "MeanVarianceNormalization", x, dict(axes=[0, -1]),
                mvn_ref(x, [0, 2]))
    # a constant slice: zero deviation, the epsilon keeps 0 / 1e-9 = 0
    x = f32(2, 3, 4)
    x[1] = 2.5
    yield model("mvn_constant", "MeanVarianceNormalization", x, dict(axes=[1, 2]),
                mvn_ref(x, [1, 2]))


def bad_cases():
    """(model, expected error text): kiln run must exit 1 with the text on stderr."""
    x2, x4 = np.zeros((2, 3), np.float32), np.zeros((1, 3, 2, 2), np.float32)
    x3 = np.zeros((2, 3, 4), np.float32)
    x8 = np.zeros((1,) * 8, np.float32)
    yield (model("bad_lrn_nosize", "LRN", x4, {}, x4)[0],
           "LRN: missing required attribute 'size'")
    yield (model("bad_lrn_size0", "LRN", x4, dict(size=0), x4)[0],
           "LRN: expected size >= 1, got 0")
    yield (model("bad_lrn_rank2", "LRN", x2, dict(size=3), x2)[0],
           "LRN: expected an [N, C, ...] input of rank 3..7, got rank 2")
    yield (model("bad_lrn_rank8", "LRN", x8, dict(size=1), x8)[0],
           "LRN: expected an [N, C, ...] input of rank 3..7, got rank 8")
    yield (model("bad_mvn_axis", "MeanVarianceNormalization", x4, dict(axes=[1, 4]), x4)[0],
           "MeanVarianceNormalization: axis 4 out of range for rank 4")
    yield (model("bad_mvn_twice", "MeanVarianceNormalization", x4, dict(axes=[1, -3]), x4)[0],
           "MeanVarianceNormalization: axis 1 given twice")
    yield (model("bad_mvn_default_rank3", "MeanVarianceNormalization", x3, {}, x3)[0],
           "MeanVarianceNormalization: axis 3 out of range for rank 3")


if __name__ == "__main__":
    main("onnx_norm.py", cases, bad_cases)
