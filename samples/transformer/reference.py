#!/usr/bin/python3
"""samples/transformer/reference.py -- the encoder block of transformer.kiln in numpy
(float64 on the f32 weights), for cross-checking kiln.  Reads transformer.safetensors and
x.npy, writes expected_y.npy (f32 [16,32]).

  h = x + attn(layernorm(x; ln1))        layernorm eps 1e-5 over the last dim
  y = h + ffn(layernorm(h; ln2))         ffn(u) = gelu(u @ w1 + b1) @ w2 + b2, gelu erf form
  attn(u): q, k, v = u @ wq + bq, ..; 4 heads of 8 dims;
           softmax(q k^T / sqrt(8)) v per head, heads concatenated, @ wo + bo
"""
import math
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # fixed summation order: byte-identical output
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import safetensors  # noqa: E402

HEADS, HEAD_DIM = 4, 8
EPS = 1e-5


def layernorm(x, w, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def heads(t):
    """[seq, d] -> [heads, seq, head_dim]"""
    return t.reshape(t.shape[0], HEADS, HEAD_DIM).transpose(1, 0, 2)


def block(p, x):
    u = layernorm(x, p["ln1.weight"], p["ln1.bias"])
    q = heads(u @ p["attn.wq"] + p["attn.bq"])
    k = heads(u @ p["attn.wk"] + p["attn.bk"])
    v = heads(u @ p["attn.wv"] + p["attn.bv"])
    a = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(HEAD_DIM))
    o = (a @ v).transpose(1, 0, 2).reshape(x.shape)
    h = x + o @ p["attn.wo"] + p["attn.bo"]
    u = layernorm(h, p["ln2.weight"], p["ln2.bias"])
    f = gelu(u @ p["ffn.w1"] + p["ffn.b1"]) @ p["ffn.w2"] + p["ffn.b2"]
    return h + f


def main():
    p = {k: v.astype(np.float64)
         for k, v in safetensors.load(os.path.join(HERE, "transformer.safetensors")).items()}
    x = np.load(os.path.join(HERE, "x.npy")).astype(np.float64)
    y = block(p, x).astype(np.float32)
    np.save(os.path.join(HERE, "expected_y.npy"), y)
    print("expected_y.npy: f32 %s, mean %.6f, std %.6f, y[0,:4] = %s" %
          (list(y.shape), y.mean(), y.std(), np.array2string(y[0, :4], precision=6)))


if __name__ == "__main__":
    main()
