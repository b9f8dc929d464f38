#!/usr/bin/env python3
"""tests/e2e/onnx_pool3d.py -- small ONNX models of the window variants the node tests do
not cover (3-D Conv and ConvTranspose with groups, strides, dilations and pads; 3-D
AveragePool with pads, count_include_pad and ceil_mode; MaxPool with dilations, i8/u8,
Indices and storage_order), for tests/e2e/test_onnx_pool3d.sh.

    python3 onnx_pool3d.py OUTDIR
    python3 onnx_pool3d.py --compare GOTDIR REFDIR

Writes OUTDIR/<case>.onnx, OUTDIR/<case>/in/<input>.npy (seeded) and the expected outputs
OUTDIR/<case>/ref/<output>.npy, computed here by direct loops over the ONNX definitions
(numpy only; no code shared with kiln; they match ONNX Runtime 1.32), and prints the case
names; also OUTDIR/bad_*.onnx, models kiln must reject, with "<name> <op> <error text>"
lines in OUTDIR/bad.txt.  --compare checks GOTDIR/<output>.npy against every REFDIR/<output>.npy: same shape
and dtype, integers equal, floats within 1e-5 + 1e-4 |ref| with infinities equal."""
import itertools

import numpy as np

from onnx_models import main, model


# ------------------------------------------------------------------ references

def out_len(n, k, s, d, pb, pe, ceil=False):
    span = n + pb + pe - ((k - 1) * d + 1)
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= n + pb:      # last window must start inside the input
        o -= 1
    return o


def conv_ref(x, w, b, strides, dils, pb, pe, group):
    """y[n, m, o] = b[m] + sum over c in m's group and taps k of x[n, c, o s + k d - pb] w."""
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    ks = w.shape[2:]
    outs = [out_len(x.shape[2 + i], ks[i], strides[i], dils[i], pb[i], pe[i])
            for i in range(len(ks))]
    y = np.zeros((n, m) + tuple(outs))
    mg = m // group
    for pos in itertools.product(*[range(o) for o in outs]):
        for tap in itertools.product(*[range(k) for k in ks]):
            src = [pos[i] * strides[i] + tap[i] * dils[i] - pb[i] for i in range(len(ks))]
            if any(s < 0 or s >= x.shape[2 + i] for i, s in enumerate(src)):
                continue
            for g in range(group):
                xv = x[(slice(None), slice(g * cg, (g + 1) * cg)) + tuple(src)]   # [n, cg]
                wv = w[(slice(g * mg, (g + 1) * mg), slice(None)) + tap]           # [mg, cg]
                y[(slice(None), slice(g * mg, (g + 1) * mg)) + pos] += xv @ wv.T
    if b is not None:
        y += b.reshape((1, m) + (1,) * len(ks))
    return y.astype(np.float32)


def convt_ref(x, w, b, strides, dils, pb, pe, opad, group):
    """Scatter form: y[n, m, i s + k d - pb] += x[n, c, i] w[c, m, k]; cropped by pb, pe."""
    n, c = x.shape[:2]
    cg, mg = c // group, w.shape[1]
    ks = w.shape[2:]
    full = [strides[i] * (x.shape[2 + i] - 1) + opad[i] + (ks[i] - 1) * dils[i] + 1
            for i in range(len(ks))]
    y = np.zeros((n, mg * group) + tuple(full))
    for pos in itertools.product(*[range(d) for d in x.shape[2:]]):
        for tap in itertools.product(*[range(k) for k in ks]):
            dst = tuple(pos[i] * strides[i] + tap[i] * dils[i] for i in range(len(ks)))
            for g in range(group):
                xv = x[(slice(None), slice(g * cg, (g + 1) * cg)) + pos]            # [n, cg]
                wv = w[(slice(g * cg, (g + 1) * cg), slice(None)) + tap]            # [cg, mg]
                y[(slice(None), slice(g * mg, (g + 1) * mg)) + dst] += xv @ wv
    crop = tuple(slice(pb[i], full[i] - pe[i]) for i in range(len(ks)))
    y = y[(slice(None), slice(None)) + crop]
    if b is not None:
        y += b.reshape((1, -1) + (1,) * len(ks))
    return y.astype(np.float32)


