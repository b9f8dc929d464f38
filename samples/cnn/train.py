#!/usr/bin/python3
"""samples/cnn/train.py -- train the small residual CNN sample on sklearn's 8x8 digits with
hand-written numpy forward/backward (Adam), and write its weights and test data.

Network (NCHW, input f32 [1,1,8,8], pixels / 16):
  stem conv 3x3 pad 1, 1->8, no bias -> batchnorm bn1 -> relu                    = r0
  block: conv1 3x3 pad 1 8->8 -> bn1 -> relu -> conv2 3x3 pad 1 -> bn2, + r0 -> relu
  maxpool 2x2 stride 2 -> [1,8,4,4] -> flatten (C-order, 128) -> fc 128->10 -> softmax
Training normalises with batch statistics; afterwards each batchnorm's running_mean and
running_var are set to the exact mean and (biased) variance of its input over the whole
training set, layer by layer with the earlier layers already in inference form, so the
exported model in inference form is precisely the model evaluated here.

Writes, next to this file:
  cnn.safetensors     stem.weight [8,1,3,3]; bn1.{weight,bias,running_mean,running_var} [8];
                      block.conv1.weight [8,8,3,3]; block.bn1.* [8];
                      block.conv2.weight [8,8,3,3]; block.bn2.* [8];
                      fc.weight [10,128] ([out, in]); fc.bias [10]
  digits_test_x.npy   f32 [N,1,8,8]
  digits_test_y.npy   i64 [N]
  digit.npy           f32 [1,1,8,8], test image 0
  digit_probs.npy     f32 [1,10], the model's output for digit.npy (f32 numpy reference)
Deterministic (seeded, single-threaded BLAS), a few seconds.
"""
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # fixed summation order: byte-identical output
os.environ["OMP_NUM_THREADS"] = "1"
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in samples/tools
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import safetensors  # noqa: E402

EPS = 1e-5
EPOCHS = 15
BATCH = 32
LR = 3e-3
BNS = ("bn1", "block.bn1", "block.bn2")

# ---------------------------------------------------------------- layers (train form)


def conv_fwd(x, w):
    """3x3 conv, stride 1, pad 1, no bias.  Returns (y, cols) with cols for backward."""
    n, c, h, wd = x.shape
    k = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = sliding_window_view(xp, (3, 3), axis=(2, 3))            # [n,c,h,w,3,3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    y = (cols @ w.reshape(k, c * 9).T).reshape(n, h, wd, k).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(y), cols


def conv_bwd(dy, cols, w, xshape):
    n, c, h, wd = xshape
    k = w.shape[0]
    dy2 = dy.transpose(0, 2, 3, 1).reshape(-1, k)
    dw = (dy2.T @ cols).reshape(w.shape)
    dcols = (dy2 @ w.reshape(k, c * 9)).reshape(n, h, wd, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, wd + 2), dtype=dy.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dw


def bn_fwd(a, g, b):
    mu = a.mean(axis=(0, 2, 3), keepdims=True)
    var = a.var(axis=(0, 2, 3), keepdims=True)
    inv = 1.0 / np.sqrt(var + EPS)
    xhat = (a - mu) * inv
    return xhat * g[None, :, None, None] + b[None, :, None, None], (xhat, inv)


def bn_bwd(dy, cache, g):
    xhat, inv = cache
    m = dy.shape[0] * dy.shape[2] * dy.shape[3]
    dg = (dy * xhat).sum(axis=(0, 2, 3))
    db = dy.sum(axis=(0, 2, 3))
    dxhat = dy * g[None, :, None, None]
    dx = inv / m * (m * dxhat - dxhat.sum(axis=(0, 2, 3), keepdims=True)
                    - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True))
    return dx, dg, db


def pool_fwd(x):
    n, c, h, w = x.shape
    v = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // 2, w // 2, 4)
    idx = v.argmax(axis=-1)
    return np.take_along_axis(v, idx[..., None], -1)[..., 0], idx


