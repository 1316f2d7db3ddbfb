"""Arithmetic behind a live view of training (Qt-free; the Train tab only draws it).

- :class:`EMA`: the smoothed batch-loss curve (bias-corrected exponential moving average,
  as TensorBoard's smoothing slider).
- :class:`Series`: an append-only ``(x, y)`` buffer with a point cap, so curve updates stay
  cheap in hour-long runs (when full, every other point is dropped).
- :func:`run_fraction`, :func:`eta_seconds`, :func:`epoch_line`: progress and the
  Keras-like epoch log.
- :func:`first_layer_view`: the first weighted layer's weights as tiles (conv filters, or
  a Dense layer's per-class templates when it reads the raw image).
"""

from __future__ import annotations

import math

import numpy as np

from cnnlab.engine.layers import Conv2D, Dense
from cnnlab.lab.filter_views import KernelTiles, kernel_tiles

#: A Dense layer shows at most this many of its units as image templates.
MAX_TEMPLATES = 100


class EMA:
    """Bias-corrected exponential moving average: after values ``v_1 … v_n``,
    ``value = Σ (1−β) β^(n−i) v_i / (1 − β^n)`` (so the first value is returned as is)."""

    def __init__(self, beta: float = 0.8):
        if not 0 <= beta < 1:
            raise ValueError(f"EMA: beta must be in [0, 1), got {beta!r}")
        self.beta = float(beta)
        self._biased = 0.0
        self._n = 0

    def update(self, value: float) -> float:
        """Add ``value``; returns the smoothed value."""
        self._n += 1
        self._biased = self.beta * self._biased + (1 - self.beta) * float(value)
        return self.value

    @property
    def value(self) -> float:
        if self._n == 0:
            return math.nan
        return self._biased / (1 - self.beta ** self._n)

    def reset(self) -> None:
        self._biased, self._n = 0.0, 0


class Series:
    """Points ``(x, y)`` appended in order, at most ``capacity`` kept: when full, every
    other point is dropped (the first is kept and the newest is always appended), so a
    curve of any length costs at most ``capacity`` points to draw. float64 arrays."""

    def __init__(self, capacity: int = 20_000):
        if capacity < 4:
            raise ValueError(f"Series: capacity must be at least 4, got {capacity}")
        self.capacity = int(capacity)
        self._xy = np.empty((self.capacity, 2), dtype=np.float64)  # (capacity, 2)
        self._n = 0

    def append(self, x: float, y: float) -> None:
        if self._n == self.capacity:
            kept = self._xy[: self._n : 2]
            self._n = len(kept)
            self._xy[: self._n] = kept.copy()
        self._xy[self._n] = (x, y)
        self._n += 1

    def clear(self) -> None:
        self._n = 0

    def copy(self) -> Series:
        other = Series(self.capacity)
        other._xy[: self._n] = self._xy[: self._n]
        other._n = self._n
        return other

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        """``(n,)`` view of the x values (copy it to keep it)."""
        return self._xy[: self._n, 0]

    @property
    def y(self) -> np.ndarray:
        return self._xy[: self._n, 1]


def run_fraction(epoch: int, epochs: int, batch: int, batches: int) -> float:
    """Fraction of the run done after ``batch`` of ``batches`` in ``epoch`` of ``epochs``
    (1-based), in [0, 1]."""
    total = epochs * batches
    done = (epoch - 1) * batches + batch
    return min(max(done / total, 0.0), 1.0) if total > 0 else 0.0


def eta_seconds(epoch: int, epochs: int, batch: int, batches: int, seconds: float) -> float:
    """Seconds left, extrapolating the time per batch so far (``seconds`` since the run
    started; validation passes are folded into that rate). 0 before the first batch."""
    done = (epoch - 1) * batches + batch
    remaining = epochs * batches - done
    return seconds / done * remaining if done > 0 else 0.0


def epoch_line(report) -> str:
    """Keras-like: ``"epoch 3/5 — loss 0.142 — acc 0.957 — val_loss 0.180 — val_acc 0.950
    — 12.4 s"`` from an ``EpochReport`` (validation parts left out when there was none;
    ``precision``/``val_precision`` added when the run tracks it)."""
    parts = [f"epoch {report.epoch}/{report.epochs}", f"loss {report.train_loss:.3f}",
             f"acc {report.train_acc:.3f}"]
    if report.val_loss is not None:
        parts.append(f"val_loss {report.val_loss:.3f}")
    if report.val_acc is not None:
        parts.append(f"val_acc {report.val_acc:.3f}")
    if getattr(report, "train_precision", None) is not None:  # Keras' names
        parts.append(f"precision {report.train_precision:.3f}")
    if getattr(report, "val_precision", None) is not None:
        parts.append(f"val_precision {report.val_precision:.3f}")
    parts.append(f"{report.seconds:.1f} s")
    return " — ".join(parts)


def first_layer_view(model) -> tuple[KernelTiles, str] | None:
    """What the network's first weighted layer looks for, as tiles and a title.

    A ``Conv2D``: its filters (``kernel_tiles``). A ``Dense`` that reads the whole image
    (``in_features == C·H·W`` of a ``(C, H, W)`` input): each unit's weights reshaped to
    the image, up to :data:`MAX_TEMPLATES` units (the linear classifier's class templates).
    None when neither applies (e.g. a Dense on flat features).
    """
    for index, layer in enumerate(model.layers):
        if isinstance(layer, Conv2D):
            tiles = kernel_tiles(layer.params["W"])
            return tiles, f"Conv2D #{index}: {tiles.description}"
        if isinstance(layer, Dense):
            shape = tuple(model.input_shape)
            if len(shape) != 3 or layer.in_features != math.prod(shape):
                return None
            units = min(layer.out_features, MAX_TEMPLATES)
            w = layer.params["W"][:, :units].T.reshape(units, *shape)  # (units, C, H, W)
            tiles = kernel_tiles(w)
            shown = "" if units == layer.out_features else f" (first {units} of {layer.out_features})"
            return tiles, f"Dense #{index}: weights of {units} units as images{shown}"
    return None
