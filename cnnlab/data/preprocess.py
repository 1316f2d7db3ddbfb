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


# Where MNIST's digits have their ink's centre of mass, in (row, col) index coordinates:
# measured on all 5,000 bundled sample digits (resources/mnist_sample.npz) as mean 13.99
# (row) and 14.00 (col), each with a spread of 0.29 px, which is that of a uniform
# +-0.5 px rounding: MNIST shifted its digits by whole pixels. So do we.
MNIST_CENTER = (13.99, 14.00)
MNIST_BOX = 20  # the longer side of a digit's ink box, in pixels (all but 1 of the 5,000)
MNIST_SIZE = 28


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) centre of mass of a non-negative 2-D array in index coordinates."""
    total = float(image.sum())
    if total <= 0.0:
        raise ValueError("center_of_mass: the image has no ink")
    rows = np.arange(image.shape[0], dtype=np.float64)
    cols = np.arange(image.shape[1], dtype=np.float64)
    return (float(image.sum(axis=1) @ rows) / total, float(image.sum(axis=0) @ cols) / total)


def _resize(patch: np.ndarray, height: int, width: int) -> np.ndarray:
    """Antialiased float resize: area averaging (BOX) to shrink, bilinear to enlarge."""
    from PIL import Image

    shrinking = height <= patch.shape[0] and width <= patch.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    img = Image.fromarray(np.ascontiguousarray(patch, dtype=np.float32))  # mode "F"
    return np.asarray(img.resize((width, height), method), dtype=np.float32)


def mnist_from_drawing(image: np.ndarray) -> np.ndarray:
    """A drawing of a digit -> the float32 (28, 28) image in [0, 1] an MNIST network expects.

    ``image``: 2-D array of any size, ink high and background 0 (uint8 or float; ink
    intensity is taken relative to the brightest pixel). The recipe is MNIST's own:
    crop to the ink's bounding box, scale so its longer side is 20 px keeping the aspect
    ratio (antialiased grey levels), then place it in a 28x28 frame, shifted by whole
    pixels so the ink's centre of mass lands at MNIST's (row 13.99, col 14.00).
    An image with no ink gives all zeros.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"mnist_from_drawing: expected a 2-D image, got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise ValueError(f"mnist_from_drawing: expected numbers, got {image.dtype}")
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    if image.dtype != np.uint8:  # floats may hold NaN or negative values: treat them as no ink
        image = np.clip(np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0), 0.0, None)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return out
    # Crop first: the canvas is mostly background, so the float work stays small.
    patch = image[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].astype(np.float32)  # (h, w) ink box
    patch /= patch.max()
    h, w = patch.shape
    scale = MNIST_BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.clip(_resize(patch, new_h, new_w), 0.0, 1.0)  # (new_h, new_w)
    com_r, com_c = center_of_mass(small)
    top = int(np.clip(round(MNIST_CENTER[0] - com_r), 0, MNIST_SIZE - new_h))
    left = int(np.clip(round(MNIST_CENTER[1] - com_c), 0, MNIST_SIZE - new_w))
    out[top: top + new_h, left: left + new_w] = small
    return out
