"""Smaller test sets, as the exercises use them (200 or 1,000 test images instead of
10,000): quicker evaluations with the same class balance.

    x_small, y_small = take_test_subset(x_test, y_test, 1000)          # seed 0
"""

from __future__ import annotations

import numpy as np

from cnnlab.engine.trainer import stratified_split

#: The sizes the Experiments tab and the command line offer (None: the whole test set).
TEST_SUBSET_CHOICES = (None, 200, 1000)


def subset_indices(y: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted int64 indices of ``n`` of the samples labelled ``y`` ``(N,)``: every class
    keeps its share (rounded; a class present in ``y`` keeps at least one sample when
    ``n`` allows), the samples inside a class are drawn by ``seed``. ``n`` None or
    ``>= N`` gives every index. A plain prefix ``x[:n]`` would do for shuffled test sets,
    but the bundled samples are sorted by class: their first 200 images are all zeros."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"take_test_subset: labels must be 1-D, got shape {y.shape}")
    if n is None or n >= len(y):
        return np.arange(len(y), dtype=np.int64)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"take_test_subset: the subset size must be a positive whole number, got {n!r}")
    _, idx = stratified_split(y, n / len(y), np.random.default_rng(seed))
    idx = np.asarray(idx, dtype=np.int64)
    # per-class rounding can miss n by a few: top up (or trim) at random, stay sorted
    rng = np.random.default_rng(seed + 1)
    if len(idx) < n:
        rest = np.setdiff1d(np.arange(len(y)), idx)
        idx = np.concatenate([idx, rng.choice(rest, n - len(idx), replace=False)])
    elif len(idx) > n:
        idx = rng.choice(idx, n, replace=False)
    return np.sort(idx)


def take_test_subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 0):
    """``(x[idx], y[idx])`` for ``idx = subset_indices(y, n, seed)``: exactly
    ``min(n, N)`` images ``(n, C, H, W)`` and their labels, in their original order."""
    if len(x) != len(y):
        raise ValueError(f"take_test_subset: {len(x)} images but {len(y)} labels")
    idx = subset_indices(y, n, seed)
    return x[idx], y[idx]


def parse_test_subset(text: str) -> int | None:
    """``"all"`` → None, ``"1,000"``/``"1000"`` → 1000 (what a user types on the command
    line or picks in the app). Raises ``ValueError`` with the offending text."""
    t = str(text).strip().lower().replace(",", "").replace("_", "")
    if t in ("", "all", "none", "full"):
        return None
    try:
        n = int(t)
    except ValueError:
        raise ValueError(f"test subset {text!r}: expected a whole number of images or 'all'") from None
    if n < 1:
        raise ValueError(f"test subset {text!r}: expected at least 1 image")
    return n
