"""The logistic-regression baseline of the data-size curve (Experiments tab): multinomial
logistic regression trained to convergence, the yardstick a CNN has to beat."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnlab.engine.layers import Dense, Flatten
from cnnlab.engine.model import Sequential
from cnnlab.engine.optim import make_optimizer
from cnnlab.engine.trainer import EpochReport, Trainer, evaluate


@dataclass(frozen=True)
class BaselineResult:
    """The logistic-regression baseline: test and final train scores, the number of
    full passes it took, whether the loss settled (``converged``) and the trained model."""

    test_acc: float
    test_loss: float
    train_loss: float
    train_acc: float
    epochs: int
    converged: bool
    stopped: bool
    model: Sequential


def linear_softmax(input_shape: tuple[int, ...], n_classes: int = 10) -> Sequential:
    """Multinomial logistic regression: Flatten → Dense(prod(input_shape) → n_classes),
    zero-initialized (the linear softmax preset)."""
    features = int(np.prod(input_shape))
    return Sequential([Flatten(), Dense(features, n_classes, init="zeros")], tuple(input_shape))


def logistic_baseline(x, y, x_test, y_test, *, n_classes: int | None = None, l2: float = 1e-3,
                      lr: float = 0.05, batch_size: int | None = None, max_epochs: int = 500,
                      tol: float = 1e-4, window: int = 5, seed: int = 0,
                      on_epoch: Callable[[EpochReport], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> BaselineResult:
    """Train multinomial logistic regression to convergence and score it on the test set.

    x: ``(N, *shape)`` uint8 or float images, y: ``(N,)`` int labels (``n_classes`` defaults
    to the largest label + 1). Adam at ``lr`` on full batches (``batch_size=None``) or large
    ones, with an ``l2`` penalty (λ·ΣW²), for up to ``max_epochs`` passes. Converged: the
    training loss moved by less than ``tol`` (relative) per epoch, on average over the last
    ``window`` epochs (a window, because Adam's loss can pause for an epoch before falling on).
    """
    y, y_test = np.asarray(y), np.asarray(y_test)
    if n_classes is None:
        n_classes = int(max(y.max(), y_test.max())) + 1
    model = linear_softmax(np.asarray(x).shape[1:], n_classes)
    losses: list[float] = []
    converged = False
    trainer = None

    def epoch_done(report: EpochReport) -> None:
        nonlocal converged
        losses.append(report.train_loss)
        if len(losses) > window:
            old, new = losses[-window - 1], losses[-1]
            if abs(old - new) < tol * window * max(abs(old), 1e-12):
                converged = True
                trainer.stop()
        if on_epoch is not None:
            on_epoch(report)

    def batch_done(_report) -> None:
        if should_stop is not None and should_stop():
            trainer.stop()

    trainer = Trainer(model, make_optimizer("adam", model, lr=lr), epochs=max_epochs,
                      batch_size=batch_size or len(y), val_fraction=0.0, seed=seed, l2=l2,
                      on_batch=batch_done, on_epoch=epoch_done)
    history = trainer.fit(x, y)
    test_loss, test_acc = evaluate(model, x_test, y_test)
    train_loss = history.train_loss[-1] if history.train_loss else math.nan
    train_acc = history.train_acc[-1] if history.train_acc else math.nan
    return BaselineResult(test_acc, test_loss, train_loss, train_acc, len(history.train_loss),
                          converged, history.stopped and not converged, model)
