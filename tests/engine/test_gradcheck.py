"""Float64 central-difference gradient checks for every layer, both losses, the L1/L2
penalties and a whole small network."""

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine.losses import MSELoss, SoftmaxCrossEntropy, l1_penalty, l2_penalty
from cnnlab.engine.model import Sequential
from tests.engine.numerical import numerical_grad, rel_error

F64 = np.float64


def check_layer(layer, x, tol=1e-7, reseed=None):
    """Compare backward() with central differences of sum(forward(x) * g) w.r.t. the
    input and every parameter."""
    rng = np.random.default_rng(1)

    def run():
        if reseed is not None:
            reseed()
        return layer.forward(x)

    g = rng.standard_normal(run().shape)

    def objective():
        return float(np.sum(run() * g))

    run()
    dx = layer.backward(g)
    assert dx.dtype == F64 and dx.shape == x.shape
    assert rel_error(dx, numerical_grad(objective, x)) < tol
    for name, param in layer.params.items():
        analytic = layer.grads[name].copy()
        assert rel_error(analytic, numerical_grad(objective, param)) < tol, name


CONV_CASES = [
    # (C_in, C_out, kernel, stride, padding, dilation, H, W)
    (1, 2, 3, 1, 0, 1, 5, 5),
    (2, 3, 3, 1, 1, 1, 5, 6),
    (2, 2, 3, 2, 1, 1, 7, 6),      # stride 2 over an odd size: windows do not tile
    (1, 2, 2, 3, 0, 1, 8, 7),      # stride > kernel: some pixels are never read
    (2, 2, 3, 1, 2, 2, 5, 5),      # dilation with padding
    (1, 3, (2, 3), (1, 2), (1, 0), (2, 1), 6, 7),  # everything non-square
    (3, 2, 1, 1, 0, 1, 4, 3),      # 1x1 conv fast path
    (2, 1, 5, 1, 2, 1, 5, 5),      # same padding, kernel = input
    (2, 2, 1, 1, 2, 1, 3, 4),      # padding wider than the kernel
    (1, 2, (1, 3), 2, (2, 0), (1, 2), 6, 9),
]


@pytest.mark.parametrize("cin,cout,k,s,p,d,h,w", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_gradients(cin, cout, k, s, p, d, h, w, bias):
    layer = L.Conv2D(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias, dtype=F64, rng=0)
    x = np.random.default_rng(2).standard_normal((2, cin, h, w))
    check_layer(layer, x)


@pytest.mark.parametrize("cls", [L.MaxPool2D, L.AvgPool2D])
@pytest.mark.parametrize("k,s,h,w", [(2, None, 4, 6), (2, None, 5, 7), (3, 2, 7, 6),
                                     ((2, 3), (1, 2), 5, 7), (3, 1, 4, 4), (3, None, 7, 6)])
def test_pool_gradients(cls, k, s, h, w):
    x = np.random.default_rng(3).standard_normal((2, 3, h, w))
    check_layer(cls(k, s), x)


def test_dense_gradients():
    check_layer(L.Dense(5, 4, dtype=F64, rng=0), np.random.default_rng(4).standard_normal((3, 5)))
    check_layer(L.Dense(5, 2, bias=False, dtype=F64, rng=0),
                np.random.default_rng(4).standard_normal((3, 5)))


def away_from_zero(shape, seed=5):
    """Inputs at least 0.1 away from the kinks of ReLU/LeakyReLU."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return x + 0.1 * np.sign(x)


@pytest.mark.parametrize("layer", [L.ReLU(), L.LeakyReLU(), L.LeakyReLU(0.2), L.Tanh(),
                                   L.Sigmoid(), L.Flatten(), L.Normalize(0.5, 2.0),
                                   L.Normalize([0.1, 0.2, 0.3], [1.0, 2.0, 4.0])],
                         ids=lambda layer: repr(layer))
def test_parameter_free_layer_gradients(layer):
    check_layer(layer, away_from_zero((2, 3, 3, 4)))


def test_dropout_gradient_with_a_fixed_mask():
    layer = L.Dropout(0.4)

    def reseed():
        layer.rng = np.random.default_rng(7)

    check_layer(layer, away_from_zero((4, 6)), reseed=reseed)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_cross_entropy_gradient(reduction):
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    loss = SoftmaxCrossEntropy(reduction)
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numerical_grad(lambda: loss.forward(logits, labels), logits)
    assert rel_error(analytic, numeric) < 1e-7


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_gradient(reduction):
    rng = np.random.default_rng(9)
    pred, target = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    loss = MSELoss(reduction)
    loss.forward(pred, target)
    analytic = loss.backward()
    assert rel_error(analytic, numerical_grad(lambda: loss.forward(pred, target), pred)) < 1e-7


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
def test_penalty_gradients(penalty):
    layers = [L.Dense(4, 3, dtype=F64, rng=1), L.ReLU(), L.Conv2D(2, 2, 2, dtype=F64, rng=2)]
    for layer in layers:
        for g in layer.grads.values():
            g.fill(0)
    value = penalty(layers, 0.3, add_to_grads=True)
    assert value == pytest.approx(penalty(layers, 0.3))
    for layer in (layers[0], layers[2]):
        w = layer.params["W"]
        numeric = numerical_grad(lambda: penalty(layers, 0.3), w)
        assert rel_error(layer.grads["W"], numeric) < 1e-7
        assert not layer.grads["b"].any()  # biases are not penalized


def test_whole_network_gradient():
    model = Sequential([
        L.Normalize(0.5, 1.0),
        L.Conv2D(1, 3, 3, padding=1, dtype=F64, rng=0), L.LeakyReLU(0.1),
        L.MaxPool2D(2),
        L.Conv2D(3, 4, 2, stride=1, dilation=2, dtype=F64, rng=1), L.Tanh(),
        L.AvgPool2D(2, 1),
        L.Flatten(),
        L.Dense(4, 5, dtype=F64, rng=2), L.Sigmoid(),
        L.Dense(5, 3, dtype=F64, rng=3),
    ], input_shape=(1, 8, 8))
    assert model.dtype == F64
    x = np.random.default_rng(10).random((2, 1, 8, 8))
    labels = np.array([2, 0])
    loss = SoftmaxCrossEntropy()

    def objective():
        return loss.forward(model.forward(x), labels)

    objective()
    dx = model.backward(loss.backward())
    assert rel_error(dx, numerical_grad(objective, x)) < 1e-7
    for layer in model.layers:
        for name, param in layer.params.items():
            analytic = layer.grads[name].copy()
            assert rel_error(analytic, numerical_grad(objective, param)) < 1e-7, layer.label
