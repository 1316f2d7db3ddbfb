"""Named kernels and blur_images against plain-loop references."""

import math

import numpy as np
import pytest

from cnnlab.engine.reference import conv_forward
from cnnlab.lab.kernels import (
    KERNELS,
    as_conv_weight,
    blur_images,
    box,
    classic_blur,
    custom,
    emboss,
    filtered_size,
    gaussian,
    identity,
    laplacian,
    make_kernel,
    output_size_formula,
    resolve_padding,
    sharpen,
    sobel_x,
    sobel_y,
)


def _reference(images, weight, stride, pads, dilation):
    """Plain-loop correlation after explicit zero padding ((top, bottom), (left, right))."""
    (pt, pb), (pl, pr) = pads
    x = np.pad(images.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    return conv_forward(x, weight, None, tuple(stride), 0, tuple(dilation))


def test_gaussian_is_normalized_symmetric_and_follows_the_formula():
    for size, sigma in [(3, 0.5), (5, 1.0), (4, 1.3), (7, 2.0)]:
        k = gaussian(size, sigma)
        assert k.shape == (size, size)
        assert k.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(k, k.T, atol=1e-15)
        np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
        c = (size - 1) / 2
        ratio = k[0, 0] / k[0, size // 2 if size % 2 else 1]
        dx0 = (0 - c) ** 2
        d_ref = (size // 2 - c) ** 2 if size % 2 else (1 - c) ** 2
        assert ratio == pytest.approx(math.exp(-(dx0 - d_ref) / (2 * sigma ** 2)), rel=1e-12)
    # a wider sigma is flatter
    assert gaussian(5, 3.0).max() < gaussian(5, 1.0).max()
    with pytest.raises(ValueError, match="sigma"):
        gaussian(5, 0)
    with pytest.raises(ValueError, match="size"):
        gaussian(0, 1.0)


def test_fixed_kernels():
    np.testing.assert_array_equal(classic_blur() * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    assert box(4).sum() == pytest.approx(1.0) and np.ptp(box(4)) == 0
    np.testing.assert_array_equal(sobel_y(), sobel_x().T)
    assert sobel_x()[1, 2] == 2 and sobel_x().sum() == 0
    assert laplacian().sum() == 0 and sharpen().sum() == 1 and emboss().sum() == 1
    k = identity(5)
    assert k.sum() == 1 and k[2, 2] == 1
    with pytest.raises(ValueError, match="odd"):
        identity(4)


def test_registry_builds_every_kernel():
    for name, spec in KERNELS.items():
        k = make_kernel(name)
        assert k.ndim == 2 and np.all(np.isfinite(k)), name
        if spec.takes_size:
            assert make_kernel(name, size=7).shape == (7, 7)
    np.testing.assert_allclose(make_kernel("gaussian", size=3, sigma=0.7), gaussian(3, 0.7))
    assert make_kernel("sobel_x", size=9).shape == (3, 3)  # fixed kernels ignore size
    with pytest.raises(ValueError, match="unknown kernel"):
        make_kernel("blurry")


def test_custom_kernel_validation():
    np.testing.assert_array_equal(custom([[1, 2, 3]]), [[1.0, 2.0, 3.0]])
    for bad in ([[1, 2], [3]], [1, 2, 3], [[float("nan")]], [[]], "abc"):
        with pytest.raises(ValueError):
            custom(bad)


def test_as_conv_weight_modes():
    k = sobel_x()
    w = as_conv_weight(k, 3, "per_channel")
    assert w.shape == (3, 3, 3, 3) and w.dtype == np.float32
    for o in range(3):
        for i in range(3):
            np.testing.assert_array_equal(w[o, i], k if o == i else 0)
    full = as_conv_weight(k, 2, "full")
    assert full.shape == (2, 2, 3, 3) and np.all(full == k)
    full[0, 0, 0, 0] = 99  # writable, not a broadcast view
    custom_w = np.arange(3 * 3 * 2 * 2, dtype=float).reshape(3, 3, 2, 2)
    np.testing.assert_array_equal(as_conv_weight(custom_w, 3), custom_w)
    with pytest.raises(ValueError, match="mode"):
        as_conv_weight(k, 3, "diagonal")
    with pytest.raises(ValueError, match=r"\(3, 3, kh, kw\)"):
        as_conv_weight(np.zeros((2, 3, 3, 3)), 3)


def test_blur_of_constant_image_is_constant_away_from_the_border():
    images = np.full((2, 3, 16, 16), 137, dtype=np.uint8)
    for kernel, dilation in [(gaussian(5, 1.2), 1), (classic_blur(), 2), (box(4), 1)]:
        out = blur_images(images, kernel, dilation=dilation)
        assert out.dtype == np.float32 and out.shape == images.shape
        reach = dilation * (kernel.shape[0] - 1)
        np.testing.assert_allclose(out[:, :, reach:-reach, reach:-reach], 137.0, rtol=1e-5)
        assert out[0, 0, 0, 0] < 137.0 - 1  # zero padding darkens the corner


@pytest.mark.parametrize("kernel, stride, padding, dilation, mode", [
    (sobel_x(), 1, "same", 1, "per_channel"),
    (gaussian(4, 1.0), 2, "same", 2, "per_channel"),  # even kernel: asymmetric same padding
    (np.arange(6.0).reshape(2, 3) - 2, (1, 2), 1, 1, "per_channel"),  # non-square
    (classic_blur(), 3, 0, (2, 1), "full"),
    (np.random.default_rng(0).normal(size=(3, 3, 3, 3)), 1, (1, 0), 1, "full"),
])
def test_blur_matches_plain_loop_reference(kernel, stride, padding, dilation, mode):
    images = np.random.default_rng(1).integers(0, 256, (2, 3, 9, 8), dtype=np.uint8)
    out = blur_images(images, kernel, stride=stride, padding=padding, dilation=dilation, mode=mode)
    weight = as_conv_weight(kernel, 3, mode).astype(np.float64)
    pads = resolve_padding(weight.shape[2:], padding, dilation)
    ref = _reference(images, weight, np.broadcast_to(stride, 2), pads, np.broadcast_to(dilation, 2))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-3)


def test_identity_kernel_returns_the_images_and_batches_are_consistent():
    images = np.random.default_rng(2).integers(0, 256, (7, 3, 6, 5), dtype=np.uint8)
    np.testing.assert_array_equal(blur_images(images, identity(3)), images.astype(np.float32))
    np.testing.assert_array_equal(blur_images(images, gaussian(3, 1.0), batch_size=3),
                                  blur_images(images, gaussian(3, 1.0)))


def test_output_size_follows_the_conv_formula():
    for h in (7, 8, 32):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for d in (1, 2):
                    for p in (0, 1, 2):
                        expected = (h + 2 * p - d * (k - 1) - 1) // s + 1
                        if expected < 1:
                            with pytest.raises(ValueError, match="does not fit"):
                                filtered_size(h, h, k, s, p, d)
                            continue
                        assert filtered_size(h, h + 1, k, s, p, d) == (
                            expected, (h + 1 + 2 * p - d * (k - 1) - 1) // s + 1)
                    # "same": the input size at stride 1, ceil(H / s) otherwise
                    assert filtered_size(h, h, k, s, "same", d) == (math.ceil(h / s),) * 2
    images = np.zeros((1, 3, 11, 10), dtype=np.uint8)
    assert blur_images(images, gaussian(5, 1), stride=2, padding=1, dilation=2).shape == (1, 3, 3, 2)


def test_resolve_padding_and_formula_text():
    assert resolve_padding(3, "same") == ((1, 1), (1, 1))
    assert resolve_padding((4, 3), "same", dilation=2) == ((3, 3), (2, 2))
    assert resolve_padding(2, "same") == ((0, 1), (0, 1))
    assert resolve_padding(5, (2, 0)) == ((2, 2), (0, 0))
    with pytest.raises(ValueError, match="padding"):
        resolve_padding(3, "valid")
    with pytest.raises(ValueError, match="padding"):
        resolve_padding(3, -1)
    assert output_size_formula(32, 5, 1, (2, 2), 1) == "⌊(32 + 2·2 − 1·(5 − 1) − 1) / 1⌋ + 1 = 32"
    assert output_size_formula(9, 4, 2, (1, 2), 1).endswith("= 5")


def test_blur_images_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        blur_images(np.zeros((3, 8, 8), dtype=np.uint8), box(3))
    with pytest.raises(ValueError, match="does not fit"):
        blur_images(np.zeros((1, 3, 4, 4), dtype=np.uint8), box(5), padding=0)
    with pytest.raises(ValueError, match="stride"):
        blur_images(np.zeros((1, 3, 8, 8), dtype=np.uint8), box(3), stride=0)


def test_size_from_sigma_holds_three_sigma_each_side():
    from cnnlab.lab.kernels import size_from_sigma

    assert [size_from_sigma(s) for s in (0.3, 1, 1.01, 2.5, 3)] == [3, 7, 9, 17, 19]
    with pytest.raises(ValueError, match="sigma must be a positive"):
        size_from_sigma(0)


@pytest.mark.parametrize("size, sigma", [(5, 3.0), (5, 1.0), (4, 1.0), (19, 3.0), (1, 0.5)])
def test_gaussian_kept_matches_a_plain_sum(size, sigma):
    import math

    from cnnlab.lab.kernels import gaussian_kept

    centre = (size - 1) / 2
    inside = sum(math.exp(-((i - centre) ** 2) / (2 * sigma ** 2)) for i in range(size))
    everywhere = sum(math.exp(-((i - centre) ** 2) / (2 * sigma ** 2)) for i in range(-2000, 2000))
    assert gaussian_kept(size, sigma) == pytest.approx((inside / everywhere) ** 2, rel=1e-12)
    # the 2-D sum over the window, plainly, agrees with the separable form
    window = sum(math.exp(-((i - centre) ** 2 + (j - centre) ** 2) / (2 * sigma ** 2))
                 for i in range(size) for j in range(size))
    assert window / everywhere ** 2 == pytest.approx(gaussian_kept(size, sigma), rel=1e-12)
