"""Conv2D's Fourier path (cnnlab.engine.fourier): the same numbers as the plain loops and as
the im2col path, up to rounding, forward and backward."""

import numpy as np
import pytest

from cnnlab.engine import conv as conv_module
from cnnlab.engine import fourier, parallel
from cnnlab.engine import reference as loops
from cnnlab.engine.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential

CASES = [  # (n, c_in, h, w, c_out, k, padding)
    (2, 3, 7, 9, 4, 3, 1), (2, 2, 6, 6, 3, 5, 2), (3, 2, 8, 5, 2, 3, 0), (1, 1, 5, 5, 1, 5, 0),
    (2, 2, 6, 7, 2, (3, 5), (1, 2)), (2, 3, 4, 4, 2, 2, 1),
    (2, 3, 1, 1, 2, 3, 1), (2, 2, 5, 5, 3, 5, 0), (2, 2, 4, 6, 2, (3, 5), (2, 0)),  # 1x1 in or out
]


def _direct_and_fourier(case, dtype, seed=0):
    n, c, h, w, o, k, p = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    layer = Conv2D(c, o, k, padding=p, dtype=dtype, rng=seed)
    kh, kw = layer.kernel_size
    ph, pw = layer.padding
    plan = fourier.plan(h + 2 * ph, w + 2 * pw, (kh, kw), (ph, pw), dtype)
    y, cache = fourier.forward(x, layer.params["W"], plan)
    g = rng.standard_normal(y.shape).astype(dtype)
    dw, dx = fourier.backward(g, cache, plan, need_input_grad=True)
    return layer, x, g, y + layer.params["b"][:, None, None], dw, dx


@pytest.mark.parametrize("case", CASES)
def test_fourier_convolution_equals_the_plain_loops_in_float64(case):
    layer, x, g, y, dw, dx = _direct_and_fourier(case, np.float64)
    w, b = layer.params["W"], layer.params["b"]
    pad = layer.padding
    np.testing.assert_allclose(y, loops.conv_forward(x, w, b, 1, pad), rtol=0, atol=1e-12)
    ref_dx, ref_dw, _ = loops.conv_backward(g, x, w, 1, pad)
    np.testing.assert_allclose(dw, ref_dw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_fourier_convolution_in_float32_is_float32_and_close(case):
    layer, x, g, y, dw, dx = _direct_and_fourier(case, np.float32)
    assert y.dtype == dw.dtype == dx.dtype == np.float32
    layer.train(False)  # the im2col path
    direct = layer.forward(x)
    scale = np.abs(direct).max()
    np.testing.assert_allclose(y, direct, rtol=0, atol=2e-6 * scale)


@pytest.fixture(autouse=True)
def one_thread():
    """3×3 kernels take the Fourier path on one thread only (``conv.FOURIER_MIN_TAPS``)."""
    before = parallel.threads()
    parallel.set_threads(1)
    yield
    parallel.set_threads(before)


def test_training_takes_the_fourier_path_only_where_it_pays(monkeypatch):
    big = Conv2D(16, 16, 3, padding=1, rng=0)
    big.train()
    assert big._fourier_suits()
    parallel.set_threads(2)  # im2col's big products then use both threads; 3×3 keeps it
    assert not big._fourier_suits()
    assert Conv2D(16, 16, 5, padding=2, rng=0).train()._fourier_suits()
    parallel.set_threads(1)
    assert not Conv2D(3, 16, 3, rng=0)._fourier_suits()  # few input channels
    assert not Conv2D(16, 16, 1, rng=0)._fourier_suits()  # 1x1 kernel
    assert not Conv2D(16, 16, 3, stride=2, rng=0)._fourier_suits()
    big.train(False)
    assert not big._fourier_suits()  # inference keeps the chunked im2col path


def _lenet(dtype):
    return Sequential([Conv2D(1, 16, 5, padding=2, dtype=dtype, rng=0), ReLU(), MaxPool2D(2),
                       Conv2D(16, 16, 5, padding=2, dtype=dtype, rng=1), ReLU(), MaxPool2D(2),
                       Flatten(), Dense(16 * 7 * 7, 10, dtype=dtype, rng=2)], (1, 28, 28))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_a_training_step_with_and_without_the_fourier_path_agrees(monkeypatch, dtype, tol):
    rng = np.random.default_rng(1)
    x = rng.random((5, 1, 28, 28)).astype(dtype)
    y = rng.integers(0, 10, 5)
    results = []
    for min_channels in (16, 10_000):  # the second run never takes the Fourier path
        monkeypatch.setattr(conv_module, "FOURIER_MIN_CHANNELS", min_channels)
        model = _lenet(dtype).train()
        assert model.layers[3]._fourier_suits() == (min_channels == 16)
        loss = SoftmaxCrossEntropy()
        value = loss.forward(model.forward(x), y)
        dx = model.backward(loss.backward())
        results.append((value, dx, [dict(layer.grads) for layer in model.layers]))
    (v1, dx1, g1), (v2, dx2, g2) = results
    assert v1 == pytest.approx(v2, rel=tol)
    np.testing.assert_allclose(dx1, dx2, rtol=0, atol=tol * np.abs(dx2).max())
    for a, b in zip(g1, g2):
        for key in b:
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=tol * np.abs(b[key]).max())


def test_clear_cache_drops_the_fourier_coefficients():
    layer = Conv2D(16, 16, 3, padding=1, rng=0)
    layer.train()
    layer.forward(np.ones((2, 16, 6, 6), np.float32))
    assert layer._cache[0] == "fourier"
    layer.clear_cache()
    assert not hasattr(layer, "_cache")
