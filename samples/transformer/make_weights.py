#!/usr/bin/python3
"""samples/transformer/make_weights.py -- random weights for one pre-norm transformer
encoder block (seq 16, d_model 32, 4 heads x 8 dims, ffn 64), numpy seed 0, scale ~0.1.

Writes, next to this file:
  transformer.safetensors  ln1.weight [32] ln1.bias [32]
                           attn.wq attn.wk attn.wv attn.wo [32,32] ([in, out]: x @ w)
                           attn.bq attn.bk attn.bv attn.bo [32]
                           ln2.weight [32] ln2.bias [32]
                           ffn.w1 [32,64] ffn.b1 [64] ffn.w2 [64,32] ffn.b2 [32]
  x.npy                    f32 [16,32] input
and then runs reference.py, which writes expected_y.npy.
"""
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # fixed summation order: byte-identical output
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in samples/
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
import safetensors  # noqa: E402
import reference  # noqa: E402

SEQ, D, FFN = 16, 32, 64


def main():
    rng = np.random.default_rng(0)

    def rnd(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)

    p = {}
    for ln in ("ln1", "ln2"):
        p[ln + ".weight"] = (1.0 + rnd(D)).astype(np.float32)
        p[ln + ".bias"] = rnd(D)
    for n in ("q", "k", "v", "o"):
        p["attn.w" + n] = rnd(D, D)
        p["attn.b" + n] = rnd(D)
    p["ffn.w1"] = rnd(D, FFN)
    p["ffn.b1"] = rnd(FFN)
    p["ffn.w2"] = rnd(FFN, D)
    p["ffn.b2"] = rnd(D)
    x = rng.standard_normal((SEQ, D)).astype(np.float32)

    safetensors.save(os.path.join(HERE, "transformer.safetensors"), p)
    np.save(os.path.join(HERE, "x.npy"), x)
    reference.main()


if __name__ == "__main__":
    main()