def pool_bwd(dy, idx, xshape):
    n, c, h, w = xshape
    dv = np.zeros((n, c, h // 2, w // 2, 4), dtype=dy.dtype)
    np.put_along_axis(dv, idx[..., None], dy[..., None], -1)
    return dv.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(xshape)


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)

# ---------------------------------------------------------------- training


def init_params(rng):
    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    p = {"stem.weight": he((8, 1, 3, 3), 9),
         "block.conv1.weight": he((8, 8, 3, 3), 72),
         "block.conv2.weight": he((8, 8, 3, 3), 72),
         "fc.weight": he((10, 128), 128) / np.float32(np.sqrt(2.0)),
         "fc.bias": np.zeros(10, np.float32)}
    for bn in BNS:
        p[bn + ".weight"] = np.ones(8, np.float32)
        p[bn + ".bias"] = np.zeros(8, np.float32)
    return p


def train_step(p, x, y):
    """Forward with batch statistics and backward; returns (loss, grads)."""
    a0, c0 = conv_fwd(x, p["stem.weight"])
    b0, k0 = bn_fwd(a0, p["bn1.weight"], p["bn1.bias"])
    r0 = np.maximum(b0, 0)
    a1, c1 = conv_fwd(r0, p["block.conv1.weight"])
    b1, k1 = bn_fwd(a1, p["block.bn1.weight"], p["block.bn1.bias"])
    r1 = np.maximum(b1, 0)
    a2, c2 = conv_fwd(r1, p["block.conv2.weight"])
    b2, k2 = bn_fwd(a2, p["block.bn2.weight"], p["block.bn2.bias"])
    s = b2 + r0
    r2 = np.maximum(s, 0)
    pooled, pidx = pool_fwd(r2)
    f = pooled.reshape(len(x), 128)
    prob = softmax(f @ p["fc.weight"].T + p["fc.bias"])
    n = len(x)
    loss = -np.mean(np.log(prob[np.arange(n), y] + 1e-12))

    g = {}
    dz = prob.copy()
    dz[np.arange(n), y] -= 1
    dz /= n
    g["fc.weight"] = dz.T @ f
    g["fc.bias"] = dz.sum(axis=0)
    dr2 = pool_bwd((dz @ p["fc.weight"]).reshape(pooled.shape), pidx, r2.shape)
    ds = dr2 * (s > 0)
    da2, g["block.bn2.weight"], g["block.bn2.bias"] = bn_bwd(ds, k2, p["block.bn2.weight"])
    dr1, g["block.conv2.weight"] = conv_bwd(da2, c2, p["block.conv2.weight"], r1.shape)
    db1 = dr1 * (b1 > 0)
    da1, g["block.bn1.weight"], g["block.bn1.bias"] = bn_bwd(db1, k1, p["block.bn1.weight"])
    dr0, g["block.conv1.weight"] = conv_bwd(da1, c1, p["block.conv1.weight"], r0.shape)
    dr0 = dr0 + ds                                                # residual path
    db0 = dr0 * (b0 > 0)
    da0, g["bn1.weight"], g["bn1.bias"] = bn_bwd(db0, k0, p["bn1.weight"])
    _, g["stem.weight"] = conv_bwd(da0, c0, p["stem.weight"], x.shape)
    return loss, g


def train(xtr, ytr):
    rng = np.random.default_rng(0)
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    t = 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(xtr))
        lr = LR * (0.5 * (1 + np.cos(np.pi * epoch / EPOCHS)))   # cosine decay per epoch
        total = 0.0
        for i in range(0, len(order), BATCH):
            bi = order[i:i + BATCH]
            loss, g = train_step(p, xtr[bi], ytr[bi])
            total += loss * len(bi)
            t += 1
            for k in p:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v2[k] = 0.999 * v2[k] + 0.001 * g[k] * g[k]
                mh = m[k] / (1 - 0.9 ** t)
                vh = v2[k] / (1 - 0.999 ** t)
                p[k] = (p[k] - lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        print("epoch %2d  loss %.4f" % (epoch + 1, total / len(xtr)))
    return p

# ---------------------------------------------------------------- inference form


def bn_eval(a, p, name):
    shape = (1, -1, 1, 1)
    inv = 1.0 / np.sqrt(p[name + ".running_var"] + np.float32(EPS))
    return ((a - p[name + ".running_mean"].reshape(shape)) * inv.reshape(shape)
            * p[name + ".weight"].reshape(shape) + p[name + ".bias"].reshape(shape))


def set_stats(p, name, a):
    """Running stats of batchnorm `name` := exact mean / biased variance of input a."""
    p[name + ".running_mean"] = a.mean(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
    p[name + ".running_var"] = a.var(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)


def forward(p, x, calibrate=False):
    """The model as cnn.kiln computes it (inference form); with calibrate, first set each
    batchnorm's running stats from x.  Returns probabilities [N,10]."""
    a0 = conv_fwd(x, p["stem.weight"])[0]
    if calibrate:
        set_stats(p, "bn1", a0)
    r0 = np.maximum(bn_eval(a0, p, "bn1"), 0)
    a1 = conv_fwd(r0, p["block.conv1.weight"])[0]
    if calibrate:
        set_stats(p, "block.bn1", a1)
    r1 = np.maximum(bn_eval(a1, p, "block.bn1"), 0)
    a2 = conv_fwd(r1, p["block.conv2.weight"])[0]
    if calibrate:
        set_stats(p, "block.bn2", a2)
    r2 = np.maximum(bn_eval(a2, p, "block.bn2") + r0, 0)
    f = pool_fwd(r2)[0].reshape(len(x), 128)
    return softmax(f @ p["fc.weight"].T + p["fc.bias"])


def main():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0)

    p = train(xtr, ytr)
    forward(p, xtr, calibrate=True)
    p = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in p.items()}
    print("train accuracy (inference form): %.4f" % np.mean(forward(p, xtr).argmax(-1) == ytr))
    prob = forward(p, xte)
    print("test images: %d" % len(yte))
    print("test accuracy: %.4f" % np.mean(prob.argmax(-1) == yte))
    print("digit.npy: test image 0, label %d, predicted %d (p = %.4f)" %
          (yte[0], prob[0].argmax(), prob[0].max()))

    safetensors.save(os.path.join(HERE, "cnn.safetensors"), p)
    np.save(os.path.join(HERE, "digits_test_x.npy"), np.ascontiguousarray(xte, np.float32))
    np.save(os.path.join(HERE, "digits_test_y.npy"), yte.astype(np.int64))
    np.save(os.path.join(HERE, "digit.npy"), np.ascontiguousarray(xte[0:1], np.float32))
    np.save(os.path.join(HERE, "digit_probs.npy"), prob[0:1].astype(np.float32))


if __name__ == "__main__":
    main()
