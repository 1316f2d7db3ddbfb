"""What the Sweeps view shows of a finished (or running) grid, Qt-free: the validation
accuracy or loss of every cell as a grid (the heatmap) or as lines against the learning
rate, one line per value of the other parameter; and the exercises' grids as presets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: What a sweep can show per cell: the row attribute and how it is written.
METRICS = {"val_acc": "validation accuracy", "val_loss": "validation loss"}


@dataclass(frozen=True)
class GridPreset:
    """One click sets the grid: learning rates × values of ``param_b``, trained with plain
    SGD (momentum 0) as the exercises do."""

    label: str
    param_b: str  # "l2" or "batch_size"
    lrs: tuple[float, ...]
    values_b: tuple[float, ...]
    hyper: tuple[tuple[str, float], ...] = (("momentum", 0.0),)


#: The classic exercises' grids.
EXERCISE_GRIDS = (
    GridPreset("softmax exercise: lr × λ", "l2", (0.1, 0.01, 1e-3, 1e-4), (0.0, 0.005, 0.01)),
    GridPreset("exercise: lr × batch size", "batch_size", (0.01, 1e-3, 1e-4), (16, 32, 64, 128)),
)


def _value(row, metric: str) -> float:
    if metric not in METRICS:
        raise ValueError(f"unknown sweep metric {metric!r}; choose from {', '.join(METRICS)}")
    v = getattr(row, metric)
    return math.nan if v is None or row.diverged else float(v)


def cell_grid(rows, values_a, values_b, metric: str = "val_acc") -> np.ndarray:
    """``(len(values_a), len(values_b))`` float64: each finished cell's ``metric`` (NaN for
    a cell not yet run, diverged, or without validation). Row ``i`` is ``values_a[i]``."""
    grid = np.full((len(values_a), len(values_b)), np.nan)
    for r in rows:
        grid[list(values_a).index(r.a), list(values_b).index(r.b)] = _value(r, metric)
    return grid


def lines_by_b(rows, values_a, values_b, metric: str = "val_acc"):
    """One line per value of the second parameter: ``[(b, xs, ys), …]`` with ``xs`` the
    learning rates ``values_a`` (sorted ascending) that have a finite ``metric`` and ``ys``
    their values (float64 arrays). Lines with no point yet are left out."""
    grid = cell_grid(rows, values_a, values_b, metric)
    order = np.argsort(np.asarray(values_a, dtype=np.float64))
    xs_all = np.asarray(values_a, dtype=np.float64)[order]
    out = []
    for j, b in enumerate(values_b):
        ys = grid[order, j]
        keep = np.isfinite(ys)
        if keep.any():
            out.append((b, xs_all[keep], ys[keep]))
    return out
