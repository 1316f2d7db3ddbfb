"""Classification metrics on small hand-checked cases."""

import numpy as np
import pytest

from cnnlab.engine.metrics import accuracy, confusion_matrix, per_class_accuracy, precision_recall

Y_TRUE = np.array([0, 0, 1, 1, 1, 2])
Y_PRED = np.array([0, 1, 1, 1, 0, 1])


def test_accuracy_from_labels_or_scores():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(3 / 6)
    scores = np.eye(3)[Y_PRED] * 0.8 + 0.05
    assert accuracy(Y_TRUE, scores) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no samples"):
        accuracy([], [])


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [1, 2, 0], [0, 1, 0]])
    assert cm.dtype == np.int64
    assert confusion_matrix(Y_TRUE, Y_PRED, n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="n_classes=2 but labels go up to 2"):
        confusion_matrix(Y_TRUE, Y_PRED, n_classes=2)


def test_per_class_accuracy_and_precision_recall():
    np.testing.assert_allclose(per_class_accuracy(Y_TRUE, Y_PRED), [0.5, 2 / 3, 0.0])
    precision, recall = precision_recall(Y_TRUE, Y_PRED, n_classes=4)
    np.testing.assert_allclose(precision, [0.5, 0.5, np.nan, np.nan])  # 2 and 3 never predicted
    np.testing.assert_allclose(recall, [0.5, 2 / 3, 0.0, np.nan])  # class 3 absent


def test_metrics_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="need y_true"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="non-negative integer labels"):
        confusion_matrix([0.5, 1.0], [0, 1])


def test_macro_precision_matches_a_plain_loop():
    from cnnlab.engine.metrics import macro_precision

    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 5, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 5, 200))
    y_pred[y_pred == 4] = 3  # class 4 is never predicted: its precision counts as 0
    classes = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    values = []
    for k in classes:
        predicted = [t for t, p in zip(y_true, y_pred) if p == k]
        values.append(sum(t == k for t in predicted) / len(predicted) if predicted else 0.0)
    assert macro_precision(y_true, y_pred) == pytest.approx(sum(values) / len(values), rel=1e-12)
    # published example (scikit-learn's precision_score docs): 0.2222…
    assert macro_precision([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]) == pytest.approx(2 / 9)
    assert macro_precision([1, 1], [1, 1], n_classes=10) == 1.0  # absent classes do not count
    with pytest.raises(ValueError, match="no samples"):
        macro_precision([], [])