def pool_ref(x, kind, ks, strides, dils, pb, pe, ceil=False, count_pad=0, order=0):
    """ONNX pools: max over the in-bounds taps (Indices: the first strictly greater one in
    row-major tap order; storage_order 1 numbers the spatial dims column-major); average
    over the in-bounds taps, or with count_include_pad over the taps inside the explicit
    padding (never the ceil-mode extra)."""
    n, c = x.shape[:2]
    sp = x.shape[2:]
    outs = [out_len(sp[i], ks[i], strides[i], dils[i], pb[i], pe[i], ceil)
            for i in range(len(ks))]
    y = np.zeros((n, c) + tuple(outs), dtype=np.float64 if kind == "avg" else x.dtype)
    idx = np.zeros((n, c) + tuple(outs), dtype=np.int64)
    for a, b in itertools.product(range(n), range(c)):
        for pos in itertools.product(*[range(o) for o in outs]):
            best, besti, tot, cnt = None, -1, 0.0, 0
            for tap in itertools.product(*[range(k) for k in ks]):
                q = [pos[i] * strides[i] + tap[i] * dils[i] - pb[i] for i in range(len(ks))]
                inside = all(0 <= q[i] < sp[i] for i in range(len(ks)))
                in_pad = all(-pb[i] <= q[i] < sp[i] + pe[i] for i in range(len(ks)))
                if kind == "avg" and (inside or (count_pad and in_pad)):
                    cnt += 1
                    tot += float(x[(a, b) + tuple(q)]) if inside else 0.0
                if kind == "max" and inside:
                    v = x[(a, b) + tuple(q)]
                    if best is None or v > best:
                        best = v
                        dims = range(len(ks)) if order else reversed(range(len(ks)))
                        flat, step = 0, 1
                        for i in dims:
                            flat += q[i] * step
                            step *= sp[i]
                        besti = (a * c + b) * int(np.prod(sp)) + flat
            y[(a, b) + pos] = tot / cnt if kind == "avg" else best
            idx[(a, b) + pos] = besti
    return y.astype(x.dtype), idx


# ------------------------------------------------------------------ models

