"""Diagnostics collected while a model trains, as small reports for the Train tab.

The trainer calls :meth:`TrainingDiagnostics.before_step` after each backward pass (the
gradients are ready, the weights not yet updated) and the caller calls
:meth:`~TrainingDiagnostics.after_step` once the optimizer has stepped. Only every
``interval_s`` seconds is a step measured (a copy of each ``W`` is taken before the step,
its norms after), so diagnostics cost next to nothing per batch. Reports carry a few
floats per layer, histograms (counts and edges) once per epoch, never weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cnnlab.engine.layers import LeakyReLU, ReLU, Sigmoid, Tanh
from cnnlab.engine.model import as_input
from cnnlab.lab.diagnostics import DiagnosticWarning, WarningMonitor, gradient_stats, weight_copies

ACTIVATION_TYPES = (ReLU, LeakyReLU, Sigmoid, Tanh)


@dataclass(frozen=True)
class LayerStat:
    """One layer at one measured step. Weighted layers fill the three norms, ReLUs
    ``dead_fraction``; the others are NaN."""

    index: int
    label: str
    grad_norm: float = float("nan")
    weight_norm: float = float("nan")
    update_ratio: float = float("nan")
    dead_fraction: float = float("nan")


@dataclass(frozen=True)
class GradientReport:
    """A measured step: ``step`` counts batches from the start of the run; ``warnings``
    are those raised at this step (usually none)."""

    epoch: int
    batch: int
    step: int
    layers: tuple[LayerStat, ...]
    warnings: tuple[DiagnosticWarning, ...] = ()


@dataclass(frozen=True)
class Histogram:
    """``counts`` (int64, ``(bins,)``) of a layer's values between ``edges`` (``(bins+1,)``)."""

    index: int
    label: str
    counts: np.ndarray
    edges: np.ndarray


@dataclass(frozen=True)
class HistogramReport:
    """Weight histograms of every weighted layer and activation histograms of every
    activation layer on a fixed probe batch, after ``epoch`` epochs (0: before training)."""

    epoch: int
    weights: tuple[Histogram, ...]
    activations: tuple[Histogram, ...]


def histogram(values: np.ndarray, index: int, label: str, bins: int = 40) -> Histogram:
    """A :class:`Histogram` of the finite entries of ``values`` (an empty one if none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Histogram(index, label, np.zeros(bins, dtype=np.int64), np.linspace(0, 1, bins + 1))
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return Histogram(index, label, counts.astype(np.int64), edges)


class TrainingDiagnostics:
    """Measures ``model`` every ``interval_s`` seconds of training (0: every step) and
    keeps a :class:`WarningMonitor`. ``probe`` is a small batch of training images (uint8
    or float) for the activation histograms. ``clock`` is for tests."""

    def __init__(self, model, probe=None, interval_s: float = 0.2, bins: int = 40,
                 patience: int = 3, clock=time.perf_counter):
        self.model = model
        self.probe = None if probe is None else np.asarray(probe)
        self.interval_s = float(interval_s)
        self.bins = int(bins)
        self.monitor = WarningMonitor(patience)
        self.step = 0
        self._clock = clock
        self._last = float("-inf")
        self._pending = None  # (epoch, batch, step, stats, weights before the step)

    @property
    def warnings(self) -> list[DiagnosticWarning]:
        return self.monitor.raised

    def before_step(self, epoch: int, batch: int) -> None:
        """Called with the gradients of this batch in place, before ``optimizer.step()``."""
        self.step += 1
        now = self._clock()
        if now - self._last < self.interval_s:
            return
        self._last = now
        self._pending = (epoch, batch, self.step, weight_copies(self.model))

    def after_step(self) -> GradientReport | None:
        """The report of the step just taken, if it was measured (else None)."""
        if self._pending is None:
            return None
        epoch, batch, step, before = self._pending
        self._pending = None
        stats = gradient_stats(self.model, before)
        new = self.monitor.update(stats, epoch, batch, step)
        layers = tuple(LayerStat(i, self.model.layers[i].label, **s) for i, s in sorted(stats.items()))
        return GradientReport(epoch, batch, step, layers, tuple(new))

    def epoch_end(self, epoch: int) -> HistogramReport:
        """Histograms after ``epoch`` epochs (call between batches; it runs the probe
        batch through the model in inference mode)."""
        model = self.model
        weights = tuple(histogram(layer.params["W"], i, layer.label, self.bins)
                        for i, layer in enumerate(model.layers) if "W" in layer.params)
        acts = ()
        if self.probe is not None and len(self.probe):
            with np.errstate(over="ignore", invalid="ignore"):
                outputs = model.activations(as_input(self.probe, model.dtype))
            acts = tuple(histogram(a, i, model.layers[i].label, self.bins) for i, _name, a in outputs
                         if isinstance(model.layers[i], ACTIVATION_TYPES))
        return HistogramReport(epoch, weights, acts)
