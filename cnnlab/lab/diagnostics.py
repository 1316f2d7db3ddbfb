"""Is the network learning? Per-layer gradient numbers and plain-language warnings.

- :func:`gradient_stats`: for every layer with weights, the norm of its weight gradient,
  of its weights, and the update-to-weight ratio of the last optimizer step; for every
  ReLU, the fraction of its units that were dead (zero for every image) in the last batch.
- :func:`find_problems`: what one set of stats says is wrong (vanishing or exploding
  gradients, dying ReLUs), as sentences with a remedy.
- :class:`WarningMonitor`: raises each warning once, when its condition has held for a few
  consecutive checks, with the training step where it started.

Healthy rule of thumb (Karpathy, CS231n): the update/weight ratio stays around 1e-3,
between :data:`HEALTHY_BAND` 1e-4 … 1e-2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnlab.engine.layers import ReLU

HEALTHY_BAND = (1e-4, 1e-2)
#: A layer whose relative gradient ‖dW‖/‖W‖ is below this fraction of the last layer's
#: barely learns (a healthy LeNet stays above 0.05; 6 sigmoid layers fall to 0.004).
VANISHING_RATIO = 1e-2
#: Or whose gradient norm is below this absolute size.
VANISHING_NORM = 1e-7
#: A gradient norm above this multiple of its layer's weight norm, or an update larger than
#: the weights themselves, means it explodes.
EXPLODING_RATIO = 10.0
#: A ReLU layer with more than this fraction of dead units is dying. (Half of a fresh
#: dense layer's units can be silent for a whole batch, so the bar is high.)
DEAD_FRACTION = 0.8


def weight_copies(model) -> dict[str, np.ndarray]:
    """Copies of every layer's ``W``, keyed ``"{index}.W"`` (as ``get_weights``): take them
    before ``optimizer.step()`` and pass them to :func:`gradient_stats` as ``before``."""
    return {f"{i}.W": layer.params["W"].copy() for i, layer in enumerate(model.layers)
            if "W" in layer.params}


def dead_fraction(activations: np.ndarray) -> float:
    """Fraction of units that are zero for every image of the batch: ``activations`` is
    ``(N, C, H, W)`` (a unit is a channel, dead if zero at every position) or ``(N, F)``."""
    a = np.asarray(activations)
    if a.ndim < 2 or len(a) == 0:
        raise ValueError(f"dead_fraction: expected a batch (N, ...), got shape {a.shape}")
    alive = (a > 0).any(axis=(0, *range(2, a.ndim)))  # (units,)
    return float(1.0 - alive.mean())


def _norm(a: np.ndarray) -> float:
    a = a.astype(np.float64, copy=False).ravel()
    return math.sqrt(float(np.dot(a, a)))


def gradient_stats(model, before: dict | None = None) -> dict[int, dict]:
    """``{layer index: stats}`` after a backward pass (and usually an optimizer step).

    Layers with weights get ``grad_norm`` (‖dL/dW‖₂), ``weight_norm`` (‖W‖₂) and
    ``update_ratio`` (‖W − W_before‖ / ‖W_before‖, the size of the last step relative to
    the weights: from ``before`` when given — weights taken before the step, as
    :func:`weight_copies` or ``model.get_weights()`` return them — else from the step the
    optimizer recorded in ``layer.last_update``; NaN before any step). ReLU layers that ran a
    forward pass get ``dead_fraction`` (see :func:`dead_fraction`). float values."""
    stats: dict[int, dict] = {}
    for i, layer in enumerate(model.layers):
        if "W" in layer.params:
            w = layer.params["W"]
            ratio = math.nan
            old = None if before is None else before.get(f"{i}.W")
            step = getattr(layer, "last_update", {}).get("W") if before is None else None
            if step is not None and step.shape == w.shape:
                old = w.astype(np.float64) + step  # p_new = p_old − Δ
            if old is not None:
                old_norm = _norm(old)
                ratio = _norm(w.astype(np.float64) - old) / old_norm if old_norm > 0 else math.inf
            stats[i] = {"grad_norm": _norm(layer.grads["W"]), "weight_norm": _norm(w),
                        "update_ratio": ratio}
        elif isinstance(layer, ReLU) and getattr(layer, "_y", None) is not None:
            stats[i] = {"dead_fraction": dead_fraction(layer._y)}
    return stats


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a set of stats: ``kind`` is ``"vanishing"``, ``"exploding"``
    or ``"dead_relu"``; ``layers`` the indices concerned; ``message`` a sentence."""

    kind: str
    layers: tuple[int, ...]
    message: str


