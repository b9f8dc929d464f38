#!/usr/bin/env python3
"""tests/e2e/onnx_index.py -- small ONNX models of the indexing decompositions the node tests
do not cover (Einsum in f32: the node tests' equations, attention forms with batch > 1,
implicit output, ellipsis broadcasting, three operands; GatherND with batch_dims and
negative indices, run-time and constant; Compress with an axis; ReverseSequence in 3-D),
for tests/e2e/test_onnx_index.sh.

    python3 onnx_index.py OUTDIR
    python3 onnx_index.py --compare GOTDIR REFDIR

Writes OUTDIR/<case>.onnx, OUTDIR/<case>/in/<input>.npy (seeded) and the expected outputs
OUTDIR/<case>/ref/<output>.npy, computed here with NumPy (np.einsum, fancy indexing,
np.compress; no code shared with kiln), and prints the case names; also OUTDIR/bad_*.onnx,
models kiln must reject at import, with "<name> <op> <error text>" lines in OUTDIR/bad.txt,
and OUTDIR/run_*.onnx with inputs that are out of range only at run time, listed in
OUTDIR/run.txt.  --compare checks GOTDIR/<output>.npy against every REFDIR/<output>.npy:
same shape and dtype, integers equal, floats within 1e-5 + 1e-4 |ref|."""

import numpy as np

from onnx_models import main, model

def gather_nd(data, idx, b):
    """ONNX GatherND by fancy indexing, one batch at a time."""
    bshape = data.shape[:b]
    out = []
    for bi in np.ndindex(*bshape) if b else [()]:
        d, ix = data[bi], idx[bi]
        out.append(d[tuple(np.moveaxis(ix, -1, 0))])
    return np.stack(out).reshape(idx.shape[:-1] + data.shape[b + idx.shape[-1]:])


def reverse_sequence(x, lens, bax, tax):
    """Batch entry b's first lens[b] time steps reversed."""
    y = x.copy()
    for bi, n in enumerate(lens):
        src = [slice(None)] * x.ndim
        src[bax], src[tax] = bi, slice(0, n)
        y[tuple(src)] = x[tuple(src)][::-1]     # the time dim is the only one left
    return y


def einsum_case(name, eq, *shapes, rng):
    xs = [(chr(ord("a") + i), rng.standard_normal(s).astype(np.float32))
          for i, s in enumerate(shapes)]
    y = np.einsum(eq, *[a.astype(np.float64) for _, a in xs]).astype(np.float32)
    return model(name, "Einsum", xs, dict(equation=eq), [("y", np.asarray(y))])


def cases():
    rng = np.random.default_rng(11)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

    # the node tests' equations (f64 there) in f32, then attention forms with batch > 1
    yield einsum_case("einsum_batch_diagonal", "...ii ->...i", (3, 5, 5), rng=rng)
    yield einsum_case("einsum_batch_matmul", "bij, bjk -> bik", (5, 2, 3), (5, 3, 4), rng=rng)
    yield einsum_case("einsum_inner_prod", "i,i", (5,), (5,), rng=rng)
    yield einsum_case("einsum_sum", "ij->i", (3, 4), rng=rng)
    yield einsum_case("einsum_transpose", "ij->ji", (3, 4), rng=rng)
    yield einsum_case("einsum_attn_scores", "bhid,bhjd->bhij", (2, 3, 4, 5), (2, 3, 6, 5),
                      rng=rng)
    yield einsum_case("einsum_attn_values", "bhij,bhjd->bhid", (2, 3, 4, 6), (2, 3, 6, 5),
                      rng=rng)
    yield einsum_case("einsum_bid_bjd", "bid,bjd->bij", (3, 4, 5), (3, 6, 5), rng=rng)
    yield einsum_case("einsum_implicit", "ij,jk", (2, 3), (3, 4), rng=rng)
    yield einsum_case("einsum_trans_a", "ji,jk->ik", (3, 2), (3, 4), rng=rng)
    yield einsum_case("einsum_three", "ij,jk,kl->li", (2, 3), (3, 4), (4, 5), rng=rng)
    yield einsum_case("einsum_ellipsis_bcast", "...ij,...jk->...ik", (2, 1, 3, 4), (3, 4, 2),
                      rng=rng)
    yield einsum_case("einsum_trace_outer", "ii,jk->kj", (4, 4), (2, 3), rng=rng)
    yield einsum_case("einsum_private_sum", "ijk,jl->li", (2, 3, 4), (3, 5), rng=rng)

    # GatherND: batch_dims 1 with negative indices, batch_dims 0 on i64 data, constant
    # indices (folded) on bool data
    x = f32(2, 3, 4, 5)
    ix = np.array([[[0, -1], [-3, 2]], [[2, -4], [1, 1]]], np.int64)
    yield model("gathernd_batch1_neg", "GatherND", [("x", x), ("i", ix)], dict(batch_dims=1),
                [("y", gather_nd(x, ix, 1))])
    x = rng.integers(-50, 50, (3, 4, 2)).astype(np.int64)
    ix = np.array([[[-1, 0]], [[2, -4]], [[0, 3]]], np.int64)
    yield model("gathernd_i64_k2", "GatherND", [("x", x), ("i", ix)], {},
                [("y", gather_nd(x, ix, 0))])
    x = rng.integers(0, 2, (2, 3, 2)).astype(np.bool_)
    ix = np.array([[1, -1], [0, 2]], np.int64)
    yield model("gathernd_const_bool", "GatherND", [("x", x)], dict(batch_dims=0),
                [("y", gather_nd(x, ix, 0))], [("i", ix)])
    x = f32(2, 3, 4)
    ix = np.array([[[1, -1], [0, 0]], [[2, 3], [-3, -4]]], np.int64)
    yield model("gathernd_batch1_k2", "GatherND", [("x", x), ("i", ix)], dict(batch_dims=1),
                [("y", gather_nd(x, ix, 1))])

    # Compress with an axis, a condition shorter than the dim, and a negative axis
    x = f32(3, 4, 2)
    c = np.array([True, False, True, True])
    yield model("compress_axis1", "Compress", [("x", x)], dict(axis=1),
                [("y", np.compress(c, x, axis=1))], [("c", c)])
    x = rng.integers(-9, 9, (5, 3)).astype(np.int32)
    c = np.array([False, True, False, True])
    yield model("compress_short_neg", "Compress", [("x", x)], dict(axis=-2),
                [("y", np.compress(c, x, axis=-2))], [("c", c)])

    # ReverseSequence in 3-D, both layouts
    x = f32(4, 3, 2)
    lens = np.array([4, 1, 3], np.int64)
    yield model("reversesequence_time_3d", "ReverseSequence", [("x", x)],
                dict(batch_axis=1, time_axis=0), [("y", reverse_sequence(x, lens, 1, 0))],
                [("l", lens)])
    x = f32(3, 5, 2)
    lens = np.array([2, 5, 1], np.int64)
    yield model("reversesequence_batch_3d", "ReverseSequence", [("x", x)],
                dict(batch_axis=0, time_axis=1), [("y", reverse_sequence(x, lens, 0, 1))],
                [("l", lens)])


