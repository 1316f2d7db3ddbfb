"""The learning-rate range test (Smith 2017, "Cyclical learning rates", §3.3).

On a *copy* of the model, train for a few steps while the learning rate grows
exponentially from ``lr_min`` to ``lr_max``, recording the loss of every batch. The loss
first stays flat (too small to matter), then falls (useful), then shoots up (too large).
A good learning rate sits where it falls fastest: :func:`suggest_lr`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import as_input
from cnnlab.engine.optim import make_optimizer

#: Stop once the loss exceeds this multiple of the best loss so far (it has diverged).
STOP_FACTOR = 4.0


def _check_range(lr_min, lr_max, steps, batch_size) -> None:
    for name, value in (("lr_min", lr_min), ("lr_max", lr_max)):
        if not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"lr_find: {name} must be a positive number, got {value!r}")
    if lr_min >= lr_max:
        raise ValueError(f"lr_find: lr_min ({lr_min:g}) must be below lr_max ({lr_max:g})")
    for name, value, low in (("steps", steps, 2), ("batch_size", batch_size, 1)):
        if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"lr_find: {name} must be an integer >= {low}, got {value!r}")


def lr_find(model, optimizer, x, y, lr_min=1e-6, lr_max=1, steps=100, batch_size=64, seed=0,
            *, stop_factor=STOP_FACTOR, on_step=None, should_stop=None, **hyper):
    """Run the range test and return ``(lrs, losses)``: float64 arrays, one entry per step
    taken, ``lrs[i] = lr_min · (lr_max / lr_min)^(i / (steps − 1))`` and ``losses[i]`` that
    batch's cross-entropy before its update. Stops early once the loss is not finite or
    exceeds ``stop_factor`` × the best so far, or when ``should_stop()`` is true.

    ``model`` is never touched: the run trains ``model.copy()``. ``optimizer`` is a name
    from :data:`cnnlab.engine.optim.OPTIMIZERS`, built with ``make_optimizer`` and
    ``hyper`` (momentum, betas…; the lr is set every step). ``x``: images
    ``(N, *input_shape)`` (uint8 or [0, 1] floats), ``y``: int labels ``(N,)``; batches
    are drawn in an order fixed by ``seed``. ``on_step(i, lr, loss)`` reports progress.
    """
    _check_range(lr_min, lr_max, steps, batch_size)
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != len(model.input_shape) + 1 or x.shape[1:] != tuple(model.input_shape):
        raise ValueError(f"lr_find: the model takes (N, {', '.join(map(str, model.input_shape))})"
                         f" images, got {x.shape}")
    if y.shape != (len(x),) or y.dtype.kind not in "iu" or len(x) == 0:
        raise ValueError(f"lr_find: need one integer label per image, got {y.dtype} {y.shape} "
                         f"for {len(x)} images")
    rng = np.random.default_rng(seed)
    work = model.copy().train()
    for layer in work.layers:  # reproducible dropout masks
        if isinstance(getattr(layer, "rng", None), np.random.Generator):
            layer.rng = np.random.default_rng(rng.integers(2**63))
    opt = make_optimizer(optimizer, work, **hyper)
    loss_fn = SoftmaxCrossEntropy()
    schedule = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))  # (steps,)
    lrs, losses = [], []
    order, at = rng.permutation(len(x)), 0
    best = math.inf
    for i, lr in enumerate(schedule):
        if should_stop is not None and should_stop():
            break
        if at + batch_size > len(order) and at > 0:
            order, at = rng.permutation(len(x)), 0
        idx = order[at:at + batch_size]
        at += batch_size
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            loss = loss_fn.forward(work.forward(as_input(x[idx], work.dtype)), y[idx])
            if not math.isfinite(loss):
                break
            lrs.append(float(lr))
            losses.append(loss)
            if on_step is not None:
                on_step(i, float(lr), loss)
            best = min(best, loss)
            if loss > stop_factor * best:
                break
            work.backward(loss_fn.backward(), need_input_grad=False)
            opt.lr = float(lr)
            opt.step()
    return np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)


def smooth(values, window: int = 9) -> np.ndarray:
    """Centred moving average of ``values`` over ``window`` points (fewer at the ends), so
    the smoothed curve does not lag behind the raw one as an exponential average would.
    float64, same length."""
    v = np.asarray(values, dtype=np.float64)
    n, half = len(v), max(int(window), 1) // 2
    sums = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(n)
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, n)
    return (sums[hi] - sums[lo]) / (hi - lo)


def suggest_lr(lrs, losses, skip_start: int = 5) -> float | None:
    """The learning rate where the smoothed loss falls fastest per decade of lr, looking
    only before its minimum; None when the curve is too short or never falls."""
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    if len(lrs) < skip_start + 3:
        return None
    s = smooth(losses)
    end = int(np.argmin(s))  # the minimum itself is already too far
    if end - skip_start < 3:
        return None
    slope = np.gradient(s[skip_start:end], np.log10(lrs[skip_start:end]))  # loss per decade
    i = int(np.argmin(slope))
    return float(lrs[skip_start + i]) if slope[i] < 0 else None
