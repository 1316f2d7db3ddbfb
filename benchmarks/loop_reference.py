"""The straightforward loop implementation of net 1 (Conv3x3 → MaxPool2 → Dense →
softmax), written the way the step-by-step textbook exercise writes it: Python loops
over images, output rows, output columns and filters, NumPy only inside one window.

It exists to be timed against ``cnnlab.engine`` (the speed ratio in the benchmark) and
to cross-check it: ``bench_engine.py`` asserts that both give the same loss and
gradients on the same weights before timing anything.
"""

from __future__ import annotations

import numpy as np


def conv_forward(x, w, b):
    """x (N, C, H, W), w (F, C, k, k), b (F,): valid convolution, stride 1."""
    n, _, h, wd = x.shape
    f, _, k, _ = w.shape
    out = np.zeros((n, f, h - k + 1, wd - k + 1), dtype=x.dtype)
    for i in range(n):                       # every image
        for r in range(h - k + 1):           # every output row
            for c in range(wd - k + 1):      # every output column
                window = x[i, :, r:r + k, c:c + k]
                for o in range(f):           # every filter
                    out[i, o, r, c] = np.sum(window * w[o]) + b[o]
    return out


def conv_backward(dout, x, w):
    """Gradients (dw, db) of conv_forward (the first layer needs no dx)."""
    n, _, h, wd = x.shape
    f, _, k, _ = w.shape
    dw = np.zeros_like(w)
    db = np.zeros(f, dtype=w.dtype)
    for i in range(n):
        for r in range(h - k + 1):
            for c in range(wd - k + 1):
                window = x[i, :, r:r + k, c:c + k]
                for o in range(f):
                    dw[o] += window * dout[i, o, r, c]
                    db[o] += dout[i, o, r, c]
    return dw, db


def pool_forward(x, k=2):
    """Max over k x k windows with stride k."""
    n, ch, h, w = x.shape
    out = np.zeros((n, ch, h // k, w // k), dtype=x.dtype)
    for i in range(n):
        for r in range(h // k):
            for c in range(w // k):
                for o in range(ch):
                    out[i, o, r, c] = np.max(x[i, o, r * k:r * k + k, c * k:c * k + k])
    return out


def pool_backward(dout, x, k=2):
    """The gradient goes to the (first) maximum of each window."""
    n, ch, h, w = x.shape
    dx = np.zeros_like(x)
    for i in range(n):
        for r in range(h // k):
            for c in range(w // k):
                for o in range(ch):
                    window = x[i, o, r * k:r * k + k, c * k:c * k + k]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[i, o, r * k + p, c * k + q] += dout[i, o, r, c]
    return dx


def train_step(params, x, y, lr=0.01):
    """One SGD step of net 1 on images ``x`` (N, 1, 28, 28) and labels ``y`` (N,).
    ``params``: ``conv_w`` (9, 1, 3, 3), ``conv_b`` (9,), ``dense_w`` (1521, 10),
    ``dense_b`` (10,), updated in place. Returns (loss, grads before the update)."""
    a1 = conv_forward(x, params["conv_w"], params["conv_b"])     # (N, 9, 26, 26)
    a2 = pool_forward(a1)                                          # (N, 9, 13, 13)
    flat = a2.reshape(len(x), -1)                                  # (N, 1521)
    logits = flat @ params["dense_w"] + params["dense_b"]          # (N, 10)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(len(x)), y]))
    dlogits = probs.copy()
    dlogits[np.arange(len(x)), y] -= 1
    dlogits /= len(x)
    grads = {"dense_w": flat.T @ dlogits, "dense_b": dlogits.sum(axis=0)}
    da2 = (dlogits @ params["dense_w"].T).reshape(a2.shape)
    da1 = pool_backward(da2, a1)
    grads["conv_w"], grads["conv_b"] = conv_backward(da1, x, params["conv_w"])
    for key, grad in grads.items():
        params[key] -= lr * grad
    return float(loss), grads
