"""Random jitter for training batches: small integer shifts and small affine transforms.

Both random functions match the Trainer's hook ``augment(x_batch, rng) -> x_batch`` as they
stand (defaults for everything else); for other strengths bind the keywords, e.g.
``functools.partial(random_affine, max_rotate_deg=15)``. Each draws one transform per image
and applies the whole batch at once (fancy indexing, no Python loop over images or pixels).
The deterministic workers :func:`shift_images` and :func:`affine_transform` take the
per-image parameters explicitly.

Conventions: images are NCHW floats; row 0 is the top, so a positive ``dy`` moves the
content down and a positive angle turns it counter-clockwise as displayed. Pixels that come
from outside the image are 0 (black background for MNIST digits). Inputs are never modified.
"""

from __future__ import annotations

import numpy as np


def _check_batch(x: np.ndarray, who: str) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", None)
        raise ValueError(f"{who}: expected a batch of images (N, C, H, W), got shape {shape}")


def shift_images(x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Shift each image by whole pixels with zero fill:
    ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]``.

    x: ``(N, C, H, W)``; dy, dx: ``(N,)`` ints (any size; a shift past the edge gives zeros).
    Returns a new array of ``x``'s dtype.
    """
    _check_batch(x, "shift_images")
    n, c, h, w = x.shape
    dy = np.asarray(dy, dtype=np.int64).reshape(n)
    dx = np.asarray(dx, dtype=np.int64).reshape(n)
    m = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    m_h, m_w = min(m, h), min(m, w)  # a shift of H or more empties the image anyway
    dy, dx = np.clip(dy, -m_h, m_h), np.clip(dx, -m_w, m_w)
    padded = np.zeros((n, c, h + 2 * m_h, w + 2 * m_w), dtype=x.dtype)  # (N, C, H+2m, W+2m)
    padded[:, :, m_h:m_h + h, m_w:m_w + w] = x
    rows = np.arange(h)[None, :] + m_h - dy[:, None]  # (N, H) source row per output row
    cols = np.arange(w)[None, :] + m_w - dx[:, None]  # (N, W)
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def random_shift(x: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Shift every image by its own random whole-pixel ``(dy, dx)``, each uniform in
    ``[-max_shift, max_shift]``, with zero fill. x: ``(N, C, H, W)`` float; returns the same
    shape and dtype."""
    _check_batch(x, "random_shift")
    if max_shift < 0:
        raise ValueError(f"random_shift: max_shift must be >= 0, got {max_shift}")
    dy = rng.integers(-max_shift, max_shift + 1, size=x.shape[0])
    dx = rng.integers(-max_shift, max_shift + 1, size=x.shape[0])
    return shift_images(x, dy, dx)


def affine_transform(x: np.ndarray, angle_deg, scale=1.0, shift=(0.0, 0.0)) -> np.ndarray:
    """Rotate, scale and shift each image about its centre, with bilinear interpolation.

    x: ``(N, C, H, W)`` float. ``angle_deg``: ``(N,)`` or scalar, counter-clockwise as
    displayed. ``scale``: ``(N,)`` or scalar, > 1 enlarges the content. ``shift``: ``(N, 2)``
    or one ``(dy, dx)`` pair, in pixels (may be fractional; positive moves content down/right).
    Each output pixel is sampled at the inverse-mapped source position; positions outside the
    image read 0. Returns a new array of ``x``'s dtype.
    """
    _check_batch(x, "affine_transform")
    n, c, h, w = x.shape
    theta = np.deg2rad(np.broadcast_to(np.asarray(angle_deg, dtype=np.float64), (n,)))
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))
    if np.any(s <= 0):
        raise ValueError(f"affine_transform: scale must be > 0, got {np.min(s)}")
    t = np.broadcast_to(np.asarray(shift, dtype=np.float64), (n, 2))
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    # Inverse mapping: each output offset from the centre (minus the shift) is turned back
    # by -θ and divided by the scale. In display coordinates (rows down) a counter-clockwise
    # turn by θ takes the source offset (r, q) to (r cosθ - q sinθ, r sinθ + q cosθ);
    # so the source of output offset (r, q) is (r cosθ + q sinθ, q cosθ - r sinθ) / s.
    r = np.arange(h)[None, :, None] - cy - t[:, 0, None, None]  # (N, H, 1)
    q = np.arange(w)[None, None, :] - cx - t[:, 1, None, None]  # (N, 1, W)
    cos, sin = (np.cos(theta) / s)[:, None, None], (np.sin(theta) / s)[:, None, None]
    src_r = cos * r + sin * q + cy  # (N, H, W)
    src_c = cos * q - sin * r + cx
    return _bilinear(x, src_r, src_c)


def _bilinear(x: np.ndarray, src_r: np.ndarray, src_c: np.ndarray) -> np.ndarray:
    """Sample ``x`` ``(N, C, H, W)`` at fractional positions ``(N, H', W')``, zero outside."""
    n, c, h, w = x.shape
    r0, c0 = np.floor(src_r), np.floor(src_c)
    fr, fc = src_r - r0, src_c - c0  # (N, H', W') fractional parts
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    flat = x.reshape(n, c, h * w)
    batch = np.arange(n)[:, None, None, None]
    chan = np.arange(c)[None, :, None, None]
    out = np.zeros((n, c) + src_r.shape[1:], dtype=np.float64)  # (N, C, H', W')
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                           (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):  # four corners
        rr, cc = r0 + dr, c0 + dc
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        idx = np.where(inside, rr * w + cc, 0)[:, None]  # (N, 1, H', W')
        out += flat[batch, chan, idx] * np.where(inside, weight, 0.0)[:, None]
    return out.astype(x.dtype, copy=False)


def random_affine(x: np.ndarray, rng: np.random.Generator, max_rotate_deg: float = 10.0,
                  scale: tuple[float, float] = (0.9, 1.1), max_shift: float = 2.0) -> np.ndarray:
    """Small random affine jitter per image: a rotation uniform in ``±max_rotate_deg``
    degrees, a scale uniform in ``scale``, a shift uniform in ``±max_shift`` pixels per axis,
    applied with :func:`affine_transform`. x: ``(N, C, H, W)`` float; same shape and dtype out."""
    _check_batch(x, "random_affine")
    lo, hi = scale
    if not 0 < lo <= hi:
        raise ValueError(f"random_affine: scale range must satisfy 0 < low <= high, got {scale}")
    n = x.shape[0]
    angle = rng.uniform(-max_rotate_deg, max_rotate_deg, size=n)
    s = rng.uniform(lo, hi, size=n)
    t = rng.uniform(-max_shift, max_shift, size=(n, 2))
    return affine_transform(x, angle, s, t)
