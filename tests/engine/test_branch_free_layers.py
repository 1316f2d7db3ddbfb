"""LeakyReLU, Sigmoid, ReLU and the max-pool winner index avoid np.where / masked copies
(branchy, slow on the random signs of activations): they must give exactly what the
np.where formulas give, special values included."""

import numpy as np
import pytest

from cnnlab.engine import pool2x2
from cnnlab.engine import pooling as P
from cnnlab.engine.layers import LeakyReLU, ReLU, Sigmoid

SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 700.0, -700.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.01, 0.2, 0.0, -0.5, 3.0])
def test_leaky_relu_is_exactly_the_where_formula(dtype, slope):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(500), SPECIAL]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    layer = LeakyReLU(slope)
    with np.errstate(invalid="ignore"):
        y = layer.forward(x)
        expected = np.where(x > 0, x, x * slope)
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == dtype
    np.testing.assert_array_equal(layer.backward(g), np.where(x > 0, g, g * slope))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exactly_the_where_formula(dtype):
    rng = np.random.default_rng(1)
    x = np.concatenate([20 * rng.standard_normal(500), SPECIAL]).astype(dtype)
    e = np.exp(-np.abs(x))
    expected = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    y = Sigmoid().forward(x)
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == dtype
    if dtype == np.float64:
        assert y[x == -700].min() > 0  # e/(1+e), not 1 - 1/(1+e): no cancellation to 0


def test_relu_matches_maximum_with_zero():
    x = np.concatenate([np.random.default_rng(2).standard_normal(300), SPECIAL]).astype(np.float32)
    layer = ReLU()
    np.testing.assert_array_equal(layer.forward(x), np.maximum(x, 0))
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), (np.maximum(x, 0) > 0) * 1.0)
    big = np.arange(-5.0, 5.0).reshape(2, 5)  # a second shape reuses the shared zeros
    np.testing.assert_array_equal(layer.forward(big), np.maximum(big, 0))


@pytest.mark.parametrize("taps", [1, 2, 3, 9])
def test_running_max_index_is_the_first_maximum(taps):
    rng = np.random.default_rng(taps)
    views = [rng.integers(0, 3, (4, 5)).astype(np.float32) for _ in range(taps)]  # many ties
    out, index = P._running_max(views)
    stacked = np.stack(views)
    np.testing.assert_array_equal(out, stacked.max(axis=0))
    np.testing.assert_array_equal(index, stacked.argmax(axis=0))  # argmax: first maximum
    assert index.dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 4, 6), (1, 1, 2, 2), (3, 2, 8, 2), (2, 3, 6, 10)])
def test_flat_2x2_pool_matches_the_strided_reduction(shape, dtype):
    rng = np.random.default_rng(len(shape) + shape[-1])
    x = rng.integers(0, 3, shape).astype(dtype)  # many ties: the first maximum must win
    x.flat[::7] = np.nan if shape[0] > 1 else 0.0
    ho, wo = shape[2] // 2, shape[3] // 2
    fast_out, fast_index = pool2x2.forward(x, True)
    tiles = [x[..., j::2] for j in range(2)]
    col_max, col_index = P._running_max(tiles)
    out, row_index = P._running_max([col_max[:, :, i::2] for i in range(2)])
    np.testing.assert_array_equal(fast_out, out)
    if dtype == np.float64:  # column and row indices; float32 keeps shift codes instead
        np.testing.assert_array_equal(fast_index[0], col_index)
        np.testing.assert_array_equal(fast_index[1], row_index)
    else:
        assert fast_index.dtype == np.uint8 and fast_index.shape == (*shape[:3], wo)
    np.testing.assert_array_equal(pool2x2.forward(x, False)[0], out)
    g = rng.standard_normal((shape[0], shape[1], ho, wo)).astype(dtype)
    g.flat[::5] = -0.0  # the sign bit travels with the shifted word
    fast = P.max_pool_tiled_backward(g, fast_index, shape, (2, 2))
    assert fast.dtype == dtype and fast.shape == shape
    if dtype == np.float32:  # each window's gradient, bits and all, on one element; +0 elsewhere
        assert np.signbit(fast).sum() == np.signbit(g).sum()
    np.testing.assert_array_equal(fast,
                                  P.max_pool_tiled_backward(g, (col_index, row_index), shape, (2, 2)))


def test_float32_max_pool_layer_routes_like_the_loop_reference():
    from cnnlab.engine import reference as ref
    from cnnlab.engine.layers import MaxPool2D

    rng = np.random.default_rng(7)
    x = rng.integers(-1, 2, (3, 4, 8, 12)).astype(np.float32)  # ties in most windows
    layer = MaxPool2D(2)
    out = layer.forward(x)
    g = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(g)
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(out, ref.pool_forward(x.astype(np.float64), (2, 2), (2, 2), "max"))
    np.testing.assert_array_equal(dx, ref.pool_backward(g.astype(np.float64), x.astype(np.float64),
                                                        (2, 2), (2, 2), "max"))
