"""Turning images into network input: scaling to float, and a drawing into an MNIST digit."""

from __future__ import annotations

import numpy as np


def to_float(images: np.ndarray, scale: str = "unit") -> np.ndarray:
    """uint8 images (any shape) -> float32: ``"unit"`` gives [0, 1], ``"centered"`` [-0.5, 0.5].

    Float input is taken to be in [0, 1] already and only cast (then shifted for "centered").
    """
    images = np.asarray(images)
    if scale not in ("unit", "centered"):
        raise ValueError(f"to_float: scale must be 'unit' or 'centered', got {scale!r}")
    if images.dtype == np.uint8:
        out = images.astype(np.float32)
        out *= np.float32(1.0 / 255.0)
    elif np.issubdtype(images.dtype, np.floating):
        out = images.astype(np.float32)  # always a copy: callers may modify it
    else:
        raise ValueError(f"to_float: expected uint8 (0..255) or float images in [0, 1], got {images.dtype}")
    if scale == "centered":
        out -= np.float32(0.5)
    return out