def cases():
    rng = np.random.default_rng(7)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

    # 3-D conv: groups, per-axis strides, dilations and asymmetric pads, bias
    x, w, b = f32(2, 4, 5, 6, 7), f32(6, 2, 3, 2, 3), f32(6)
    at = dict(group=2, strides=[2, 1, 2], dilations=[1, 2, 1], pads=[1, 0, 1, 0, 1, 1])
    y = conv_ref(x, w, b, [2, 1, 2], [1, 2, 1], [1, 0, 1], [0, 1, 1], 2)
    yield model("conv3d_group", "Conv", [("x", x)], at, [("y", y)], [("w", w), ("b", b)])

    # 3-D conv, auto_pad SAME_UPPER, no bias: pads (0, 1) per dim for k = 2
    x, w = f32(1, 3, 4, 5, 3), f32(2, 3, 2, 2, 2)
    y = conv_ref(x, w, None, [1, 1, 1], [1, 1, 1], [0, 0, 0], [1, 1, 1], 1)
    yield model("conv3d_same", "Conv", [("x", x)], dict(auto_pad="SAME_UPPER"), [("y", y)],
                [("w", w)])

    # 3-D transposed conv: groups, strides, dilations, pads, output_padding, bias
    x, w, b = f32(1, 4, 3, 2, 3), f32(4, 3, 2, 3, 2), f32(6)
    at = dict(group=2, strides=[2, 3, 1], dilations=[1, 1, 2], pads=[1, 0, 0, 0, 1, 1],
              output_padding=[1, 0, 0])
    y = convt_ref(x, w, b, [2, 3, 1], [1, 1, 2], [1, 0, 0], [0, 1, 1], [1, 0, 0], 2)
    yield model("convtranspose3d", "ConvTranspose", [("x", x)], at, [("y", y)],
                [("w", w), ("b", b)])

    # 3-D average pools: pads with count_include_pad 1 and 0, with ceil_mode
    x = f32(1, 2, 5, 6, 7)
    for cp in (0, 1):
        for ceil in (0, 1):
            at = dict(kernel_shape=[3, 2, 3], strides=[2, 2, 2], pads=[1, 0, 1, 1, 1, 0],
                      count_include_pad=cp, ceil_mode=ceil)
            y, _ = pool_ref(x, "avg", [3, 2, 3], [2, 2, 2], [1, 1, 1], [1, 0, 1], [1, 1, 0],
                            ceil, cp)
            yield model("avgpool3d_cp%d_ceil%d" % (cp, ceil), "AveragePool", [("x", x)], at,
                        [("y", y)])

    # 2-D average pool, ceil_mode with count_include_pad (explicit zero padding)
    x = f32(1, 1, 5, 5)
    at = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1,
              ceil_mode=1)
    y, _ = pool_ref(x, "avg", [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], True, 1)
    yield model("avgpool2d_ceil_cp", "AveragePool", [("x", x)], at, [("y", y)])

    # 1-D max pool with dilations, pads, strides
    x = f32(2, 3, 11)
    at = dict(kernel_shape=[3], dilations=[2], strides=[2], pads=[2, 1])
    y, _ = pool_ref(x, "max", [3], [2], [2], [2], [1])
    yield model("maxpool1d_dilation", "MaxPool", [("x", x)], at, [("y", y)])

    # 3-D max pool with dilations and ceil_mode (the gather route in 3-D)
    x = f32(1, 2, 5, 6, 7)
    at = dict(kernel_shape=[2, 2, 3], dilations=[2, 1, 2], strides=[1, 2, 2],
              pads=[0, 1, 1, 1, 0, 1], ceil_mode=1)
    y, _ = pool_ref(x, "max", [2, 2, 3], [1, 2, 2], [2, 1, 2], [0, 1, 1], [1, 0, 1], True)
    yield model("maxpool3d_dilation", "MaxPool", [("x", x)], at, [("y", y)])

    # 3-D f32 max pool with pads and ceil_mode (separable route)
    x = f32(2, 2, 5, 4, 6)
    at = dict(kernel_shape=[2, 3, 2], strides=[2, 2, 2], pads=[1, 1, 0, 0, 1, 0], ceil_mode=1)
    y, _ = pool_ref(x, "max", [2, 3, 2], [2, 2, 2], [1, 1, 1], [1, 1, 0], [0, 1, 0], True)
    yield model("maxpool3d_ceil", "MaxPool", [("x", x)], at, [("y", y)])

    # i8 max pool with pads: the pad value is -128, below every input
    x = rng.integers(-128, 128, (1, 2, 6, 5)).astype(np.int8)
    x[0, 1] = -128
    at = dict(kernel_shape=[3, 3], strides=[2, 1], pads=[1, 1, 1, 1])
    y, _ = pool_ref(x, "max", [3, 3], [2, 1], [1, 1], [1, 1], [1, 1])
    yield model("maxpool_i8", "MaxPool", [("x", x)], at, [("y", y)])

    # Indices with padding, storage_order 1, ties and a channel that is all -inf: the
    # first maximum that is not padding
    x = np.round(f32(2, 3, 5, 6) * 2) / 2
    x[1, 2] = -np.inf
    x[0, 1, :2, :3] = 9.0
    for order in (0, 1):
        at = dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 0], storage_order=order)
        y, i = pool_ref(x, "max", [3, 2], [2, 2], [1, 1], [1, 1], [1, 0], order=order)
        yield model("maxpool_indices_order%d" % order, "MaxPool", [("x", x)], at,
                    [("y", y), ("i", i)])

    # u8 Indices with zeros tying the padding, dilations and ceil_mode
    x = rng.integers(0, 4, (1, 2, 6, 6)).astype(np.uint8)
    x[0, 0, :3, :3] = 0
    at = dict(kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 1], pads=[1, 1, 0, 0],
              ceil_mode=1)
    y, i = pool_ref(x, "max", [2, 2], [2, 2], [2, 1], [1, 1], [0, 0], True)
    yield model("maxpool_indices_u8", "MaxPool", [("x", x)], at, [("y", y), ("i", i)])

    # 3-D Indices
    x = f32(1, 2, 4, 5, 4)
    at = dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[1, 1, 0, 0, 1, 1])
    y, i = pool_ref(x, "max", [2, 3, 2], [2, 1, 2], [1, 1, 1], [1, 1, 0], [0, 1, 1])
    yield model("maxpool3d_indices", "MaxPool", [("x", x)], at, [("y", y), ("i", i)])


