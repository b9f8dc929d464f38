"""tests/e2e/onnx_models.py -- shared by the small-model generators (onnx_pool3d.py,
onnx_norm.py, onnx_index.py): one-node ONNX models built with onnx.helper, the files they
write for tests/e2e/onnx_models_lib.sh, and the comparison of kiln's outputs with their
NumPy references (same shape and dtype, integers equal, floats within 1e-5 + 1e-4 |ref|,
non-finite values equal)."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
             np.dtype(np.int32): TensorProto.INT32, np.dtype(np.int8): TensorProto.INT8,
             np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.bool_): TensorProto.BOOL}


def model(name, op, inputs, attrs, outputs, inits=(), opset=13):
    """One-node model; inputs: [(name, array)] fed at run time; inits: [(name, array)]
    initializers; outputs: [(name, array)] expected.  Returns (model, inputs, outputs)."""
    def vi(nm, a):
        return helper.make_tensor_value_info(nm, ONNX_TYPE[a.dtype], list(a.shape))
    node = helper.make_node(op, [n for n, _ in inputs] + [n for n, _ in inits],
                            [n for n, _ in outputs], **attrs)
    g = helper.make_graph([node], name, [vi(n, a) for n, a in inputs],
                          [vi(n, a) for n, a in outputs],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m, inputs, outputs


def compare(got_dir, ref_dir):
    """Number of REFDIR/<output>.npy files GOTDIR does not match (each printed)."""
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
            fin = np.isfinite(ref)
            err = np.abs(got[fin].astype(np.float64) - ref[fin])
            ok = bool(np.all(err <= 1e-5 + 1e-4 * np.abs(ref[fin])) and
                      np.array_equal(got[~fin], ref[~fin]))
            what = "max abs error %.3g" % (err.max() if err.size else 0.0)
        else:
            ok = bool(np.array_equal(got, ref))
            what = "equal" if ok else "differs"
        print("  %s: %s (%s)" % (f[:-4], what, "ok" if ok else "MISMATCH"))
        bad += not ok
    return bad


def save(out, m, arrays):
    """OUT/<model>.onnx and OUT/<model>/<sub>/<name>.npy for each (sub, [(name, array)])."""
    name = m.graph.name
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
    for sub, arr in arrays:
        os.makedirs(os.path.join(out, name, sub), exist_ok=True)
        for nm, a in arr:
            np.save(os.path.join(out, name, sub, nm + ".npy"), a)


def main(prog, cases, bad_cases, run_cases=None):
    """prog OUTDIR: writes every case (names printed), bad.txt ("<name> <op> <message>") and,
    with run_cases, run.txt; prog --compare GOTDIR REFDIR: exit 1 on a mismatch."""
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        sys.exit(1 if compare(sys.argv[2], sys.argv[3]) else 0)
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUTDIR | --compare GOTDIR REFDIR" % prog)
    out = sys.argv[1]
    for m, inputs, outputs in cases():
        save(out, m, (("in", inputs), ("ref", outputs)))
        print(m.graph.name)
    with open(os.path.join(out, "bad.txt"), "w") as f:
        for m, msg in bad_cases():
            save(out, m, ())
            f.write("%s %s %s\n" % (m.graph.name, m.graph.node[0].op_type, msg))
    if run_cases:
        with open(os.path.join(out, "run.txt"), "w") as f:
            for m, inputs, _ in run_cases():
                save(out, m, (("in", inputs),))
                f.write("%s\n" % m.graph.name)
