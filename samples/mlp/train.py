#!/usr/bin/python3
"""samples/mlp/train.py -- train the MLP sample (64 -> 64 -> 32 -> 10, relu) and its
early-exit head on sklearn's 8x8 digits, and write its weights and test data.

Writes, next to this file:
  mlp.safetensors      fc1.weight [64,64] fc1.bias [64]  fc2.weight [32,64] fc2.bias [32]
                       fc3.weight [10,32] fc3.bias [10]  head0.weight [10,64] head0.bias [10]
                       (PyTorch layout: weight is [out, in], y = x @ W.T + b)
  digits_test_x.npy    f32 [N,64], pixels / 16
  digits_test_y.npy    i64 [N]
  digit.npy            f32 [1,64], test image 0 (head0 is confident: exits early)
  digit_noexit.npy     f32 [1,64], first test image with max softmax(head0) < 0.8 that the
                       full model gets right (takes the full path)
  digit_probs.npy, digit_noexit_probs.npy   f32 [1,10], what mlp.kiln returns for each
and prints the accuracies and the early-exit statistics.  Deterministic, a few seconds.
"""
import os
import sys
import warnings

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # fixed summation order: byte-identical output
os.environ["OMP_NUM_THREADS"] = "1"
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in samples/tools
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import safetensors  # noqa: E402

THRESHOLD = 0.9  # exit when max softmax(head0) > THRESHOLD


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def forward(p, x):
    """The model as mlp.kiln computes it, in f32; returns (head probs, full probs)."""
    h1 = np.maximum(x @ p["fc1.weight"].T + p["fc1.bias"], 0)
    e = softmax(h1 @ p["head0.weight"].T + p["head0.bias"])
    h2 = np.maximum(h1 @ p["fc2.weight"].T + p["fc2.bias"], 0)
    full = softmax(h2 @ p["fc3.weight"].T + p["fc3.bias"])
    return e, full


def main():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(64, 32), activation="relu",
                            random_state=0, max_iter=300)
        mlp.fit(xtr, ytr)
    assert list(mlp.classes_) == list(range(10))
    p = {}
    for i, name in enumerate(("fc1", "fc2", "fc3")):
        p[name + ".weight"] = np.ascontiguousarray(mlp.coefs_[i].T, dtype=np.float32)
        p[name + ".bias"] = mlp.intercepts_[i].astype(np.float32)

    # early-exit head: multinomial logistic regression on relu(fc1) features
    h1tr = np.maximum(xtr @ p["fc1.weight"].T + p["fc1.bias"], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        head = LogisticRegression(max_iter=1000)
        head.fit(h1tr, ytr)
    p["head0.weight"] = head.coef_.astype(np.float32)
    p["head0.bias"] = head.intercept_.astype(np.float32)

    e, full = forward(p, xte)
    assert np.allclose(full, mlp.predict_proba(xte), atol=1e-5), "layout mismatch"
    h1te = np.maximum(xte @ p["fc1.weight"].T + p["fc1.bias"], 0)
    assert np.allclose(e, head.predict_proba(h1te), atol=1e-5), "head layout mismatch"
    exits = e.max(axis=-1) > THRESHOLD
    combined = np.where(exits, e.argmax(-1), full.argmax(-1))
    n = len(yte)
    print("test images:              %d" % n)
    print("full model accuracy:      %.4f" % np.mean(full.argmax(-1) == yte))
    print("head0-only accuracy:      %.4f" % np.mean(e.argmax(-1) == yte))
    print("early exit (max > %.2f):  %d/%d = %.4f" % (THRESHOLD, exits.sum(), n, exits.mean()))
    print("accuracy of exited ones:  %.4f" % np.mean(e.argmax(-1)[exits] == yte[exits]))
    print("combined rule accuracy:   %.4f" % np.mean(combined == yte))
    print("digit.npy: test image 0, label %d, exits early: %s, head max %.4f" %
          (yte[0], bool(exits[0]), e[0].max()))
    ok = (e.max(axis=-1) < 0.8) & (full.argmax(-1) == yte)
    k = int(np.argmax(ok))
    assert ok[k]
    print("digit_noexit.npy: test image %d, label %d, head max %.4f, full max %.4f" %
          (k, yte[k], e[k].max(), full[k].max()))

    safetensors.save(os.path.join(HERE, "mlp.safetensors"), p)
    np.save(os.path.join(HERE, "digits_test_x.npy"), np.ascontiguousarray(xte, np.float32))
    np.save(os.path.join(HERE, "digits_test_y.npy"), yte.astype(np.int64))
    np.save(os.path.join(HERE, "digit.npy"), np.ascontiguousarray(xte[0:1], np.float32))
    np.save(os.path.join(HERE, "digit_noexit.npy"), np.ascontiguousarray(xte[k:k + 1], np.float32))
    # what mlp.kiln returns for them: head0's probs (early exit) or the full model's
    np.save(os.path.join(HERE, "digit_probs.npy"), e[0:1].astype(np.float32))
    np.save(os.path.join(HERE, "digit_noexit_probs.npy"), full[k:k + 1].astype(np.float32))


if __name__ == "__main__":
    main()
