"""Plain-loop references for conv and pooling, used as oracles in the tests.

Slow but obviously right: loops over images, output positions and kernel taps exactly
as the step-by-step textbook exercise writes them. Independent of cnnlab.engine.
"""

from __future__ import annotations

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _padded(x, ph, pw):
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def conv_forward(x, w, b, stride=1, padding=0, dilation=1):
    """x (N, C, H, W), w (F, C, kh, kw), b (F,) or None -> (N, F, Ho, Wo), float64."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = _padded(x, ph, pw)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(n):
        for o in range(f):
            for r in range(ho):
                for s in range(wo):
                    total = 0.0 if b is None else b[o]
                    for ch in range(c):
                        for p in range(kh):
                            for q in range(kw):
                                total += w[o, ch, p, q] * xp[i, ch, r * sh + p * dh, s * sw + q * dw]
                    out[i, o, r, s] = total
    return out


def conv_backward(dout, x, w, stride=1, padding=0, dilation=1):
    """Gradients (dx, dw, db) of conv_forward for upstream dout (N, F, Ho, Wo)."""
    (sh, sw), (ph, pw), (dh, dw_) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = _padded(x, ph, pw)
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    db = np.zeros(f)
    _, _, ho, wo = dout.shape
    for i in range(n):
        for o in range(f):
            for r in range(ho):
                for s in range(wo):
                    g = dout[i, o, r, s]
                    db[o] += g
                    for ch in range(c):
                        for p in range(kh):
                            for q in range(kw):
                                y, xx = r * sh + p * dh, s * sw + q * dw_
                                dw[o, ch, p, q] += g * xp[i, ch, y, xx]
                                dxp[i, ch, y, xx] += g * w[o, ch, p, q]
    return dxp[:, :, ph:ph + h, pw:pw + wd], dw, db


def _windows(h, w, kernel, stride):
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride)
    for r in range((h - kh) // sh + 1):
        for s in range((w - kw) // sw + 1):
            yield r, s, slice(r * sh, r * sh + kh), slice(s * sw, s * sw + kw)


def pool_forward(x, kernel, stride, mode):
    """mode "max" or "avg"; x (N, C, H, W) -> (N, C, Ho, Wo)."""
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride)
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for i in range(n):
        for ch in range(c):
            for r, s, rows, cols in _windows(h, w, kernel, stride):
                window = x[i, ch, rows, cols]
                out[i, ch, r, s] = window.max() if mode == "max" else window.mean()
    return out


def pool_backward(dout, x, kernel, stride, mode):
    """Max: each window's gradient goes to its first maximum (row-major); avg: spread
    evenly. Overlapping windows accumulate."""
    (kh, kw) = _pair(kernel)
    n, c, h, w = x.shape
    dx = np.zeros(x.shape)
    for i in range(n):
        for ch in range(c):
            for r, s, rows, cols in _windows(h, w, kernel, stride):
                g = dout[i, ch, r, s]
                if mode == "max":
                    window = x[i, ch, rows, cols]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[i, ch, rows.start + p, cols.start + q] += g
                else:
                    dx[i, ch, rows, cols] += g / (kh * kw)
    return dx


def numerical_grad(f, x, eps=1e-6):
    """Central differences ``(f(x + eps) - f(x - eps)) / 2eps`` of a scalar ``f()`` with
    respect to every element of ``x`` (perturbed in place, then restored)."""
    grad = np.zeros(x.shape)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def rel_error(a, b):
    """||a - b|| / (||a|| + ||b||): around 1e-9 for a correct float64 gradient, ~1 for a
    wrong one (an element-wise ratio would be dominated by near-zero entries)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))
