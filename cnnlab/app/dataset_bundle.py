"""The dataset the session owns: arrays, what the user calls it, and loading it.

The session is the one owner of the current ``DatasetBundle``; jobs get its read-only
arrays (or index arrays into them), so replacing it releases the old arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class DatasetBundle:
    """A loaded dataset: uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``."""

    name: str  # what the user reads: "MNIST sample"
    source: str  # what load_mnist/load_cifar10 was given: "sample", "full" or a path
    kind: str  # "mnist" or "cifar10"
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> str:
        if self.source not in ("sample", "full"):  # the name already gives the counts
            return self.name
        return f"{self.name} · {len(self.x_train):,} train / {len(self.x_test):,} test"


def dataset_name(label: str, source: str, n_train: int, n_test: int) -> str:
    """What the user reads: "MNIST sample", "MNIST full", or for files opened from disk
    "MNIST (60,000 / 10,000, from …/mnist)" (the folder or file, not its whole path)."""
    if source in ("sample", "full"):
        return f"{label} {source}"
    where = Path(source).name or source
    where = where if len(where) <= 32 else where[:31] + "…"  # names show in combos and titles
    return f"{label} ({n_train:,} / {n_test:,}, from …/{where})"


def load_dataset(kind: str, source: str = "sample") -> DatasetBundle:
    """Load MNIST or CIFAR-10 through ``cnnlab.data`` (blocking; call from a job
    unless ``source == "sample"``)."""
    from cnnlab import data

    if kind == "mnist":
        (xtr, ytr), (xte, yte) = data.load_mnist(source)
        classes, label = tuple(data.MNIST_CLASSES), "MNIST"
    elif kind == "cifar10":
        (xtr, ytr), (xte, yte) = data.load_cifar10(source)
        classes, label = tuple(data.CIFAR10_CLASSES), "CIFAR-10"
    else:
        raise ValueError(f"unknown dataset kind {kind!r} (expected 'mnist' or 'cifar10')")
    name = dataset_name(label, source, len(xtr), len(xte))
    return DatasetBundle(name, source, kind, xtr, ytr, xte, yte, classes)
