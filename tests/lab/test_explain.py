"""Saliency, occlusion, Grad-CAM and FGSM against independent computations."""

import numpy as np
import pytest

from cnnlab.data import load_mnist
from cnnlab.engine.layers import AvgPool2D, Conv2D, Dense, Flatten, ReLU, Tanh
from cnnlab.engine.model import Sequential, load
from cnnlab.lab.explain import (
    fgsm,
    fgsm_batch,
    flips,
    grad_cam,
    input_gradient,
    occlusion,
    occlusion_map,
    smallest_flipping_eps,
)
from cnnlab.resources import resource_path


def small_net(dtype=np.float64, seed=0):
    """8×8 images -> conv 3×3 (pad 1) -> tanh -> avg pool -> dense 3: smooth everywhere."""
    rng = np.random.default_rng(seed)
    return Sequential([Conv2D(2, 4, 3, padding=1, init="glorot_uniform", dtype=dtype, rng=rng),
                       Tanh(), AvgPool2D(2), Flatten(),
                       Dense(4 * 4 * 4, 3, init="glorot_uniform", dtype=dtype, rng=rng)],
                      input_shape=(2, 8, 8)).eval()


def image(seed=1, shape=(2, 8, 8)):
    return np.random.default_rng(seed).uniform(0.1, 0.9, shape)


def test_input_gradient_matches_central_differences_in_float64():
    model, x = small_net(), image()
    for target in range(3):
        grad = input_gradient(model, x, target)
        assert grad.shape == x.shape and grad.dtype == np.float64
        numeric = np.zeros_like(x)
        h = 1e-6
        for idx in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[idx] += h
            down[idx] -= h
            numeric[idx] = (model.forward(up[None])[0, target]
                            - model.forward(down[None])[0, target]) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_input_gradient_leaves_weights_grads_and_mode_alone():
    model = small_net(np.float32).train()
    rng = np.random.default_rng(5)
    for layer in model.layers:
        for g in layer.grads.values():
            g[...] = rng.normal(size=g.shape)
    weights = model.get_weights()
    grads = {(i, k): g.copy() for i, layer in enumerate(model.layers) for k, g in layer.grads.items()}
    held = [g for layer in model.layers for g in layer.grads.values()]  # what an optimizer holds
    grad = input_gradient(model, image().astype(np.float32), 2)
    assert grad.dtype == np.float32
    grad64 = input_gradient(model, image(), 2)  # float64 input: computed on a float64 copy
    assert grad64.dtype == np.float64
    np.testing.assert_allclose(grad64, grad, rtol=1e-4, atol=1e-6)
    for key, w in model.get_weights().items():
        assert w.dtype == weights[key].dtype and np.array_equal(w, weights[key])
    for (i, k), g in grads.items():
        assert model.layers[i].grads[k] is held.pop(0)
        assert np.array_equal(model.layers[i].grads[k], g)
    assert all(layer.training for layer in model.layers)


