"""Smoothing, capped series, progress and the first-layer weight view of the Train tab."""

import math

import numpy as np
import pytest

from cnnlab.engine.trainer import EpochReport
from cnnlab.lab.presets import build_preset
from cnnlab.lab.training_monitor import (
    EMA,
    MAX_TEMPLATES,
    Series,
    epoch_line,
    eta_seconds,
    first_layer_view,
    run_fraction,
)


def test_ema_matches_the_closed_form():
    values = np.random.default_rng(0).normal(size=30)
    ema = EMA(beta=0.7)
    assert math.isnan(ema.value)
    for n in range(1, len(values) + 1):
        got = ema.update(values[n - 1])
        weights = 0.3 * 0.7 ** np.arange(n - 1, -1, -1)  # (1-β) β^(n-i), i = 1..n
        assert got == pytest.approx(np.dot(weights, values[:n]) / (1 - 0.7 ** n), rel=1e-12)
    assert EMA(0.9).update(5.0) == pytest.approx(5.0)  # bias-corrected: no pull towards 0
    ema.reset()
    assert math.isnan(ema.value)
    with pytest.raises(ValueError):
        EMA(1.0)


def test_series_caps_points_keeping_order_first_and_newest():
    s = Series(capacity=8)
    for i in range(100):
        s.append(i, 2 * i)
    assert 4 <= len(s) <= 8
    assert s.x[0] == 0 and s.x[-1] == 99
    assert np.all(np.diff(s.x) > 0)
    np.testing.assert_array_equal(s.y, 2 * s.x)
    copy = s.copy()
    s.clear()
    assert len(s) == 0 and len(copy) >= 4 and copy.x[-1] == 99
    short = Series(capacity=8)
    for i in range(5):
        short.append(i, i)
    np.testing.assert_array_equal(short.x, np.arange(5))  # nothing dropped below capacity
    with pytest.raises(ValueError):
        Series(capacity=2)


def test_progress_and_eta():
    assert run_fraction(1, 2, 5, 10) == pytest.approx(0.25)
    assert run_fraction(2, 2, 10, 10) == 1.0
    # 15 of 40 batches in 30 s -> 2 s per batch, 25 batches left
    assert eta_seconds(2, 4, 5, 10, 30.0) == pytest.approx(50.0)
    assert eta_seconds(1, 4, 0, 10, 0.0) == 0.0


def test_epoch_line_is_keras_like():
    r = EpochReport(3, 5, 0.14213, 0.9571, 0.18, 0.95, 12.43)
    assert epoch_line(r) == ("epoch 3/5 — loss 0.142 — acc 0.957 — val_loss 0.180 — "
                             "val_acc 0.950 — 12.4 s")
    assert epoch_line(EpochReport(1, 1, 1.0, 0.5, None, None, 2.0)) == \
        "epoch 1/1 — loss 1.000 — acc 0.500 — 2.0 s"
    tracked = EpochReport(2, 5, 0.1, 0.96, 0.2, 0.95, 3.0, train_precision=0.9612,
                          val_precision=0.9488)
    assert epoch_line(tracked) == ("epoch 2/5 — loss 0.100 — acc 0.960 — val_loss 0.200 — "
                                   "val_acc 0.950 — precision 0.961 — val_precision 0.949 — 3.0 s")


def test_first_layer_view_of_conv_dense_and_none():
    conv = build_preset("LeNet-like (32-64 conv, 128 dense)")
    tiles, title = first_layer_view(conv)
    assert len(tiles.tiles) == 32
    np.testing.assert_array_equal(tiles.tiles[:, :5, :5], conv.layers[0].params["W"][:, 0])
    assert "Conv2D #0" in title

    linear = build_preset("Linear softmax (784→10)")
    linear.layers[1].params["W"][:, 3] = np.arange(784)  # unit 3's template: pixel index
    tiles, title = first_layer_view(linear)
    assert len(tiles.tiles) == 10
    np.testing.assert_array_equal(tiles.tiles[3, :28, :28], np.arange(784).reshape(28, 28))
    assert "Dense #1" in title

    mlp = build_preset("MLP (784→100→10)")
    assert len(first_layer_view(mlp)[0].tiles) == min(100, MAX_TEMPLATES)

    from cnnlab.engine.layers import Dense, ReLU
    from cnnlab.engine.model import Sequential
    flat = Sequential([Dense(20, 5), ReLU()], (20,))
    assert first_layer_view(flat) is None
