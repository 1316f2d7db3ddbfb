"""The CIFAR-10 photos the Kernels & Blur tab filters and learns from.

The photos of the dataset the session has open when it is CIFAR-10 (views of its arrays:
nothing is loaded or copied), else the bundled sample's 20 photos. The tab shows ten at a
time and the recovery uses at most a hundred, so nothing more is ever read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CifarImages:
    """A pool of photos: uint8 ``(N, 3, 32, 32)`` RGB and int64 labels ``(N,)``."""

    name: str  # "CIFAR-10 sample"
    source: str  # "sample", "full" or the path the open dataset came from
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


def dataset_images(name: str, source: str, x_train: np.ndarray, y_train: np.ndarray,
                   x_test: np.ndarray, y_test: np.ndarray,
                   class_names: tuple[str, ...]) -> CifarImages:
    """The photos of an open CIFAR-10 dataset ``name``: its test images, as they are (no
    copy), when there are at least 20 of them; a tiny set (the sample: 10 + 10) pools its
    train and test images. Images must be uint8 ``(N, 3, H, W)``."""
    if x_test.ndim != 4 or x_test.shape[1] != 3:
        raise ValueError(f"{name}: the blur lab needs colour photos (N, 3, H, W), "
                         f"got images of shape {x_test.shape[1:]}")
    if len(x_test) >= 20:
        return CifarImages(f"{name} test set", source, x_test, y_test, tuple(class_names))
    return CifarImages(name, source, np.concatenate([x_train, x_test]),
                       np.concatenate([y_train, y_test]), tuple(class_names))
