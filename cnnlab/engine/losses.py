"""Losses (``forward(prediction, target) -> float``, ``backward() -> grad``) and the
L1 / L2 weight penalties."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, K)`` logits, shifted by the row max so it never
    overflows; keeps the dtype."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


REDUCTIONS = ("mean", "sum")


def _check_reduction(who: str, reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{who}: reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


class SoftmaxCrossEntropy:
    """Softmax followed by the negative log-likelihood, fused for stability.

    ``forward(logits, labels)``: logits ``(N, K)`` float; labels ``(N,)`` ints in
    ``[0, K)`` (or ``(N, K)`` probability rows, e.g. one-hot). Returns the loss (a Python
    float, in nats): the mean over the batch, or with ``reduction="sum"`` the sum — as the
    linear-classifier homework sums its gradients, so its learning rates mean the same.
    ``backward()`` returns d loss / d logits ``= (softmax - onehot) / N`` (no ``/ N`` for
    the sum), ``(N, K)`` in the logits' dtype.
    """

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction("SoftmaxCrossEntropy", reduction)

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise ValueError(f"SoftmaxCrossEntropy: logits must be (N, K), got shape {logits.shape}")
        n, k = logits.shape
        labels = np.asarray(labels)
        shifted = logits - logits.max(axis=1, keepdims=True)  # (N, K), max 0 per row
        log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1)
        log_p = shifted - log_z  # log softmax, (N, K)
        if labels.ndim == 1 and labels.dtype.kind in "iu":
            if labels.shape[0] != n:
                raise ValueError(f"SoftmaxCrossEntropy: {n} logits rows but {labels.shape[0]} labels")
            if n and (labels.min() < 0 or labels.max() >= k):
                raise ValueError(f"SoftmaxCrossEntropy: labels must be in [0, {k}), got "
                                 f"values from {labels.min()} to {labels.max()}")
            target = np.zeros_like(log_p)
            target[np.arange(n), labels] = 1
            loss = -log_p[np.arange(n), labels].sum()
        elif labels.shape == logits.shape:
            target = labels.astype(logits.dtype, copy=False)
            loss = -(target * log_p).sum()
        else:
            raise ValueError(f"SoftmaxCrossEntropy: labels must be ({n},) integers or "
                             f"({n}, {k}) probabilities, got shape {labels.shape} "
                             f"of {labels.dtype}")
        self._probs = np.exp(log_p)  # softmax, (N, K)
        self._target = target
        return float(loss) / max(n, 1) if self.reduction == "mean" else float(loss)

    def backward(self) -> np.ndarray:
        n = self._probs.shape[0]
        scale = 1.0 / max(n, 1) if self.reduction == "mean" else 1.0
        return (self._probs - self._target) * scale


class MSELoss:
    """Mean (or sum) of squared errors, no ½: ``forward(prediction, target)`` with equal
    shapes; ``backward()`` returns ``2 (prediction - target) / size`` (``/ 1`` for sum)."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction("MSELoss", reduction)

    def forward(self, prediction: np.ndarray, target: np.ndarray) -> float:
        prediction, target = np.asarray(prediction), np.asarray(target)
        if prediction.shape != target.shape:
            raise ValueError(f"MSELoss: prediction {prediction.shape} and target "
                             f"{target.shape} must have the same shape")
        self._diff = prediction - target.astype(prediction.dtype, copy=False)
        total = float(np.vdot(self._diff, self._diff))
        return total / max(self._diff.size, 1) if self.reduction == "mean" else total

    def backward(self) -> np.ndarray:
        scale = 2.0 / max(self._diff.size, 1) if self.reduction == "mean" else 2.0
        return self._diff * scale


def _weights(layers):
    """Every ``(layer, "W")`` weight array; biases are not penalized."""
    layers = getattr(layers, "layers", layers)
    return [layer for layer in layers if "W" in getattr(layer, "params", {})]


def l2_penalty(layers, lam: float, *, add_to_grads: bool = False) -> float:
    """``λ · Σ W²`` over the ``"W"`` of every layer (a Sequential or any iterable of
    layers), as in the classic softmax-classifier exercise. With ``add_to_grads=True``
    also adds its gradient ``2λW`` to each ``grads["W"]`` (call it after ``backward``)."""
    total = 0.0
    for layer in _weights(layers):
        w = layer.params["W"]
        total += float(np.vdot(w, w))
        if add_to_grads and lam:
            layer.grads["W"] += (2 * lam) * w
    return lam * total


def l1_penalty(layers, lam: float, *, add_to_grads: bool = False) -> float:
    """``λ · Σ |W|`` over every layer's ``"W"``; with ``add_to_grads=True`` also adds
    ``λ · sign(W)`` (0 at exactly 0) to each ``grads["W"]``."""
    total = 0.0
    for layer in _weights(layers):
        w = layer.params["W"]
        total += float(np.abs(w).sum())
        if add_to_grads and lam:
            layer.grads["W"] += lam * np.sign(w)
    return lam * total