def bad_cases():
    """(model, expected error text): kiln run must exit 1 with the text on stderr."""
    f = lambda *s: np.zeros(s, np.float32)
    yield (model("bad_einsum_bcast_sum", "Einsum", [("a", f(2, 3)), ("b", f(1, 4))],
                 dict(equation="ij,jk->ik"), [("y", f(2, 4))])[0],
           "Einsum 'ij,jk->ik': summed label 'j' broadcasts 3 against 1, which is not "
           "supported")
    yield (model("bad_einsum_label", "Einsum", [("a", f(2, 3))], dict(equation="ij->k"),
                 [("y", f(2))])[0],
           "Einsum 'ij->k': output label 'k' is not in any input")
    yield (model("bad_einsum_rank", "Einsum", [("a", f(2, 3))], dict(equation="ijk->i"),
                 [("y", f(2))])[0],
           "Einsum 'ijk->i': subscript 'ijk' has 3 labels, operand rank 2")
    ix = np.array([[0, 3]], np.int64)
    yield (model("bad_gathernd_const", "GatherND", [("x", f(2, 3))], {}, [("y", f(1))],
                 [("i", ix)])[0],
           "GatherND: index 3 out of range for data dim 1 of size 3")
    yield (model("bad_gathernd_batch", "GatherND", [("x", f(2, 3))], dict(batch_dims=1),
                 [("y", f(2))], [("i", np.zeros((2, 2), np.int64))])[0],
           "GatherND: expected an index length in 1..1, got 2")
    c = np.array([True, False, False, True])
    yield (model("bad_compress_const", "Compress", [("x", f(3, 2))], dict(axis=0),
                 [("y", f(2, 2))], [("c", c)])[0],
           "Compress: condition entry 3 is true but axis 0 has size 3")
    yield (model("bad_reversesequence_len", "ReverseSequence", [("x", f(2, 3))],
                 dict(batch_axis=0, time_axis=1), [("y", f(2, 3))],
                 [("l", np.array([1, 4], np.int64))])[0],
           "ReverseSequence: sequence_lens[1] = 4 out of range 0..3")


def run_cases():
    """Models whose run-time index is out of range: kiln run must fail, not read."""
    x = np.zeros((2, 3), np.float32)
    for nm, ix in (("run_gathernd_high", np.array([[1, 3]], np.int64)),
                   ("run_gathernd_low", np.array([[-3, 0]], np.int64))):
        yield model(nm, "GatherND", [("x", x), ("i", ix)], {},
                    [("y", np.zeros((1,), np.float32))])


if __name__ == "__main__":
    main("onnx_index.py", cases, bad_cases, run_cases)