def bad_cases():
    """(model, expected error text): kiln run must exit 1 with the text on stderr."""
    x4, x6 = np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 2, 2, 2, 2), np.float32)
    y = np.zeros((1,), np.float32)
    yield (model("bad_rank6", "MaxPool", [("x", x6)], dict(kernel_shape=[1, 1, 1, 1]),
                 [("y", y)])[0],
           "MaxPool: only 1-D, 2-D and 3-D inputs are supported, got rank 6")
    yield (model("bad_avg_dilations", "AveragePool", [("x", x4)],
                 dict(kernel_shape=[2, 2], dilations=[2, 2]), [("y", y)])[0],
           "AveragePool: dilations are not supported")
    yield (model("bad_no_kernel", "MaxPool", [("x", x4)], {}, [("y", y)])[0],
           "MaxPool: missing attribute 'kernel_shape'")
    yield (model("bad_pads", "MaxPool", [("x", x4)], dict(kernel_shape=[2, 2], pads=[1, 1, 1]),
                 [("y", y)])[0],
           "MaxPool: 'pads': expected 4 values, got 3")
    yield (model("bad_stride", "AveragePool", [("x", x4)],
                 dict(kernel_shape=[2, 2], strides=[0, 1]), [("y", y)])[0],
           "AveragePool: 'strides': expected values in 1..2147483647, got 0")
    yield (model("bad_dilated_fit", "MaxPool", [("x", x4)],
                 dict(kernel_shape=[2, 2], dilations=[4, 1]), [("y", y)])[0],
           "MaxPool: window of 2 (dilation 4) does not fit a dim of 4 padded by 0 and 0")
    yield (model("bad_indices_pad", "MaxPool", [("x", x4)],
                 dict(kernel_shape=[2, 2], pads=[2, 0, 0, 0]), [("y", y), ("i", y)])[0],
           "MaxPool: a window lies entirely in the padding; its Indices are undefined")
    yield (model("bad_pad_ge_kernel_i8", "MaxPool", [("x", x4.astype(np.int8))],
                 dict(kernel_shape=[2, 2], pads=[2, 2, 2, 2]), [("y", y.astype(np.int8))])[0],
           "MaxPool: padding 2 must be smaller than the kernel 2")
    yield (model("bad_pad_ge_kernel_dilated", "MaxPool", [("x", x4)],
                 dict(kernel_shape=[2, 2], pads=[0, 3, 0, 0], dilations=[2, 2]), [("y", y)])[0],
           "MaxPool: padding 3 must be smaller than the kernel 2")
    w = np.zeros((4, 3, 1, 1, 1), np.float32)
    yield (model("bad_conv3d_weight", "Conv", [("x", np.zeros((1, 4, 2, 2, 2), np.float32))],
                 {}, [("y", y)], [("w", w)])[0],
           "Conv: weight f32[4,3,1,1,1] does not fit input f32[1,4,2,2,2] (group 1)")


if __name__ == "__main__":
    main("onnx_pool3d.py", cases, bad_cases)
