"""Losses against direct formulas; stability; argument checks."""

import numpy as np
import pytest

from cnnlab.engine.losses import MSELoss, SoftmaxCrossEntropy, softmax


def test_cross_entropy_matches_the_formula():
    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    labels = np.array([2, 0])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[[0, 1], labels]))
    loss = SoftmaxCrossEntropy()
    assert loss.forward(logits, labels) == pytest.approx(expected, rel=1e-12)
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(loss.backward(), (p - onehot) / 2)


def test_cross_entropy_sum_is_n_times_the_mean():
    # the linear-classifier homework sums over the batch: same loss × N, gradient × N
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(6, 4)), np.array([0, 1, 2, 3, 0, 1])
    mean, total = SoftmaxCrossEntropy(), SoftmaxCrossEntropy(reduction="sum")
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert total.forward(logits, labels) == pytest.approx(-np.log(p[np.arange(6), labels]).sum())
    assert total.forward(logits, labels) == pytest.approx(6 * mean.forward(logits, labels))
    np.testing.assert_allclose(total.backward(), 6 * mean.backward())
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        SoftmaxCrossEntropy(reduction="max")


def test_uniform_logits_give_log_k():
    # published sanity value from the softmax exercise: loss ≈ -log(1/10) = 2.302585
    loss = SoftmaxCrossEntropy().forward(np.zeros((4, 10), dtype=np.float32), np.arange(4))
    assert loss == pytest.approx(np.log(10), rel=1e-6)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, -1000.0], [-1e4, 1e4]], dtype=np.float32)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, np.array([1, 1]))
    assert value == pytest.approx(1000.0)  # (2000 + 0) / 2
    grad = loss.backward()
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [[0.5, -0.5], [0, 0]], atol=1e-7)


def test_cross_entropy_accepts_probability_targets():
    logits = np.random.default_rng(0).standard_normal((3, 4))
    labels = np.array([1, 0, 3])
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    assert a.forward(logits, labels) == pytest.approx(b.forward(logits, np.eye(4)[labels]))
    np.testing.assert_allclose(a.backward(), b.backward())


def test_cross_entropy_rejects_bad_labels():
    loss = SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), got values from 0 to 3"):
        loss.forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="2 logits rows but 3 labels"):
        loss.forward(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"logits must be \(N, K\)"):
        loss.forward(np.zeros(3), np.array([0]))


def test_softmax_rows_sum_to_one_and_keep_dtype():
    p = softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]], dtype=np.float32))
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.25, 0.75]], rtol=1e-6)


def test_mse_mean_and_sum_without_a_half():
    pred, target = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    mean, total = MSELoss(), MSELoss("sum")
    assert mean.forward(pred, target) == pytest.approx((1 + 0 + 4 + 9) / 4)
    assert total.forward(pred, target) == pytest.approx(14.0)
    np.testing.assert_allclose(mean.backward(), 2 * (pred - target) / 4)
    np.testing.assert_allclose(total.backward(), 2 * (pred - target))
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        MSELoss("max")
    with pytest.raises(ValueError, match="same shape"):
        mean.forward(pred, target[0])


def test_mse_keeps_float32():
    loss = MSELoss()
    loss.forward(np.ones(3, dtype=np.float32), np.zeros(3))
    assert loss.backward().dtype == np.float32