def _span(layers) -> str:
    layers = list(layers)
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if layers == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}–{layers[-1]}"
    return "layers " + ", ".join(map(str, layers))


def _relative(s: dict) -> float:
    """‖dW‖ / ‖W‖ (inf for zero weights, NaN-free)."""
    g, w = s["grad_norm"], s["weight_norm"]
    if not math.isfinite(g):
        return math.inf
    return g / w if w > 0 else (0.0 if g == 0 else math.inf)


def find_problems(stats: dict[int, dict]) -> list[Problem]:
    """What :func:`gradient_stats` output says is wrong, most serious first."""
    weighted = [(i, s) for i, s in sorted(stats.items()) if "grad_norm" in s]
    problems = []
    bad = [i for i, s in weighted if not math.isfinite(s["grad_norm"])
           or s["grad_norm"] > EXPLODING_RATIO * max(s["weight_norm"], 1e-12)
           or s.get("update_ratio", 0.0) > 1]
    if bad:
        worst = max(_relative(stats[i]) for i in bad)
        problems.append(Problem("exploding", tuple(bad), (
            f"gradients of {_span(bad)} explode (‖dW‖/‖W‖ up to {worst:.2g}, or steps "
            f"larger than the weights): lower the learning rate, or use a smaller init")))
    if len(weighted) >= 2 and not bad:
        last = _relative(weighted[-1][1])
        tiny = [i for i, s in weighted[:-1] if s["grad_norm"] < VANISHING_NORM
                or _relative(s) < VANISHING_RATIO * last]
        if tiny:
            low = min(stats[i]["grad_norm"] for i in tiny)
            problems.append(Problem("vanishing", tuple(tiny), (
                f"gradients of {_span(tiny)} vanish (norm {low:.1e}; relative to their "
                f"weights under {VANISHING_RATIO:g}× the last layer's): saturating "
                f"sigmoids/tanh pass almost nothing back — try ReLU, fewer layers, "
                f"or a better init")))
    dead = [i for i, s in sorted(stats.items()) if s.get("dead_fraction", 0.0) > DEAD_FRACTION]
    if dead:
        worst = max(stats[i]["dead_fraction"] for i in dead)
        problems.append(Problem("dead_relu", tuple(dead), (
            f"{100 * worst:.0f} % of the ReLUs in {_span(dead)} are dead (zero for every "
            f"image): they no longer learn — lower the learning rate, or try LeakyReLU")))
    return problems


@dataclass(frozen=True)
class DiagnosticWarning:
    """A warning raised during training: the problem and the step where it began
    (``epoch`` and ``batch`` 1-based, ``step`` counts batches from the start)."""

    kind: str
    layers: tuple[int, ...]
    message: str
    epoch: int
    batch: int
    step: int

    def text(self) -> str:
        return f"epoch {self.epoch}, batch {self.batch} (step {self.step}): {self.message}"


class WarningMonitor:
    """Feed it every check's stats; it returns a warning the first time a problem has held
    for ``patience`` consecutive checks (once per kind per run)."""

    def __init__(self, patience: int = 3):
        if patience < 1:
            raise ValueError(f"WarningMonitor: patience must be >= 1, got {patience}")
        self.patience = patience
        self.raised: list[DiagnosticWarning] = []
        self._streak: dict[str, tuple[int, tuple[int, int, int]]] = {}

    def update(self, stats: dict[int, dict], epoch: int, batch: int,
               step: int) -> list[DiagnosticWarning]:
        found = {p.kind: p for p in find_problems(stats)}
        done = {w.kind for w in self.raised}
        new = []
        for kind in list(self._streak):
            if kind not in found:
                del self._streak[kind]
        for kind, problem in found.items():
            count, start = self._streak.get(kind, (0, (epoch, batch, step)))
            self._streak[kind] = (count + 1, start)
            if count + 1 >= self.patience and kind not in done:
                warning = DiagnosticWarning(kind, problem.layers, problem.message, *start)
                self.raised.append(warning)
                new.append(warning)
        return new
