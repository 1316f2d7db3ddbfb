"""Optimizers against hand-written reference updates (PyTorch / Kingma & Ba formulas)."""

import math

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine.model import Sequential
from cnnlab.engine.optim import SGD, Adam


def dense(seed=0):
    layer = L.Dense(3, 2, dtype=np.float64, rng=seed)
    layer.params["b"][:] = [0.5, -0.5]
    return layer


def set_grads(layer, step):
    rng = np.random.default_rng(step)
    for g in layer.grads.values():
        g[...] = rng.standard_normal(g.shape)


@pytest.mark.parametrize("momentum,wd", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.1), (0.8, 0.05)])
def test_sgd_matches_the_pytorch_formulation(momentum, wd):
    layer = dense()
    p = {k: v.copy() for k, v in layer.params.items()}
    v = {k: None for k in p}
    opt = SGD([layer], lr=0.1, momentum=momentum, weight_decay=wd)
    for step in range(4):
        set_grads(layer, step)
        for k in p:
            g = layer.grads[k] + wd * p[k]  # decay before momentum
            v[k] = g if v[k] is None or not momentum else momentum * v[k] + g
            p[k] = p[k] - 0.1 * v[k]
        opt.step()
        for k in p:
            np.testing.assert_allclose(layer.params[k], p[k], rtol=1e-12)


def test_adam_matches_algorithm_1():
    layer = dense()
    p = {k: v.copy() for k, v in layer.params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    s = {k: np.zeros_like(v) for k, v in p.items()}
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-6
    opt = Adam(layer for layer in [layer])
    opt.lr, opt.beta1, opt.beta2, opt.eps = lr, b1, b2, eps
    for t in range(1, 6):
        set_grads(layer, t)
        for k in p:
            g = layer.grads[k]
            m[k] = b1 * m[k] + (1 - b1) * g
            s[k] = b2 * s[k] + (1 - b2) * g * g
            p[k] = p[k] - lr * (m[k] / (1 - b1**t)) / (np.sqrt(s[k] / (1 - b2**t)) + eps)
        opt.step()
        for k in p:
            np.testing.assert_allclose(layer.params[k], p[k], rtol=1e-10)


def test_first_adam_step_moves_every_weight_by_lr():
    # with bias correction, step 1 is lr · g / (|g| + eps): a move of lr in the sign of -g
    layer = dense()
    before = layer.params["W"].copy()
    set_grads(layer, 0)
    Adam([layer], lr=0.001).step()
    np.testing.assert_allclose(before - layer.params["W"], 0.001 * np.sign(layer.grads["W"]), rtol=1e-4)


def test_optimizers_take_a_sequential_or_its_layers_and_zero_grads():
    model = Sequential([L.Dense(3, 4, rng=0), L.ReLU(), L.Dense(4, 2, rng=1)], (3,))
    for opt in (SGD(model, 0.1), Adam(model.layers), SGD(iter(model.layers), 0.1)):
        assert len(opt.layers) == 2
    opt = SGD(model, 0.1)
    for layer in opt.layers:
        for g in layer.grads.values():
            g.fill(1)
    opt.zero_grad()
    assert not any(g.any() for layer in model.layers for g in layer.grads.values())


def test_float32_params_stay_float32():
    layer = L.Dense(3, 2, rng=0)
    set_grads(layer, 0)
    for opt in (SGD([layer], 0.1, momentum=0.9, weight_decay=0.1), Adam([layer], weight_decay=0.1)):
        opt.step()
        opt.step()
    assert all(v.dtype == np.float32 for v in layer.params.values())


def test_bad_hyperparameters():
    layer = dense()
    with pytest.raises(ValueError, match="SGD: lr must be a finite number >= 0"):
        SGD([layer], lr=-1)
    with pytest.raises(ValueError, match=r"Adam: beta2 must be in \[0, 1\)"):
        Adam([layer], beta2=1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD([layer], lr=0.1, momentum=math.nan)
