"""The user's own digits: drawings corrected with "This is wrong -> label" in the Draw tab.

Kept in one ``.npz`` in the per-user data folder (``user_digits.npz``), rewritten atomically
after every change. The file has the same layout as the bundled MNIST sample (all digits in
``x_train``/``y_train``, an empty test part), so ``load_mnist(path)`` reads it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.data.cache import user_data_dir
from cnnlab.data.datasets import MNIST_CLASSES
from cnnlab.data.errors import DatasetError
from cnnlab.data.formats import read_split_npz
from cnnlab.data.npz import save_npz

DEFAULT_FILENAME = "user_digits.npz"


def default_user_digits_path() -> Path:
    """``<per-user data folder>/user_digits.npz`` (``CNNLAB_DATA`` overrides the folder)."""
    return user_data_dir() / DEFAULT_FILENAME


class UserDigits:
    """A growing set of labelled 28x28 digits stored at ``path``.

    Opening an existing file reads it (a damaged file raises DatasetError rather than
    being overwritten); a missing file means an empty set, created on the first ``add``.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_user_digits_path()
        self._x = np.zeros((0, 1, 28, 28), dtype=np.uint8)  # (N, 1, 28, 28)
        self._y = np.zeros(0, dtype=np.int64)  # (N,)
        if self.path.exists():
            (x, y), _ = read_split_npz(self.path, channels=1)
            if x.shape[1:] != (1, 28, 28):
                raise DatasetError(f"{self.path}: user digits must be 28x28, found {x.shape[2:]}")
            self._x, self._y = x, y

    def __len__(self) -> int:
        return len(self._y)

    def add(self, image28: np.ndarray, label: int) -> None:
        """Append one digit and save. ``image28``: (28, 28) or (1, 28, 28), float in [0, 1]
        (as from ``mnist_from_drawing``) or uint8; ``label``: 0..9."""
        image = np.asarray(image28)
        if image.shape == (1, 28, 28):
            image = image[0]
        if image.shape != (28, 28):
            raise ValueError(f"UserDigits.add: expected a 28x28 image, got shape {image.shape}")
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) \
                or not 0 <= label < len(MNIST_CLASSES):
            raise ValueError(f"UserDigits.add: label must be an integer 0..9, got {label!r}")
        if image.dtype != np.uint8:
            if not np.issubdtype(image.dtype, np.floating) or not np.all((image >= 0) & (image <= 1)):
                raise ValueError("UserDigits.add: expected uint8 or floats in [0, 1] "
                                 f"(got {image.dtype}, range {image.min()}..{image.max()})")
            image = np.round(image * 255.0).astype(np.uint8)
        x = np.concatenate([self._x, image[None, None]])
        y = np.append(self._y, np.int64(label))
        self._write(self.path, x, y)  # save first: memory changes only if the file did
        self._x, self._y = x, y

    def clear(self) -> None:
        """Forget every digit (the file is rewritten empty)."""
        self._x, self._y = self._x[:0], self._y[:0]
        self._write(self.path, self._x, self._y)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of all digits: (x uint8 (N, 1, 28, 28), y int64 (N,)), ready to add to training."""
        return self._x.copy(), self._y.copy()

    def export(self, path: str | os.PathLike) -> Path:
        """Write all digits to ``path`` (``.npz``, readable by ``load_mnist(path)``) atomically."""
        return self._write(Path(path), self._x, self._y)

    @staticmethod
    def _write(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
        return save_npz(path, {"x_train": x, "y_train": y,
                               "x_test": x[:0], "y_test": y[:0],
                               "class_names": np.array(MNIST_CLASSES)})
