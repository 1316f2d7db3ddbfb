"""Classification metrics. ``y_pred`` may be class labels ``(N,)`` or scores ``(N, K)``
(probabilities or logits; the argmax is taken). Undefined ratios (a class with no
samples, or never predicted) are NaN, never a warning."""

from __future__ import annotations

import numpy as np


def _labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred):
        raise ValueError(f"metrics: need y_true (N,) and y_pred (N,) or (N, K), got "
                         f"{y_true.shape} and {y_pred.shape}")
    for what, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.dtype.kind not in "iu" or y.min() < 0):
            raise ValueError(f"metrics: {what} must hold non-negative integer labels")
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class is the true one (in [0, 1])."""
    y_true, y_pred = _labels(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("accuracy: no samples")
    return float((y_true == y_pred).mean())


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """``(K, K)`` int64 counts: row = true class, column = predicted class.
    ``n_classes`` defaults to ``1 + max label`` seen."""
    y_true, y_pred = _labels(y_true, y_pred)
    seen = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    k = seen if n_classes is None else int(n_classes)
    if k < seen:
        raise ValueError(f"confusion_matrix: n_classes={k} but labels go up to {seen - 1}")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class_accuracy(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """``(K,)`` float64: for each true class, the fraction predicted correctly (NaN for a
    class with no samples)."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    return _ratio(np.diag(cm), cm.sum(axis=1))


def precision_recall(y_true, y_pred, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(precision, recall)``, each ``(K,)`` float64. Precision of class k: correct / all
    predicted k (NaN if never predicted); recall: correct / all truly k (NaN if absent)."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm)
    return _ratio(tp, cm.sum(axis=0)), _ratio(tp, cm.sum(axis=1))


def macro_precision(y_true, y_pred, n_classes: int | None = None) -> float:
    """Precision averaged over the classes, each class counting the same however rare
    (Keras' and scikit-learn's "macro" average). The classes averaged are those present
    in ``y_true`` or ``y_pred``; a class that is present but never predicted has
    precision 0 — as ``sklearn.metrics.precision_score(average="macro",
    zero_division=0)``. In [0, 1]."""
    y_true, y_pred = _labels(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("macro_precision: no samples")
    cm = confusion_matrix(y_true, y_pred, n_classes)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    predicted = cm.sum(axis=0)
    precision = np.divide(np.diag(cm), predicted, out=np.zeros(len(cm)), where=predicted > 0)
    return float(precision[present].mean())


#: Metric names a ``Trainer`` tracks per epoch (``metrics=["accuracy", "precision"]``).
METRICS = {"accuracy": accuracy, "precision": macro_precision}
