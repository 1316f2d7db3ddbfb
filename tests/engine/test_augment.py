"""Batch augmentation against plain-loop oracles."""

import math

import numpy as np
import pytest

from cnnlab.engine.augment import affine_transform, random_affine, random_shift, shift_images


def _loop_shift(img, dy, dx):
    out = np.zeros_like(img)
    c, h, w = img.shape
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = img[:, i - dy, j - dx]
    return out


def _loop_affine(img, angle_deg, scale, shift):
    """Per-pixel inverse map + bilinear sampling, written out the slow way."""
    c, h, w = img.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    th = math.radians(angle_deg)
    out = np.zeros(img.shape, dtype=np.float64)
    for i in range(h):
        for j in range(w):
            r, q = i - cy - shift[0], j - cx - shift[1]
            sr = (r * math.cos(th) + q * math.sin(th)) / scale + cy
            sc = (q * math.cos(th) - r * math.sin(th)) / scale + cx
            r0, c0 = math.floor(sr), math.floor(sc)
            for rr in (r0, r0 + 1):
                for cc in (c0, c0 + 1):
                    wgt = (1 - abs(sr - rr)) * (1 - abs(sc - cc))
                    if 0 <= rr < h and 0 <= cc < w:
                        out[:, i, j] += wgt * img[:, rr, cc]
    return out


def test_shift_images_matches_loop_reference():
    rng = np.random.default_rng(0)
    x = rng.random((6, 2, 7, 9)).astype(np.float32)
    dy = np.array([0, 1, -2, 3, 0, -9])
    dx = np.array([0, -1, 2, 0, 4, 0])
    out = shift_images(x, dy, dx)
    assert out.dtype == np.float32 and out.shape == x.shape
    for n in range(6):
        np.testing.assert_array_equal(out[n], _loop_shift(x[n], dy[n], dx[n]))


def test_random_shift_draws_bounded_shifts_and_is_reproducible():
    x = np.random.default_rng(1).random((20, 1, 8, 8))
    x_before = x.copy()
    out = random_shift(x, np.random.default_rng(5), max_shift=2)
    np.testing.assert_array_equal(x, x_before)  # input untouched
    np.testing.assert_array_equal(out, random_shift(x, np.random.default_rng(5), max_shift=2))
    seen = set()
    for n in range(20):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(out[n], _loop_shift(x[n], dy, dx))]
        assert matches, f"image {n} is not a shift within ±2"
        seen.add(matches[0])
    assert len(seen) > 5  # really random per image
    np.testing.assert_array_equal(random_shift(x, np.random.default_rng(0), max_shift=0), x)


def test_identity_affine_returns_input():
    x = np.random.default_rng(2).random((3, 3, 10, 12)).astype(np.float32)
    np.testing.assert_allclose(affine_transform(x, 0.0, 1.0, (0.0, 0.0)), x, atol=1e-6)


def test_rotation_by_90_matches_rot90():
    x = np.random.default_rng(3).random((4, 2, 9, 9))
    out = affine_transform(x, 90.0)
    np.testing.assert_allclose(out[:, :, 1:-1, 1:-1], np.rot90(x, 1, axes=(2, 3))[:, :, 1:-1, 1:-1],
                               atol=1e-9)
    back = affine_transform(x, -90.0)
    np.testing.assert_allclose(back[:, :, 1:-1, 1:-1], np.rot90(x, -1, axes=(2, 3))[:, :, 1:-1, 1:-1],
                               atol=1e-9)


def test_integer_affine_shift_equals_shift_images():
    x = np.random.default_rng(4).random((2, 1, 6, 6))
    out = affine_transform(x, 0.0, 1.0, [(1.0, -2.0), (0.0, 3.0)])
    np.testing.assert_allclose(out, shift_images(x, [1, 0], [-2, 3]), atol=1e-12)


def test_affine_matches_loop_reference_on_random_parameters():
    rng = np.random.default_rng(5)
    x = rng.random((5, 2, 11, 8))
    angles = rng.uniform(-30, 30, 5)
    scales = rng.uniform(0.8, 1.3, 5)
    shifts = rng.uniform(-2, 2, (5, 2))
    out = affine_transform(x, angles, scales, shifts)
    for n in range(5):
        np.testing.assert_allclose(out[n], _loop_affine(x[n], angles[n], scales[n], shifts[n]),
                                   atol=1e-12)


def test_random_affine_shape_dtype_reproducible():
    x = np.random.default_rng(6).random((8, 1, 28, 28)).astype(np.float32)
    a = random_affine(x, np.random.default_rng(7))
    b = random_affine(x, np.random.default_rng(7))
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, x)
    # Small jitter keeps most of the mass of a centred blob.
    blob = np.zeros((4, 1, 28, 28), dtype=np.float32)
    blob[:, :, 10:18, 10:18] = 1.0
    moved = random_affine(blob, np.random.default_rng(8))
    assert np.all(np.abs(moved.sum(axis=(1, 2, 3)) - 64) < 20)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_shift(np.zeros((28, 28)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="scale"):
        random_affine(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), scale=(1.2, 0.9))
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), max_shift=-1)
