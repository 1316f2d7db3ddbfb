"""Conjugate-gradient kernel recovery evaluates the MSE from patch statistics
(``_PatchQuadratic``); it must give what ``Conv2D`` + ``MSELoss`` give, and still recover the
default target on the bundled photos to the default tolerance."""

import numpy as np
import pytest

from cnnlab.engine.layers import Conv2D
from cnnlab.engine.losses import MSELoss
from cnnlab.lab.recovery import _PatchQuadratic, random_target_kernels, recover_kernels
from cnnlab.resources import resource_path


@pytest.mark.parametrize("padding, n_images", [(0, 3), (2, 17), (1, 40)])  # 17, 40: several chunks
def test_loss_gradient_and_curvature_match_the_conv_layer(padding, n_images):
    rng = np.random.default_rng(padding)
    x = rng.random((n_images, 3, 9, 8))
    target = Conv2D(3, 4, (3, 2), padding=padding, bias=False, dtype=np.float64, rng=1)
    y = target.forward(x).copy()
    learner = Conv2D(3, 4, (3, 2), padding=padding, bias=False, dtype=np.float64, rng=2)
    quadratic = _PatchQuadratic(learner, x, y)

    mse = MSELoss()
    expected_loss = mse.forward(learner.forward(x), y)
    learner.backward(mse.backward(), need_input_grad=False)
    grad = np.empty_like(learner.params["W"])
    loss = quadratic.loss_and_grad(learner.params["W"], grad)
    assert loss == pytest.approx(expected_loss, rel=1e-10)
    np.testing.assert_allclose(grad, learner.grads["W"], rtol=1e-9, atol=1e-12)

    d = rng.standard_normal(learner.params["W"].shape)  # curvature = ‖C_d(x)‖² · 2 / size
    probe = Conv2D(3, 4, (3, 2), padding=padding, bias=False, init="zeros", dtype=np.float64)
    probe.set_params({"W": d})
    q = probe.forward(x)
    assert quadratic.curvature(d) == pytest.approx(2 * np.vdot(q, q) / y.size, rel=1e-10)


def test_default_run_reaches_the_default_tolerance_on_the_sample():
    if not resource_path("cifar10_sample.npz").exists():
        pytest.skip("bundled CIFAR-10 sample is absent")
    from cnnlab.data import load_cifar10

    (x, _), (x_test, _) = load_cifar10("sample")
    photos = np.concatenate([x, x_test])  # what the Kernels tab learns from
    target = random_target_kernels(20, 3, 5, seed=0)
    result = recover_kernels(photos, target)  # the defaults: CG, tolerance 1e-3, 1000 steps
    assert result.converged and result.max_abs_error < 1e-3 and result.steps < 1000
    assert np.abs(result.weights - target).max() == pytest.approx(result.max_abs_error)
    assert result.losses[-1] < 1e-6 * result.losses[0]
