#!/usr/bin/env python3
"""tests/onnx/models/export.py -- exports the small real-model fixtures of the ONNX
differential tests (tests/e2e/test_onnx_ort.sh): PyTorch modules with random weights
(torch.manual_seed(0)) at the opsets PyTorch uses, plus two QDQ / QLinear models built
with onnx.helper, each with seeded inputs and ONNX Runtime's outputs as .npy files.

    python3 tests/onnx/models/export.py [OUTDIR]        (default: this script's folder)

Needs torch, onnx and numpy (Debian: python3-torch python3-onnx python3-numpy); the
reference outputs need onnxruntime (pip install onnxruntime onnx numpy), run here through
ort_run.py, possibly with another python3 (set ORT_PYTHON).  Layout per model NAME:
NAME.onnx, NAME/<input>.npy, NAME/ref/<output>.npy.  CI never runs this script: it uses
the committed files.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- PyTorch models

def torch_models():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class TinyCNN(nn.Module):
        """conv-bn-relu stem, a residual block, a BatchNorm after the residual add (kept as
        BatchNormalization: only conv-bn pairs are folded), max pool, global pool, linear;
        nested Sequentials give initializer names such as head.0.1.weight."""
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(8), nn.ReLU())
            self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8),
                                       nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
            self.post_bn = nn.BatchNorm2d(8)
            self.head = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(8, 10)))

        def forward(self, x):
            x = self.stem(x)
            x = F.relu(self.post_bn(x + self.block(x)))
            x = F.max_pool2d(x, 2)
            x = F.adaptive_avg_pool2d(x, 1)
            return self.head(x)

    class MobileBlock(nn.Module):
        """MobileNetV3-style inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project,
        hardswish, residual, then pooling and a classifier."""
        def __init__(self):
            super().__init__()
            self.expand = nn.Sequential(nn.Conv2d(16, 48, 1, bias=False), nn.BatchNorm2d(48),
                                        nn.Hardswish())
            self.dw = nn.Sequential(nn.Conv2d(48, 48, 3, padding=1, groups=48, bias=False),
                                    nn.BatchNorm2d(48), nn.Hardswish())
            self.project = nn.Sequential(nn.Conv2d(48, 16, 1, bias=False), nn.BatchNorm2d(16))
            self.down = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=16),
                                      nn.ReLU6())
            self.fc = nn.Linear(32, 5)

        def forward(self, x):
            x = x + self.project(self.dw(self.expand(x)))
            x = self.down(x)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class Bert(nn.Module):
        """BERT-style encoder layer: word + position + token-type Gather embeddings,
        LayerNorm (decomposed at opset 14), multi-head attention with a Where mask built
        from attention_mask, Erf-GELU feed-forward, a pooler."""
        def __init__(self, vocab=100, seq=16, d=32, heads=4):
            super().__init__()
            self.heads, self.d = heads, d
            self.word = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(seq, d)
            self.tok = nn.Embedding(2, d)
            self.ln0 = nn.LayerNorm(d, eps=1e-12)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln1 = nn.LayerNorm(d, eps=1e-12)
            self.ff1 = nn.Linear(d, 4 * d)
            self.ff2 = nn.Linear(4 * d, d)
            self.ln2 = nn.LayerNorm(d, eps=1e-12)
            self.pool = nn.Linear(d, d)

        def forward(self, input_ids, attention_mask):
            b, s = input_ids.shape
            pos = torch.arange(s).unsqueeze(0)
            tok = self.tok(torch.zeros_like(input_ids))
            h = self.ln0(self.word(input_ids) + self.pos(pos) + tok)
            q, k, v = self.qkv(h).split(self.d, dim=-1)
            split = lambda t: t.view(b, s, self.heads, self.d // self.heads).transpose(1, 2)
            q, k, v = split(q), split(k), split(v)
            scores = q @ k.transpose(-1, -2) / (self.d // self.heads) ** 0.5
            mask = (attention_mask == 0)[:, None, None, :]
            scores = torch.where(mask, torch.tensor(-1e4), scores)
            ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, self.d)
            h = self.ln1(h + self.proj(ctx))
            h = self.ln2(h + self.ff2(F.gelu(self.ff1(h))))
            return h, torch.tanh(self.pool(h[:, 0]))

    class GPT2(nn.Module):
        """GPT-2-style decoder block: token + position embeddings, pre-LayerNorm
        (LayerNormalization at opset 17), causal self-attention (a registered lower-triangle
        buffer, masked_fill), tanh-GELU MLP, final LayerNorm and tied LM head."""
        def __init__(self, vocab=64, seq=8, d=32, heads=2):
            super().__init__()
            self.heads, self.d = heads, d
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(seq, d)
            self.ln_1 = nn.LayerNorm(d)
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            self.ln_2 = nn.LayerNorm(d)
            self.c_fc = nn.Linear(d, 4 * d)
            self.c_fc_proj = nn.Linear(4 * d, d)
            self.ln_f = nn.LayerNorm(d)
            self.register_buffer("bias", torch.tril(torch.ones(seq, seq)).view(1, 1, seq, seq))

        def forward(self, input_ids):
            b, s = input_ids.shape
            x = self.wte(input_ids) + self.wpe(torch.arange(s))
            q, k, v = self.c_attn(self.ln_1(x)).split(self.d, dim=2)
            split = lambda t: t.view(b, s, self.heads, self.d // self.heads).transpose(1, 2)
            q, k, v = split(q), split(k), split(v)
            att = (q @ k.transpose(-2, -1)) * (1.0 / (self.d // self.heads) ** 0.5)
            att = att.masked_fill(self.bias[:, :, :s, :s] == 0, float("-inf"))
            y = (att.softmax(dim=-1) @ v).transpose(1, 2).contiguous().view(b, s, self.d)
            x = x + self.c_proj(y)
            x = x + self.c_fc_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
            return self.ln_f(x) @ self.wte.weight.t()

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 100, size=(1, 16)).astype(np.int64)
    mask = np.ones((1, 16), np.int64)
    mask[0, 12:] = 0
    return [
        ("tiny_cnn", TinyCNN, 11, {"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)},
         ["logits"]),
        ("mobile_block", MobileBlock, 14,
         {"x": rng.standard_normal((1, 16, 12, 12)).astype(np.float32)}, ["logits"]),
        ("bert_layer", Bert, 14, {"input_ids": ids, "attention_mask": mask},
         ["hidden", "pooled"]),
        ("gpt2_block", GPT2, 17,
         {"input_ids": rng.integers(0, 64, size=(1, 8)).astype(np.int64)}, ["logits"]),
    ]


def export_torch(outdir):
    import torch
    for name, cls, opset, inputs, outputs in torch_models():
        torch.manual_seed(0)
        m = cls().eval()
        # non-trivial BatchNorm statistics (fresh ones are the identity)
        for bn in [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]:
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
            torch.nn.init.uniform_(bn.weight, 0.5, 1.5)
            torch.nn.init.uniform_(bn.bias, -0.5, 0.5)
        args = tuple(torch.from_numpy(v) for v in inputs.values())
        path = os.path.join(outdir, name + ".onnx")
        torch.onnx.export(m, args, path, opset_version=opset, input_names=list(inputs),
                          output_names=outputs, do_constant_folding=True)
        save_inputs(outdir, name, inputs)


# ---------------------------------------------------------------- onnx.helper models

def init(name, arr):
    return numpy_helper.from_array(arr, name)


def qdq_model():
    """QDQ-quantized convnet as quantization tools write it (opset 13): activations
    QuantizeLinear/DequantizeLinear (u8, per tensor), int8 weights with per-channel conv
    scales dequantized by DequantizeLinear, Conv, Relu, MatMul, Add."""
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, size=(4, 3, 3, 3)).astype(np.int8)
    wscale = (rng.uniform(0.002, 0.01, size=4)).astype(np.float32)
    fc = rng.integers(-127, 128, size=(4 * 4 * 4, 6)).astype(np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q_x"),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["conv.w_q", "conv.w_scale", "conv.w_zero"],
                         ["conv.w"], name="dq_w", axis=0),
        helper.make_node("Conv", ["xd", "conv.w", "conv.b"], ["c"], name="conv",
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "rs", "rz"], ["rq"], name="q_r"),
        helper.make_node("DequantizeLinear", ["rq", "rs", "rz"], ["rd"], name="dq_r"),
        helper.make_node("Reshape", ["rd", "shape"], ["flat"], name="flatten"),
        helper.make_node("DequantizeLinear", ["fc.w_q", "fc.w_scale"], ["fc.w"], name="dq_fc"),
        helper.make_node("MatMul", ["flat", "fc.w"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "fc.b"], ["y"], name="fc_bias"),
    ]
    inits = [
        init("xs", np.float32(0.02)), init("xz", np.uint8(128)),
        init("conv.w_q", w), init("conv.w_scale", wscale),
        init("conv.w_zero", np.zeros(4, np.int8)),
        init("conv.b", rng.standard_normal(4).astype(np.float32) * 0.1),
        init("rs", np.float32(0.01)), init("rz", np.uint8(0)),
        init("shape", np.array([1, -1], np.int64)),
        init("fc.w_q", fc), init("fc.w_scale", np.float32(0.004)),
        init("fc.b", rng.standard_normal(6).astype(np.float32) * 0.1),
    ]
    g = helper.make_graph(nodes, "qdq_convnet",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])], inits)
    x = rng.uniform(-2.5, 2.5, size=(1, 3, 8, 8)).astype(np.float32)
    return "qdq_convnet", g, 13, {"x": x}


def qlinear_model():
    """Integer-operator quantized model (opset 13): QLinearConv, a Reshape of its u8
    result, QLinearMatMul between QuantizeLinear and DequantizeLinear; MatMulInteger on a
    second, plain u8 input (kiln reads quantized tensors only through dequantization, so
    MatMulInteger of a QuantizeLinear result is not supported)."""
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q_x"),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "cs", "cz", "b"],
                         ["cq"], name="qconv", pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["cq", "shape"], ["fq"], name="flatten"),
        helper.make_node("QLinearMatMul", ["fq", "cs", "cz", "m", "ms", "mz", "ys", "yz"],
                         ["yq"], name="qmatmul"),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"], name="dq_y"),
        helper.make_node("MatMulInteger", ["a", "m2", "az", "m2z"], ["acc"], name="mmint"),
        helper.make_node("Cast", ["acc"], ["accf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["accf", "accs"], ["z"], name="rescale"),
    ]
    inits = [
        init("xs", np.float32(0.02)), init("xz", np.uint8(128)),
        init("w", rng.integers(0, 256, size=(2, 2, 3, 3)).astype(np.uint8)),
        init("ws", np.float32(0.005)), init("wz", np.uint8(128)),
        init("cs", np.float32(0.05)), init("cz", np.uint8(100)),
        init("b", rng.integers(-200, 200, size=2).astype(np.int32)),
        init("shape", np.array([1, 2 * 6 * 6], np.int64)),
        init("m", rng.integers(0, 256, size=(72, 5)).astype(np.uint8)),
        init("ms", np.float32(0.004)), init("mz", np.uint8(120)),
        init("ys", np.float32(0.1)), init("yz", np.uint8(128)),
        init("m2", rng.integers(0, 256, size=(24, 3)).astype(np.uint8)),
        init("az", np.uint8(7)),
        init("m2z", np.uint8(128)),
        init("accs", np.float32(1e-4)),
    ]
    g = helper.make_graph(nodes, "qlinear",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6]),
                           helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 24])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])], inits)
    x = rng.uniform(-2.5, 2.5, size=(1, 2, 6, 6)).astype(np.float32)
    a = rng.integers(0, 256, size=(2, 24)).astype(np.uint8)
    return "qlinear", g, 13, {"x": x, "a": a}


def dyn_names_model():
    """A dynamic batch dim (fixed with --shape input.1=3x4) and names that are not .kiln
    identifiers, for kiln import's renaming: an input "input.1", initializers with two
    integer segments in a row, a keyword first segment, "::", a leading digit, and an
    output name with a dot."""
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("MatMul", ["input.1", "layer.0.5.weight"], ["/layer/MatMul_output_0"],
                         name="/layer/MatMul"),
        helper.make_node("Add", ["/layer/MatMul_output_0", "model.bias"], ["h"], name="add"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "onnx::MatMul_7"], ["m"], name="mm2"),
        helper.make_node("Mul", ["m", "1e5"], ["out.0"], name="scale"),
    ]
    inits = [
        init("layer.0.5.weight", rng.standard_normal((4, 8)).astype(np.float32)),
        init("model.bias", rng.standard_normal(8).astype(np.float32)),
        init("onnx::MatMul_7", rng.standard_normal((8, 3)).astype(np.float32)),
        init("1e5", np.float32(0.5)),
    ]
    g = helper.make_graph(nodes, "dyn_names",
                          [helper.make_tensor_value_info("input.1", TensorProto.FLOAT,
                                                         ["batch", 4])],
                          [helper.make_tensor_value_info("out.0", TensorProto.FLOAT,
                                                         ["batch", 3])], inits)
    return "dyn_names", g, 13, {"input.1": rng.standard_normal((3, 4)).astype(np.float32)}


def export_helper(outdir):
    for make in (qdq_model, qlinear_model, dyn_names_model):
        name, g, opset, inputs = make()
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="kiln tests/onnx/models/export.py")
        m.ir_version = 7
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(outdir, name + ".onnx"))
        save_inputs(outdir, name, inputs)


# ---------------------------------------------------------------- inputs and references

def save_inputs(outdir, name, inputs):
    os.makedirs(os.path.join(outdir, name), exist_ok=True)
    for k, v in inputs.items():
        np.save(os.path.join(outdir, name, k + ".npy"), v)


def references(outdir, names):
    py = os.environ.get("ORT_PYTHON", sys.executable)
    for name in names:
        d = os.path.join(outdir, name)
        ins = ["%s=%s" % (f[:-4], os.path.join(d, f)) for f in sorted(os.listdir(d))
               if f.endswith(".npy")]
        subprocess.check_call([py, os.path.join(HERE, "ort_run.py"),
                               os.path.join(outdir, name + ".onnx"), os.path.join(d, "ref")]
                              + ins)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else HERE
    os.makedirs(outdir, exist_ok=True)
    export_torch(outdir)
    export_helper(outdir)
    references(outdir, ["tiny_cnn", "mobile_block", "bert_layer", "gpt2_block",
                        "qdq_convnet", "qlinear", "dyn_names"])


if __name__ == "__main__":
    main()
