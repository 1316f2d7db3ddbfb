"""Mini-batch training with reports, pause/resume/stop and divergence detection.

The trainer never starts threads: ``fit`` runs on the caller's thread; ``pause``,
``resume`` and ``stop`` may be called from any other thread and take effect between
batches. Progress goes to plain callbacks as small frozen reports.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from cnnlab.engine.history import BatchReport, EpochReport, History
from cnnlab.engine.losses import SoftmaxCrossEntropy, l1_penalty, l2_penalty
from cnnlab.engine.metrics import METRICS, macro_precision
from cnnlab.engine.model import as_input


class TrainingDiverged(ValueError):
    """The loss became NaN or Inf; the weights were not updated with that batch."""

    def __init__(self, epoch: int, batch: int, lr: float | None, loss: float, cause: str = "rate"):
        self.epoch, self.batch, self.lr, self.loss = epoch, batch, lr, loss
        self.cause = cause  # "inputs": the batch held NaN/Inf; "weights": they already did; "rate"
        rate = f"learning rate {lr:g}" if lr is not None else "unknown learning rate"
        advice = {"inputs": "the training images of this batch contain NaN or Inf values; "
                            "fix the data (the learning rate is not the problem)",
                  "weights": "the weights already held NaN or Inf values before this batch; "
                             "reset the model"}.get(cause, "the learning rate is probably too "
                                                           "large: try a smaller one")
        super().__init__(f"training diverged: the loss became {loss} at epoch {epoch}, "
                         f"batch {batch} ({rate}): {advice}")


def _check_labels(y, n: int, n_classes: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"{what}: labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(y) != n:
        raise ValueError(f"{what}: {n} images but {len(y)} labels")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{what}: labels must be in [0, {n_classes}) for a model with "
                         f"{n_classes} outputs, got {y.min()} … {y.max()}")
    return y


def _check_images(model, x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.shape[1:] != tuple(model.input_shape) or x.ndim != len(model.input_shape) + 1:
        raise ValueError(f"{what}: the model takes (N, {', '.join(map(str, model.input_shape))})"
                         f" inputs, got {x.shape}")
    if x.dtype != np.uint8 and x.dtype.kind != "f":
        raise ValueError(f"{what}: images must be uint8 or float, got {x.dtype}")
    if x.dtype.kind == "f" and x.size:
        bad = x.size - int(np.count_nonzero(np.isfinite(x)))
        if bad:
            raise ValueError(f"{what}: the images contain {bad:,} NaN or Inf values; "
                             "every pixel must be a finite number")
    return x


def _divergence_cause(model, xb) -> str:
    """Why a loss went non-finite: bad inputs, weights already broken, or the step size."""
    if not np.isfinite(xb).all():
        return "inputs"
    if not all(np.isfinite(p).all() for layer in model.layers for p in layer.params.values()):
        return "weights"
    return "rate"


def stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """``(train_idx, val_idx)``: about ``fraction`` of every class goes to validation,
    chosen by ``rng``; both sorted int64 index arrays."""
    val = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        take = int(round(fraction * len(members)))
        val.append(rng.permutation(members)[:take])
    val_idx = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.int64)
    mask = np.ones(len(y), dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx


def evaluate(model, x, y, batch_size: int = 256, loss=None) -> tuple[float, float]:
    """Mean loss per image and accuracy of ``model`` on images ``x`` ``(N, *input_shape)``
    (uint8 scaled to [0, 1], or float) with int labels ``y`` ``(N,)``, in inference mode.
    ``loss`` defaults to ``SoftmaxCrossEntropy``."""
    mean_loss, acc, _pred = evaluate_predictions(model, x, y, batch_size, loss)
    return mean_loss, acc


def evaluate_predictions(model, x, y, batch_size: int = 256, loss=None):
    """``(mean loss per image, accuracy, predicted labels (N,) int64)``, as ``evaluate``."""
    loss = loss or SoftmaxCrossEntropy()
    x = _check_images(model, x, "evaluate")
    n_classes = int(np.prod(model.output_shape))
    y = _check_labels(y, len(x), n_classes, "evaluate")
    if len(x) == 0:
        raise ValueError("evaluate: no samples")
    total_loss, pred = 0.0, np.empty(len(x), dtype=np.int64)
    with model.inference_mode():
        for i in range(0, len(x), batch_size):
            logits = model.forward(as_input(x[i:i + batch_size], model.dtype))
            yb = y[i:i + batch_size]
            total_loss += _per_image(loss, loss.forward(logits, yb), len(yb)) * len(yb)
            pred[i:i + len(yb)] = logits.argmax(axis=1)
    return total_loss / len(x), float((pred == y).mean()), pred


def _per_image(loss, value: float, n: int) -> float:
    """A batch's loss as a mean per image, whatever the loss's ``reduction``: curves and
    logs stay comparable when the gradient is a sum (``reduction="sum"``)."""
    return value / max(n, 1) if getattr(loss, "reduction", "mean") == "sum" else value


class Trainer:
    """Mini-batch training of a ``Sequential`` classifier.

    ``loss`` defaults to ``SoftmaxCrossEntropy``; ``l2``/``l1`` add ``λΣW²``/``λΣ|W|``
    penalties to the gradient; ``augment(x_batch, rng) -> x_batch`` transforms float
    training batches; ``on_batch(BatchReport)`` and ``on_epoch(EpochReport)`` are called
    on the training thread; ``on_gradients(epoch, batch)`` after each backward pass, before
    the optimizer step (for gradient diagnostics). ``metrics``, Keras-style: "accuracy"
    (always tracked) and "precision" (macro, per epoch on the training and validation
    images: ``EpochReport.train_precision``, ``History.val_precision``, …). Losses are
    reported per image also when the loss sums over the batch. The same ``seed`` (and the same initial
    weights) gives the same result: it drives the validation split, shuffling, Dropout and
    ``augment``.
    """

    def __init__(self, model, optimizer, loss=None, *, epochs: int = 5, batch_size: int = 64,
                 val_fraction: float = 0.1, seed: int = 0, l2: float = 0.0, l1: float = 0.0,
                 augment=None, on_batch=None, on_epoch=None, on_gradients=None,
                 metrics=("accuracy",)):
        metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"Trainer: unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
        self.metrics = ("accuracy", *[m for m in metrics if m != "accuracy"])
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Trainer: {name} must be a positive integer, got {value!r}")
        if not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
            raise ValueError(f"Trainer: val_fraction must be in [0, 1), got {val_fraction!r}")
        for name, value in (("l2", l2), ("l1", l1)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"Trainer: {name} must be a finite number >= 0, got {value!r}")
        self.model, self.optimizer = model, optimizer
        self.loss = loss or SoftmaxCrossEntropy()
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.val_fraction, self.seed = float(val_fraction), seed
        self.l2, self.l1 = float(l2), float(l1)
        self.augment, self.on_batch, self.on_epoch = augment, on_batch, on_epoch
        self.on_gradients = on_gradients
        self._running = threading.Event()  # set = may run; cleared by pause()
        self._running.set()
        self._stop = False
        self._paused_seconds = 0.0
        self._last_pred: np.ndarray | None = None  # the last batch's predicted labels

    # ------------------------------------------------------------ control
    def pause(self) -> None:
        """Block ``fit`` before its next batch until ``resume`` or ``stop``."""
        if not self._stop:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """End ``fit`` before its next batch (also releases a pause). Final for this
        trainer: ``fit`` returns the history so far with ``stopped=True``."""
        self._stop = True
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop

    def _may_continue(self) -> bool:
        """Block while paused; False once stopped. Time spent paused is not training
        time, so it is left out of ``samples_per_s``."""
        if not self._running.is_set():
            waited = time.perf_counter()
            self._running.wait()
            self._paused_seconds += time.perf_counter() - waited
        return not self._stop

    # ----------------------------------------------------------------- fit
    def _split(self, x, y, x_val, y_val, rng):
        n_classes = int(np.prod(self.model.output_shape))
        x = _check_images(self.model, x, "Trainer.fit")
        y = _check_labels(y, len(x), n_classes, "Trainer.fit")
        if len(x) == 0:
            raise ValueError("Trainer.fit: the training set is empty (no images)")
        if x_val is not None:
            if y_val is None:
                raise ValueError("Trainer.fit: x_val given without y_val")
            x_val = _check_images(self.model, x_val, "Trainer.fit (validation)")
            y_val = _check_labels(y_val, len(x_val), n_classes, "Trainer.fit (validation)")
            if len(x_val) == 0:  # an empty validation set: train without one
                return x, y, np.arange(len(x)), None
            return x, y, np.arange(len(x)), (x_val, y_val)
        if self.val_fraction > 0:
            train_idx, val_idx = stratified_split(y, self.val_fraction, rng)
            if len(val_idx):
                return x, y, train_idx, (x[val_idx], y[val_idx])
            return x, y, train_idx, None
        return x, y, np.arange(len(x)), None

    def fit(self, x, y, x_val=None, y_val=None) -> History:
        """Train for ``epochs`` on images ``x`` ``(N, *input_shape)`` (uint8, scaled to
        [0, 1] per batch, or float in the model's input range) and int labels ``y``
        ``(N,)``. Validation: ``(x_val, y_val)``, else a stratified ``val_fraction`` of
        ``x`` chosen by ``seed``. Returns the ``History``; raises ``TrainingDiverged``."""
        rng = np.random.default_rng(self.seed)
        x, y, train_idx, val = self._split(x, y, x_val, y_val, rng)
        if len(train_idx) == 0:
            raise ValueError("Trainer.fit: no training samples left after the validation split")
        for layer in self.model.layers:  # reproducible dropout masks
            if isinstance(getattr(layer, "rng", None), np.random.Generator):
                layer.rng = np.random.default_rng(rng.integers(2**63))
        history = History()
        batches = math.ceil(len(train_idx) / self.batch_size)
        start = time.perf_counter()
        self._paused_seconds = 0.0
        samples_done = 0
        for epoch in range(1, self.epochs + 1):
            epoch_start = time.perf_counter()
            paused_before = self._paused_seconds  # time paused is not the epoch's time
            order = rng.permutation(train_idx)
            loss_sum, correct, seen = 0.0, 0, 0
            preds, truths = [], []  # this epoch's predictions, for precision
            for batch in range(1, batches + 1):
                if not self._may_continue():
                    history.stopped = True
                    return history
                idx = order[(batch - 1) * self.batch_size: batch * self.batch_size]
                loss, acc = self._step(x[idx], y[idx], rng, epoch, batch)
                if "precision" in self.metrics:
                    preds.append(self._last_pred)
                    truths.append(y[idx])
                loss_sum += loss * len(idx)
                correct += round(acc * len(idx))
                seen += len(idx)
                samples_done += len(idx)
                history.batch_loss.append(loss)
                history.batch_acc.append(acc)
                if self.on_batch is not None:
                    elapsed = time.perf_counter() - start
                    busy = max(elapsed - self._paused_seconds, 1e-9)
                    self.on_batch(BatchReport(epoch, self.epochs, batch, batches, loss, acc,
                                              samples_done / busy, elapsed))
            val_loss = val_acc = val_pred = train_prec = val_prec = None
            if val is not None:
                val_loss, val_acc, val_pred = evaluate_predictions(self.model, *val, loss=self.loss)
            if "precision" in self.metrics:
                train_prec = macro_precision(np.concatenate(truths), np.concatenate(preds))
                val_prec = None if val is None else macro_precision(val[1], val_pred)
                history.train_precision.append(train_prec)
                history.val_precision.append(val_prec)
            report = EpochReport(epoch, self.epochs, loss_sum / seen, correct / seen,
                                 val_loss, val_acc, time.perf_counter() - epoch_start
                                 - (self._paused_seconds - paused_before), train_prec, val_prec)
            history.train_loss.append(report.train_loss)
            history.train_acc.append(report.train_acc)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            history.epoch_seconds.append(report.seconds)
            if self.on_epoch is not None:
                self.on_epoch(report)
        history.stopped = self._stop
        return history

    def _step(self, xb, yb, rng, epoch: int, batch: int) -> tuple[float, float]:
        """One forward/backward/update on a batch; returns (data loss, accuracy)."""
        model = self.model
        xb = as_input(xb, model.dtype)  # (B, *input_shape)
        if self.augment is not None:
            xb = self.augment(xb, rng)
        model.train()
        # A diverging run overflows on purpose; it is reported below, not warned about.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            logits = model.forward(xb)  # (B, K)
            loss = self.loss.forward(logits, yb)
            model.backward(self.loss.backward(), need_input_grad=False)
            penalty = 0.0
            if self.l2:
                penalty += l2_penalty(model, self.l2, add_to_grads=True)
            if self.l1:
                penalty += l1_penalty(model, self.l1, add_to_grads=True)
            if not (math.isfinite(loss) and math.isfinite(penalty)):
                bad = loss if not math.isfinite(loss) else penalty
                raise TrainingDiverged(epoch, batch, getattr(self.optimizer, "lr", None), bad,
                                       _divergence_cause(model, xb))
            if self.on_gradients is not None:
                self.on_gradients(epoch, batch)
            self.optimizer.step()
        self._last_pred = logits.argmax(axis=1)  # (B,)
        return _per_image(self.loss, loss, len(yb)), float((self._last_pred == yb).mean())
