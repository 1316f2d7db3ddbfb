"""Sequential runs ReLU after a following tiled max pool (cnnlab.engine.run_order): the
results must equal running the layers as listed, bit for bit."""

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential
from cnnlab.engine.run_order import run_order
from cnnlab.lab.diagnostics import dead_fraction


def _layers(dtype=np.float64):
    return [L.Conv2D(1, 3, 3, padding=1, dtype=dtype, rng=0), L.ReLU(), L.MaxPool2D(2),
            L.Conv2D(3, 4, 3, padding=1, dtype=dtype, rng=1), L.ReLU(), L.MaxPool2D(2),
            L.Flatten(), L.Dense(4 * 2 * 2, 10, dtype=dtype, rng=2), L.ReLU(),
            L.Dense(10, 3, dtype=dtype, rng=3)]


def test_only_relu_then_exactly_tiling_max_pool_is_reordered():
    model = Sequential(_layers(), (1, 8, 8))
    assert model._order == [0, 2, 1, 3, 5, 4, 6, 7, 8, 9]
    odd = Sequential(_layers()[:3], (1, 9, 9))  # 9x9: a remainder row the pool drops
    assert odd._order == [0, 1, 2]
    overlapping = Sequential([L.ReLU(), L.MaxPool2D(2, 1)], (1, 4, 4))
    avg = Sequential([L.ReLU(), L.AvgPool2D(2)], (1, 4, 4))
    leaky = Sequential([L.LeakyReLU(), L.MaxPool2D(2)], (1, 4, 4))
    assert overlapping._order == avg._order == leaky._order == [0, 1]
    shapes = [(1, 4, 4), (1, 4, 4)]
    assert run_order([L.ReLU(), L.MaxPool2D(2)], shapes) == [1, 0]


def _listed_step(layers, x, y):
    """Forward and backward through the layers exactly as listed."""
    a = x
    for layer in layers:
        a = layer.forward(a)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(a, y)
    g = loss.backward()
    for layer in reversed(layers):
        g = layer.backward(g)
    return a, value, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reordered_step_equals_the_listed_order_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 1, 8, 8)).astype(dtype)
    x[0] = 0.0  # all-zero windows: ties at the ReLU's kink
    x[1, 0, :4, :4] = -1.0  # windows whose maximum is negative
    y = rng.integers(0, 3, 6)
    model = Sequential(_layers(dtype), (1, 8, 8))
    listed = _layers(dtype)
    out, value, dx = _listed_step(listed, x, y)
    loss = SoftmaxCrossEntropy()
    out2 = model.forward(x)
    assert loss.forward(out2, y) == value
    dx2 = model.backward(loss.backward())
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(dx2, dx)
    for mine, theirs in zip(model.layers, listed):
        for key in theirs.grads:
            np.testing.assert_array_equal(mine.grads[key], theirs.grads[key])
    # the Diagnostics' dead-ReLU statistic reads the ReLU's output: unchanged by pooling first
    for i in (1, 4):
        assert dead_fraction(model.layers[i]._y) == dead_fraction(listed[i]._y)


def test_training_step_without_input_gradient_skips_the_same_layers():
    model = Sequential([L.ReLU(), L.MaxPool2D(2), L.Flatten(), L.Dense(4, 2, rng=0)], (1, 4, 4))
    x = np.random.default_rng(1).standard_normal((3, 1, 4, 4)).astype(np.float32)
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(x), np.array([0, 1, 0]))
    assert model.backward(loss.backward(), need_input_grad=False) is None
    assert model.layers[3].grads["W"].shape == (4, 2)
