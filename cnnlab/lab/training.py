"""The settings of one training run: the one dataclass the Train tab, the sweeps, the
data-size curve and the command line all fill in.

The optimizer is a name from :data:`cnnlab.engine.optim.OPTIMIZERS`; its hyper-parameters
other than the learning rate live in ``hyper`` (missing ones take the registry's
defaults), so a new optimizer needs no new field here::

    cfg = TrainingConfig(optimizer="sgd", lr=0.05, hyper={"momentum": 0.0})
    opt = cfg.make_optimizer(model)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from types import MappingProxyType
from typing import Any

from cnnlab.engine.losses import REDUCTIONS, SoftmaxCrossEntropy
from cnnlab.engine.metrics import METRICS
from cnnlab.engine.optim import OPTIMIZERS, Optimizer, make_optimizer


@dataclass(frozen=True)
class TrainingConfig:
    """Everything a training run uses. ``subset`` trains on N training images drawn at
    random (fixed by ``seed``); None uses them all. ``l2``/``l1`` are penalties added to
    the loss (λ·ΣW², λ·Σ|W|)."""

    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    hyper: Any = field(default_factory=dict)  # the optimizer's other hyper-parameters
    l2: float = 0.0
    l1: float = 0.0
    val_fraction: float = 0.1
    seed: int = 0
    augment: bool = False
    subset: int | None = None
    include_user_digits: bool = False  # add the Draw tab's corrected drawings (MNIST only)
    user_digits_path: str | None = None  # None: the default per-user file
    loss_reduction: str = "mean"  # "sum": the batch's gradients add up, as in the homework
    metrics: tuple[str, ...] = ("accuracy",)  # Keras-style; "precision" adds macro precision

    def __post_init__(self):
        name = str(self.optimizer).lower()
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        known = {h.name for h in OPTIMIZERS[name].hyper} - {"lr"}
        hyper = dict(self.hyper or {})
        unknown = sorted(set(hyper) - known)
        if unknown:
            raise ValueError(f"{OPTIMIZERS[name].label} has no hyper-parameter {unknown[0]!r} "
                             f"(it takes {', '.join(sorted(known))})")
        for key, low in (("epochs", 1), ("batch_size", 1)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be a whole number ≥ {low}, got {value!r}")
        for key in ("lr", "l2", "l1", "val_fraction"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{key} must be a finite number ≥ 0, got {value!r}")
        if not self.val_fraction < 1:
            raise ValueError(f"val_fraction must be below 1, got {self.val_fraction!r}")
        if self.loss_reduction not in REDUCTIONS:
            raise ValueError(f"loss_reduction must be 'mean' or 'sum', got {self.loss_reduction!r}")
        metrics = (self.metrics,) if isinstance(self.metrics, str) else tuple(self.metrics)
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}: choose from {', '.join(METRICS)}")
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "optimizer", name)
        object.__setattr__(self, "hyper", MappingProxyType(hyper))

    def with_(self, **changes: Any) -> TrainingConfig:
        """A copy with ``changes``; a hyper-parameter of the optimizer (``momentum=0``) may
        be given by name like a field."""
        names = {f.name for f in fields(self)}
        hyper = dict(self.hyper)
        if "optimizer" in changes and changes["optimizer"] != self.optimizer:
            hyper = {}  # the old optimizer's hyper-parameters mean nothing to the new one
        hyper.update(changes.pop("hyper", {}) or {})
        for key in [k for k in changes if k not in names]:
            hyper[key] = changes.pop(key)
        return replace(self, hyper=hyper, **changes)

    def record(self, data: str) -> dict:
        """The settings as the model's ``meta["training"]`` keeps them (the same keys
        ``cnnlab train`` writes, shown in an exported ``model.py``)."""
        out = {"data": data, "optimizer": self.optimizer, **self.optimizer_hyper(),
               "epochs": self.epochs, "batch_size": self.batch_size,
               "val_fraction": self.val_fraction, "seed": self.seed, "augment": self.augment}
        out.update({k: getattr(self, k) for k in ("l2", "l1") if getattr(self, k)})
        return out

    def optimizer_hyper(self) -> dict[str, float]:
        """Every hyper-parameter the optimizer gets, defaults filled in (``lr`` included)."""
        values = OPTIMIZERS[self.optimizer].defaults()
        values.update(self.hyper)
        values["lr"] = self.lr
        return values

    def make_loss(self) -> SoftmaxCrossEntropy:
        """The cross-entropy these settings name (mean or sum over the batch)."""
        return SoftmaxCrossEntropy(self.loss_reduction)

    def make_optimizer(self, layers) -> Optimizer:
        """The optimizer these settings name, over ``layers`` (a model or a layer list)."""
        return make_optimizer(self.optimizer, layers, **self.optimizer_hyper())

    def describe_optimizer(self) -> str:
        """``"SGD lr 0.01 momentum 0.9"`` for logs and plot legends."""
        info = OPTIMIZERS[self.optimizer]
        defaults = info.defaults()
        extra = " ".join(f"{k} {v:g}" for k, v in self.optimizer_hyper().items()
                         if k != "lr" and (k == "momentum" or v != defaults[k]))
        return f"{info.label.split(' (')[0]} lr {self.lr:g}" + (f" {extra}" if extra else "")

    def __getattr__(self, name: str):
        # cfg.momentum reads the optimizer's hyper-parameter (with its default)
        if name.startswith("_") or name == "hyper":
            raise AttributeError(name)
        values = self.optimizer_hyper()
        if name in values:
            return values[name]
        raise AttributeError(f"TrainingConfig has no field {name!r}")


class TrainingState(str, Enum):
    """Where the one training run stands. Compares equal to its value (``"idle"``...)."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"

    def __str__(self) -> str:
        return self.value
