"""Numerical helpers for the gradient checks: float64 central differences and the
relative error that compares two gradients."""

from __future__ import annotations

import numpy as np


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
