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
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
             np.dtype(np.int32): TensorProto.INT32, np.dtype(np.bool_): TensorProto.BOOL}


def model(name, op, inputs, attrs, outputs, inits=()):
    """One-node model; inputs: [(name, array)] fed at run time; inits: [(name, array)]
    initializers; outputs: [(name, array)] expected.  Returns (model, inputs, outputs)."""
    def vi(nm, a):
        return helper.make_tensor_value_info(nm, ONNX_TYPE[a.dtype], list(a.shape))
    node = helper.make_node(op, [n for n, _ in inputs] + [n for n, _ in inits],
                            [n for n, _ in outputs], **attrs)
    g = helper.make_graph([node], name, [vi(n, a) for n, a in inputs],
                          [vi(n, a) for n, a in outputs],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m, inputs, outputs


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


def compare(got_dir, ref_dir):
    bad = 0
    for f in sorted(os.listdir(ref_dir)):
        ref = np.load(os.path.join(ref_dir, f))
        path = os.path.join(got_dir, f)
        got = np.load(path) if os.path.exists(path) else None
        if got is None or got.shape != ref.shape or got.dtype != ref.dtype:
            print("  %s: got %s, expected %s %s" % (f[:-4], "nothing" if got is None else
                  "%s %s" % (got.dtype, got.shape), ref.dtype, ref.shape))
            bad += 1
            continue
        if ref.dtype.kind == "f":
            err = np.abs(got.astype(np.float64) - ref)
            ok = bool(np.all(err <= 1e-5 + 1e-4 * np.abs(ref)))
            what = "max abs error %.3g" % (err.max() if err.size else 0.0)
        else:
            ok = bool(np.array_equal(got, ref))
            what = "equal" if ok else "differs"
        print("  %s: %s (%s)" % (f[:-4], what, "ok" if ok else "MISMATCH"))
        bad += not ok
    return bad


def save(out, m, arrays):
    name = m.graph.name
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
    for sub, arr in arrays:
        os.makedirs(os.path.join(out, name, sub), exist_ok=True)
        for nm, a in arr:
            np.save(os.path.join(out, name, sub, nm + ".npy"), a)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        sys.exit(1 if compare(sys.argv[2], sys.argv[3]) else 0)
    if len(sys.argv) != 2:
        sys.exit("usage: onnx_index.py OUTDIR | --compare GOTDIR REFDIR")
    out = sys.argv[1]
    for m, inputs, outputs in cases():
        save(out, m, (("in", inputs), ("ref", outputs)))
        print(m.graph.name)
    with open(os.path.join(out, "bad.txt"), "w") as f:
        for m, msg in bad_cases():
            save(out, m, ())
            f.write("%s %s %s\n" % (m.graph.name, m.graph.node[0].op_type, msg))
    with open(os.path.join(out, "run.txt"), "w") as f:
        for m, inputs, _ in run_cases():
            save(out, m, (("in", inputs),))
            f.write("%s\n" % m.graph.name)


if __name__ == "__main__":
    main()
