"""Evaluate a classifier on a test set and keep what the Experiments tab shows:
predictions, probabilities, the confusion matrix, per-class scores and the mistakes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cnnlab.engine import metrics


@dataclass(frozen=True)
class Analysis:
    """A model's results on ``N`` test images with ``K`` classes.

    ``y_true``/``y_pred`` ``(N,)`` int64; ``proba`` ``(N, K)`` float32 softmax outputs;
    ``confusion`` ``(K, K)`` int64 (row = true class, column = guess); ``per_class``,
    ``precision``, ``recall`` ``(K,)`` float64 (NaN where undefined); ``accuracy`` and
    ``loss`` (mean cross-entropy, nats) over all N.
    """

    class_names: tuple[str, ...]
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    confusion: np.ndarray
    per_class: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    accuracy: float
    loss: float

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def support(self) -> np.ndarray:
        """``(K,)`` int64: test images per true class (the confusion matrix's row sums)."""
        return self.confusion.sum(axis=1)

    def normalized_confusion(self) -> np.ndarray:
        """``(K, K)`` float64: each row divided by its sum (a row of NaN for a class with
        no test images), so the diagonal is the per-class accuracy."""
        rows = self.support[:, None].astype(np.float64)
        out = np.full(self.confusion.shape, np.nan)
        np.divide(self.confusion, rows, out=out, where=rows > 0)
        return out

    def cell(self, true_class: int, predicted: int) -> np.ndarray:
        """Indices ``(M,)`` of the test images of class ``true_class`` guessed as
        ``predicted``, the most confident guesses first."""
        idx = np.flatnonzero((self.y_true == true_class) & (self.y_pred == predicted))
        return self._by_confidence(idx)

    def misclassified(self) -> np.ndarray:
        """Indices ``(M,)`` of every wrong guess, the most confident first (the most
        instructive mistakes)."""
        return self._by_confidence(np.flatnonzero(self.y_true != self.y_pred))

    def _by_confidence(self, idx: np.ndarray) -> np.ndarray:
        conf = self.proba[idx, self.y_pred[idx]]
        return idx[np.argsort(-conf, kind="stable")]

    def per_class_loss(self) -> np.ndarray:
        """``(K,)`` float64: mean cross-entropy ``-log p(true class)`` (nats) over each
        class's test images; NaN for a class with none. A class can have a high accuracy
        and still a high loss: right, but barely."""
        p_true = np.maximum(self.proba[np.arange(len(self.y_true)), self.y_true].astype(np.float64),
                            np.finfo(np.float32).tiny)
        sums = np.bincount(self.y_true, weights=-np.log(p_true), minlength=self.n_classes)
        counts = self.support.astype(np.float64)
        out = np.full(self.n_classes, np.nan)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out

    def best_and_worst_loss(self) -> tuple[int, int]:
        """Classes with the lowest and the highest mean loss (classes with no test images
        ignored; ties go to the lower class index)."""
        loss = self.per_class_loss()
        present = np.flatnonzero(~np.isnan(loss))
        if present.size == 0:
            raise ValueError("no class has test images")
        return int(present[np.argmin(loss[present])]), int(present[np.argmax(loss[present])])

    def best_and_worst(self) -> tuple[int, int]:
        """Classes with the highest and lowest per-class accuracy (ignoring classes with
        no test images; ties go to the lower class index)."""
        acc = self.per_class
        present = np.flatnonzero(~np.isnan(acc))
        if present.size == 0:
            raise ValueError("no class has test images")
        best = present[np.argmax(acc[present])]
        worst = present[np.argmin(acc[present])]
        return int(best), int(worst)


def analyze(model, x: np.ndarray, y: np.ndarray, class_names: Sequence[str],
            batch_size: int = 256,
            progress: Callable[[int, int], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Analysis | None:
    """Run ``model.predict_proba`` over images ``x`` ``(N, *input_shape)`` (uint8 or
    float, as the model takes them) ``batch_size`` at a time and summarize against the
    labels ``y`` ``(N,)``.

    ``progress(done, total)`` is called after every batch; when ``should_stop()`` turns
    true between batches the work stops and None is returned. Raises ``ValueError`` when
    the model's outputs do not match ``len(class_names)`` or the labels are out of range.
    """
    y = np.asarray(y)
    k = len(class_names)
    n = len(x)
    if n == 0:
        raise ValueError("analyze: the test set is empty")
    if len(y) != n:
        raise ValueError(f"analyze: {n} images but {len(y)} labels")
    out_shape = tuple(model.output_shape)
    if out_shape != (k,):
        raise ValueError(f"analyze: the model outputs {out_shape} but the dataset has {k} classes")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"analyze: labels must be in 0…{k - 1}, found {int(y.min())}…{int(y.max())}")
    y = y.astype(np.int64)
    proba = np.empty((n, k), dtype=np.float32)  # (N, K)
    for start in range(0, n, batch_size):
        if should_stop is not None and should_stop():
            return None
        stop = min(start + batch_size, n)
        proba[start:stop] = model.predict_proba(x[start:stop], batch_size=batch_size)
        if progress is not None:
            progress(stop, n)
    y_pred = proba.argmax(axis=1).astype(np.int64)
    # Cross-entropy from the probabilities; the floor keeps log finite for a 0 output.
    p_true = np.maximum(proba[np.arange(n), y].astype(np.float64), np.finfo(np.float32).tiny)
    loss = float(-np.log(p_true).mean())
    precision, recall = metrics.precision_recall(y, y_pred, k)
    return Analysis(
        class_names=tuple(str(c) for c in class_names), y_true=y, y_pred=y_pred, proba=proba,
        confusion=metrics.confusion_matrix(y, y_pred, k),
        per_class=metrics.per_class_accuracy(y, y_pred, k),
        precision=precision, recall=recall, accuracy=metrics.accuracy(y, y_pred),
        loss=loss if math.isfinite(loss) else math.inf)
