"""The speed-only paths of Conv2D give the same numbers as the plain one: inference in
chunks of images, the reused gradient buffer, the cached geometry."""

import numpy as np
import pytest

from cnnlab.engine import conv as conv_module
from cnnlab.engine import functional as F
from cnnlab.engine import reference as ref
from cnnlab.engine.layers import Conv2D


@pytest.mark.parametrize("stride, padding", [(1, 2), (2, 1)])
def test_inference_in_chunks_matches_training_forward_and_backward(monkeypatch, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3, 9, 8))
    layer = Conv2D(3, 4, 3, stride=stride, padding=padding, dtype=np.float64, rng=1)
    layer.params["b"][:] = rng.standard_normal(4)
    y_train = layer.forward(x)
    g = rng.standard_normal(y_train.shape)
    dx_train = layer.backward(g).copy()
    dw_train, db_train = layer.grads["W"].copy(), layer.grads["b"].copy()
    np.testing.assert_allclose(db_train, g.sum(axis=(0, 2, 3)), rtol=1e-12)  # the ones row's column

    per_image = 3 * 9 * layer._cache[0].col_length
    monkeypatch.setattr(conv_module, "EVAL_CHUNK_ELEMENTS", 2 * per_image)  # 4 chunks: 2+2+2+1
    layer.eval()
    y_eval = layer.forward(x)
    assert layer._cache[2] is None  # columns came in chunks: backward rebuilds them
    np.testing.assert_allclose(y_eval, y_train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y_eval, ref.conv_forward(x, layer.params["W"], layer.params["b"],
                                                        stride, padding), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), dx_train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], dw_train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], db_train, rtol=1e-12, atol=1e-12)  # no ones row


def test_a_reused_gradient_buffer_keeps_its_junk_columns_zero():
    rng = np.random.default_rng(1)
    layer = Conv2D(2, 3, 3, padding=1, dtype=np.float64, rng=0)  # pitch > W_out: junk columns
    x = rng.standard_normal((2, 2, 5, 6))
    for _ in range(3):  # the second and third steps reuse the buffers
        layer.forward(x)
        g = rng.standard_normal((2, 3, 5, 6))
        dx = layer.backward(g)
        expected = ref.conv_backward(g, x, layer.params["W"], 1, 1)
        np.testing.assert_allclose(dx, expected[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], expected[1], rtol=1e-10, atol=1e-12)


def test_geometry_is_built_once_per_size():
    a = F.conv_geometry(14, 14, (5, 5), (1, 1), (2, 2), (1, 1))
    assert F.conv_geometry(14, 14, (5, 5), (1, 1), (2, 2), (1, 1)) is a
    assert a == F.ConvGeometry(14, 14, (5, 5), (1, 1), (2, 2), (1, 1))