def test_occlusion_of_an_empty_region_changes_nothing_and_matches_a_plain_loop():
    model = small_net()
    x = np.zeros((2, 8, 8))
    x[:, 2:5, 3:6] = image()[:, :3, :3]  # ink only in the middle
    drops = occlusion(model, x, 1, patch=2, stride=2)
    assert drops.shape == (4, 4)
    base = model.predict_proba(x)[1]
    for r in range(4):
        for c in range(4):
            window = x[:, 2 * r:2 * r + 2, 2 * c:2 * c + 2]
            if not window.any():
                assert drops[r, c] == 0.0  # exactly: nothing was covered
            else:
                covered = x.copy()
                covered[:, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = 0
                assert drops[r, c] == pytest.approx(base - model.predict_proba(covered)[1],
                                                    abs=1e-12)
    assert np.count_nonzero(drops) > 0
    spread = occlusion_map(drops, (8, 8), 2, 2)
    assert spread.shape == (8, 8) and spread[0, 0] == drops[0, 0]


def test_occlusion_rejects_bad_arguments():
    model, x = small_net(), image()
    with pytest.raises(ValueError, match="patch"):
        occlusion(model, x, 0, patch=9)
    with pytest.raises(ValueError, match="stride"):
        occlusion(model, x, 0, stride=0)
    with pytest.raises(ValueError, match="target"):
        occlusion(model, x, 3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        occlusion(model, x * 3, 0)
    with pytest.raises(ValueError, match="shape"):
        occlusion(model, x[0], 0)


def test_grad_cam_of_a_constant_last_conv_is_flat():
    model = small_net()
    conv = model.layers[0]
    conv.params["W"][...] = 0
    conv.params["b"][...] = [0.3, -0.2, 0.5, 0.1]
    for target in range(3):
        cam = grad_cam(model, image(), target)
        assert cam.shape == (8, 8) and cam.min() >= 0
        assert np.ptp(cam) == 0


def bilinear_loop(a, h, w):
    """Plain-loop bilinear resize, pixel centres aligned (the oracle for Grad-CAM's upsampling)."""
    h0, w0 = a.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            sy = min(max((i + 0.5) * h0 / h - 0.5, 0), h0 - 1)
            sx = min(max((j + 0.5) * w0 / w - 0.5, 0), w0 - 1)
            y0, x0 = int(sy), int(sx)
            y1, x1 = min(y0 + 1, h0 - 1), min(x0 + 1, w0 - 1)
            ty, tx = sy - y0, sx - x0
            top = a[y0, x0] * (1 - tx) + a[y0, x1] * tx
            bottom = a[y1, x0] * (1 - tx) + a[y1, x1] * tx
            out[i, j] = top * (1 - ty) + bottom * ty
    return out


def test_grad_cam_matches_a_hand_computation_for_a_linear_head():
    rng = np.random.default_rng(3)
    model = Sequential([Conv2D(1, 3, 3, dtype=np.float64, rng=rng), ReLU(), Flatten(),
                        Dense(3 * 4 * 4, 5, dtype=np.float64, rng=rng)], (1, 6, 6)).eval()
    x = rng.uniform(0, 1, (1, 6, 6))
    maps = model.activations(x)[1][2][0]  # ReLU output (3, 4, 4)
    cam = grad_cam(model, x, 4, layer=1)
    alpha = model.layers[3].params["W"][:, 4].reshape(3, 4, 4).mean(axis=(1, 2))
    expected = np.maximum((alpha[:, None, None] * maps).sum(axis=0), 0)  # (4, 4)
    assert cam.shape == (6, 6) and cam.min() >= 0
    np.testing.assert_allclose(cam, bilinear_loop(expected, 6, 6), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, x, 0, layer=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fgsm_respects_its_bounds_exactly(dtype):
    model = small_net(np.float32)
    rng = np.random.default_rng(7)
    for trial in range(20):
        x = rng.choice([0.0, 1.0, 0.1, 0.7, 0.33], size=(2, 8, 8)).astype(dtype)
        eps = float(rng.choice([0.0, 0.01, 0.1, 0.25, 0.3, 1 / 3, 0.7]))
        target = None if trial % 2 else int(rng.integers(3))
        adv = fgsm(model, x, eps, target=target, steps=1 + trial % 4)
        assert adv.dtype == dtype and adv.shape == x.shape
        assert adv.min() >= 0 and adv.max() <= 1
        assert np.abs(adv - x).max() <= eps


def test_fgsm_moves_away_from_or_towards_a_class():
    model, x = small_net(), image()
    predicted = int(model.predict(x))
    away = fgsm(model, x, 0.05)
    assert model.predict_proba(away)[predicted] < model.predict_proba(x)[predicted]
    other = (predicted + 1) % 3
    towards = fgsm(model, x, 0.05, target=other, steps=5)
    assert model.predict_proba(towards)[other] > model.predict_proba(x)[other]
    assert np.array_equal(fgsm(model, x, 0.0), x)


@pytest.fixture(scope="module")
def digits():
    model = load(resource_path("models", "digits.npz"))
    _, (x_test, y_test) = load_mnist("sample")
    keep = np.random.default_rng(0).choice(len(x_test), 100, replace=False)
    return model, x_test[keep].astype(np.float32) / 255


def test_iterative_fgsm_flips_most_shipped_model_digits(digits):
    model, x = digits
    adv = fgsm_batch(model, x, 0.25, steps=10)
    assert np.abs(adv - x).max() <= 0.25 and adv.min() >= 0 and adv.max() <= 1
    before, after = model.predict(x), model.predict(adv)
    rate = float(np.mean(before != after))
    print(f"10-step FGSM at eps=0.25 flips {100 * rate:.0f} % of 100 test digits")
    assert rate >= 0.8
    for i in range(3):  # the one-image API is the same attack
        assert flips(model, x[i], fgsm(model, x[i], 0.25, steps=10)) == (before[i] != after[i])


def test_smallest_flipping_eps_is_a_boundary(digits):
    model, x = digits
    eps, adv = smallest_flipping_eps(model, x[0], steps=10, tolerance=0.01)
    assert 0 < eps <= 0.3 and np.abs(adv - x[0]).max() <= eps
    assert flips(model, x[0], adv)
    # a 10-step attack with a tenth of that eps leaves the (confident) answer alone
    assert not flips(model, x[0], fgsm(model, x[0], eps / 10, steps=10))
    assert smallest_flipping_eps(model, x[0], eps_max=0.0) is None
