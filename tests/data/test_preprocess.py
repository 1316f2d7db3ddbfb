"""to_float, train_val_split and the canvas-to-MNIST preprocessing."""

import numpy as np
import pytest
from PIL import Image

from cnnlab.data import load_mnist, train_val_split
from cnnlab.data.preprocess import MNIST_CENTER, center_of_mass, mnist_from_drawing, to_float


@pytest.fixture(scope="module")
def mnist_test():
    _, (x, y) = load_mnist("sample")
    return x[:, 0], y


# ---- to_float -------------------------------------------------------------------------

def test_to_float_unit_and_centered():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    unit = to_float(x)
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [[0.0, 0.2, 1.0]], atol=1e-7)
    np.testing.assert_allclose(to_float(x, "centered"), [[-0.5, -0.3, 0.5]], atol=1e-7)


def test_to_float_float_input_is_copied_not_rescaled():
    x = np.array([0.25, 1.0], dtype=np.float64)
    out = to_float(x)
    out[0] = 9
    assert x[0] == 0.25 and out.dtype == np.float32
    np.testing.assert_allclose(to_float(x, "centered"), [-0.25, 0.5])


@pytest.mark.parametrize("bad", [dict(images=np.zeros(3, np.int32)),
                                 dict(images=np.zeros(3, np.uint8), scale="std")])
def test_to_float_rejects(bad):
    with pytest.raises(ValueError, match="to_float"):
        to_float(**bad)


# ---- train_val_split --------------------------------------------------------------------

def test_split_is_stratified_deterministic_and_disjoint():
    y = np.repeat(np.arange(10), [50, 40, 30, 60, 50, 50, 20, 80, 50, 70])
    x = np.arange(len(y))  # each sample is its own index
    (xt, yt), (xv, yv) = train_val_split(x, y, 0.2, seed=3)
    counts, val_counts = np.bincount(y), np.bincount(yv, minlength=10)
    np.testing.assert_array_equal(val_counts, np.round(counts * 0.2).astype(int))
    assert set(xt).isdisjoint(xv) and len(xt) + len(xv) == len(x)
    np.testing.assert_array_equal(y[xt], yt)  # x and y stay paired
    assert np.all(np.diff(xt) > 0) and np.all(np.diff(xv) > 0)  # original order kept
    (xt2, _), (xv2, _) = train_val_split(x, y, 0.2, seed=3)
    np.testing.assert_array_equal(xv, xv2)
    (_, _), (xv3, _) = train_val_split(x, y, 0.2, seed=4)
    assert not np.array_equal(xv, xv3)


def test_split_unstratified_and_zero_fraction():
    y = np.array([0] * 90 + [1] * 10)
    (_, _), (xv, yv) = train_val_split(np.arange(100), y, 0.25, seed=0, stratify=False)
    assert len(xv) == 25
    (xt, _), (xv, _) = train_val_split(np.arange(100), y, 0.0)
    assert len(xt) == 100 and len(xv) == 0


@pytest.mark.parametrize("frac", [-0.1, 1.0])
def test_split_rejects_bad_fraction(frac):
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(np.zeros(4), np.zeros(4, int), frac)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="3 samples"):
        train_val_split(np.zeros(3), np.zeros(4, int), 0.5)


# ---- mnist_from_drawing -------------------------------------------------------------------

def test_measured_mnist_centre_of_mass(mnist_test):
    """The constant in preprocess.py is what the sample digits really have."""
    x, _ = mnist_test
    coms = np.array([center_of_mass(im.astype(np.float64)) for im in x])
    np.testing.assert_allclose(coms.mean(axis=0), MNIST_CENTER, atol=0.03)
    assert np.all(np.abs(coms - MNIST_CENTER) < 0.6)  # whole-pixel shifts: within half a pixel


def test_center_of_mass_plain_loop():
    rng = np.random.default_rng(0)
    img = rng.random((7, 5))
    r = sum(i * img[i, j] for i in range(7) for j in range(5)) / img.sum()
    c = sum(j * img[i, j] for i in range(7) for j in range(5)) / img.sum()
    np.testing.assert_allclose(center_of_mass(img), (r, c))
    with pytest.raises(ValueError, match="no ink"):
        center_of_mass(np.zeros((3, 3)))


def _stroke_canvas(size=300, width=18):
    """A '7'-like drawing in the top-left corner of a big canvas, uint8, ink 255."""
    img = Image.new("L", (size, size), 0)
    from PIL import ImageDraw
    d = ImageDraw.Draw(img)
    d.line([(20, 30), (140, 30), (70, 200)], fill=255, width=width)
    return np.asarray(img)


def test_drawing_is_centred_scaled_and_in_range():
    out = mnist_from_drawing(_stroke_canvas())
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.9
    r, c = center_of_mass(out)
    assert abs(r - MNIST_CENTER[0]) <= 0.5 and abs(c - MNIST_CENTER[1]) <= 0.5
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] + 1 == 20  # the longer side (height here) is 20 px
    assert 10 <= cols[-1] - cols[0] + 1 < 20  # aspect ratio kept


def test_position_and_scale_of_drawing_do_not_matter():
    small = np.zeros((100, 100), dtype=np.float64)
    small[10:40, 20:30] = 0.5  # faint float ink, top-left
    big = np.zeros((400, 600), dtype=np.uint8)
    big[250:370, 400:440] = 200  # same shape, 4x larger, bottom-right
    np.testing.assert_allclose(mnist_from_drawing(small), mnist_from_drawing(big), atol=1e-5)


@pytest.mark.parametrize("empty", [np.zeros((280, 280), np.uint8), np.zeros((0, 0)), np.full((9, 9), -1.0)])
def test_empty_drawing_gives_zeros(empty):
    out = mnist_from_drawing(empty)
    assert out.shape == (28, 28) and out.dtype == np.float32 and not out.any()


def test_single_dot_and_thin_line():
    dot = np.zeros((50, 50), np.uint8)
    dot[10, 40] = 255
    out = mnist_from_drawing(dot)
    assert out.max() == 1.0 and abs(center_of_mass(out)[1] - MNIST_CENTER[1]) <= 0.5
    line = np.zeros((300, 300), np.uint8)
    line[150, 10:290] = 255  # 1 px high, 280 wide: 20 x 1 after scaling
    out = mnist_from_drawing(line)
    assert np.count_nonzero(out.any(axis=1)) == 1 and np.count_nonzero(out.any(axis=0)) == 20


def test_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        mnist_from_drawing(np.zeros((3, 28, 28)))


@pytest.mark.parametrize("upsample, mean_tol", [(Image.Resampling.NEAREST, 0.005),
                                                (Image.Resampling.BILINEAR, 0.05)])
def test_mnist_digits_redrawn_large_come_back(mnist_test, upsample, mean_tol):
    """Real test digits painted at 10x scale (as on the canvas) return close to themselves."""
    x, _ = mnist_test
    errors = []
    for im in x[::10]:
        big = np.asarray(Image.fromarray(im).resize((280, 280), upsample))
        out = mnist_from_drawing(big)
        errors.append(np.abs(out - im / 255.0).mean())
        assert abs(center_of_mass(out)[0] - MNIST_CENTER[0]) <= 0.51
    assert np.mean(errors) < mean_tol and np.max(errors) < 0.15
