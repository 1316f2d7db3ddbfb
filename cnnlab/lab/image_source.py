"""The CIFAR-10 photos the Kernels & Blur tab filters and learns from.

Loaded by the tab itself, independent of the dataset the session trains on: the bundled
sample always works; full CIFAR-10 once it is in the download cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CifarImages:
    """A pool of photos: uint8 ``(N, 3, 32, 32)`` RGB and int64 labels ``(N,)``."""

    name: str  # "CIFAR-10 sample"
    source: str  # "sample" or "full"
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"{self.name}: {len(self.x):,} images"


def load_cifar_images(source: str = "sample") -> CifarImages:
    """The sample's 20 images (its train and test halves together), or full CIFAR-10's
    10,000 test images. Blocking; raises ``DatasetError`` when "full" is not cached."""
    from cnnlab.data import CIFAR10_CLASSES, load_cifar10

    (xtr, ytr), (xte, yte) = load_cifar10(source)
    if source == "sample":
        x, y, name = np.concatenate([xtr, xte]), np.concatenate([ytr, yte]), "CIFAR-10 sample"
    else:
        x, y, name = xte, yte, "CIFAR-10 test set"
    return CifarImages(name, source, x, y, tuple(CIFAR10_CLASSES))
