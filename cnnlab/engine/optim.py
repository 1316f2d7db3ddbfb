"""Optimizers. Each walks the ``(params, grads)`` of a list of layers and updates the
params in place; layers never update themselves.

Every optimizer is registered by a lowercase name in :data:`OPTIMIZERS`, with its
hyper-parameters, defaults and ranges; everything else (the Train tab's list and fields, the
sweeps, kernel recovery, the CLI) asks this registry, so adding an optimizer touches this
file and nothing else::

    opt = make_optimizer("adam", model, lr=1e-3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hyper:
    """One hyper-parameter of an optimizer: its keyword, default and allowed range."""
    name: str
    default: float
    low: float
    high: float
    help: str = ""
    log: bool = False  # spans decades (a learning rate): edit it on a log scale

    def check(self, owner: str, value) -> float:
        """``value`` as a float; refuses non-numbers, NaN/inf and values below ``low``.
        ``high`` is where the app's fields stop, not a law: an experiment may go beyond
        (the optimizer's own constructor refuses what has no meaning, e.g. β ≥ 1)."""
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value < self.low):
            raise ValueError(f"{owner}: {self.name} must be a finite number ≥ {self.low:g}, "
                             f"got {value!r}")
        return float(value)


@dataclass(frozen=True)
class OptimizerInfo:
    """A registry entry: ``name`` (lowercase key), ``label`` for lists, the class and its
    hyper-parameters (``lr`` first)."""
    name: str
    label: str
    cls: type
    hyper: tuple[Hyper, ...]

    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hyper}


#: lowercase name -> :class:`OptimizerInfo`, in the order lists show them
OPTIMIZERS: dict[str, OptimizerInfo] = {}


def register(name: str, label: str, *hyper: Hyper):
    """Class decorator: add an optimizer to :data:`OPTIMIZERS` under ``name``."""
    def add(cls):
        key = name.lower()
        OPTIMIZERS[key] = OptimizerInfo(key, label, cls, tuple(hyper))
        return cls
    return add


def make_optimizer(name: str, layers, **hyper: float) -> Optimizer:
    """Build the optimizer registered as ``name`` (case-insensitive) over ``layers``.
    Missing hyper-parameters take their defaults; unknown or out-of-range ones raise
    ``ValueError`` naming them."""
    info = OPTIMIZERS.get(str(name).lower())
    if info is None:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    known = {h.name: h for h in info.hyper}
    unknown = sorted(set(hyper) - set(known))
    if unknown:
        raise ValueError(f"{info.label}: unknown hyper-parameter {unknown[0]!r} "
                         f"(it takes {', '.join(known)})")
    values = {h.name: h.check(info.label, hyper.get(h.name, h.default)) for h in info.hyper}
    return info.cls(layers, **values)


LR = Hyper("lr", 1e-3, 1e-7, 10.0, "learning rate: the step size", log=True)
WEIGHT_DECAY = Hyper("weight_decay", 0.0, 0.0, 1.0, "adds wd·p to every gradient (L2)")


def _check_hyper(owner: str, **values: float) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")


class Optimizer:
    """Base: ``layers`` is a ``Sequential`` or any iterable of objects with
    ``params``/``grads`` dicts. ``lr`` may be changed between steps."""

    def __init__(self, layers, lr: float):
        layers = getattr(layers, "layers", layers)
        self.layers = [layer for layer in layers if getattr(layer, "params", None)]
        _check_hyper(type(self).__name__, lr=lr)
        self.lr = float(lr)
        self.state: dict[tuple[int, str], dict[str, np.ndarray]] = {}
        self.t = 0  # steps taken

    def slots(self):
        """Yield ``(key, param, grad)`` for every parameter array."""
        for i, layer in enumerate(self.layers):
            for name, param in layer.params.items():
                yield (i, name), param, layer.grads[name]

    def zero_grad(self) -> None:
        """Set every gradient to zero (in place)."""
        for _, _, grad in self.slots():
            grad.fill(0)

    def step(self) -> None:
        """Update every parameter in place from its gradient. Each layer keeps the step it
        was moved by in ``layer.last_update`` (``{name: Δ}`` with ``p_new = p_old − Δ``; a
        reference to the optimizer's buffer, valid until the next step), so diagnostics can
        compare the size of an update with the size of the weights."""
        self.t += 1
        for key, param, grad in self.slots():
            if key not in self.state:
                self.state[key] = {}
            delta = self._update(param, grad, self.state[key])
            layer = self.layers[key[0]]
            if key[1] == next(iter(layer.params)):
                layer.last_update = {}
            layer.last_update[key[1]] = delta

    def _update(self, param, grad, state) -> np.ndarray:  # pragma: no cover - abstract
        """Move ``param`` in place and return the step Δ it subtracted."""
        raise NotImplementedError


@register("sgd", "SGD (momentum 0 = plain SGD)",
          Hyper("lr", 0.01, 1e-7, 10.0, "learning rate: the step size", log=True),
          Hyper("momentum", 0.9, 0.0, 0.999, "SGD momentum (0 = plain SGD)"),
          WEIGHT_DECAY)
class SGD(Optimizer):
    """``SGD(layers, lr, momentum=0.0, weight_decay=0.0)``, PyTorch's formulation:
    ``g = grad + wd·p``; ``v = μ·v + g``; ``p -= lr·v`` (``v = g`` when μ = 0)."""

    def __init__(self, layers, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(layers, lr)
        _check_hyper("SGD", momentum=momentum, weight_decay=weight_decay)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)

    def _update(self, param, grad, state) -> np.ndarray:
        g = grad + self.weight_decay * param if self.weight_decay else grad
        if self.momentum:
            v = state.get("v")
            if v is None:
                v = state["v"] = g.astype(param.dtype, copy=True)
            else:
                v *= self.momentum
                v += g
            g = v
        delta = self.lr * g
        param -= delta
        return delta


@register("adam", "Adam", LR,
          Hyper("beta1", 0.9, 0.0, 0.9999, "Adam β1: decay of the mean gradient"),
          Hyper("beta2", 0.999, 0.0, 0.99999, "Adam β2: decay of the mean squared gradient"),
          Hyper("eps", 1e-8, 1e-12, 1.0, "Adam ε: keeps the step finite", log=True),
          WEIGHT_DECAY)
class Adam(Optimizer):
    """``Adam(layers, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)``
    with bias correction (Kingma & Ba 2015, Algorithm 1); ``weight_decay`` adds
    ``wd·p`` to the gradient, as PyTorch's Adam does."""

    def __init__(self, layers, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(layers, lr)
        _check_hyper("Adam", eps=eps, weight_decay=weight_decay)
        if not eps >= 1e-12:  # eps = 0 divides 0 by 0 wherever a gradient is zero
            raise ValueError(f"Adam: eps must be at least 1e-12, got {eps!r}")
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not isinstance(beta, (int, float)) or not 0 <= beta < 1:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    def _update(self, param, grad, state) -> np.ndarray:
        g = grad + self.weight_decay * param if self.weight_decay else grad
        if "m" not in state:
            state["m"] = np.zeros_like(param)
            state["v"] = np.zeros_like(param)
            state["tmp"] = np.empty_like(param)
        m, v, tmp = state["m"], state["v"], state["tmp"]
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1 - b1) * g
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        # p -= lr · m̂ / (sqrt(v̂) + eps) with m̂ = m / (1 - b1^t), v̂ = v / (1 - b2^t)
        step = self.lr / (1 - b1 ** self.t)
        np.sqrt(v, out=tmp)
        tmp *= 1 / math.sqrt(1 - b2 ** self.t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step
        param -= tmp
        return tmp
