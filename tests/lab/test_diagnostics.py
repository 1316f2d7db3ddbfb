"""Gradient statistics, training warnings and the learning-rate finder."""

import math

import numpy as np
import pytest

from cnnlab.data import load_mnist
from cnnlab.engine.layers import Dense, Flatten, ReLU, Sigmoid
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential
from cnnlab.engine.optim import make_optimizer
from cnnlab.engine.trainer import Trainer
from cnnlab.lab.diagnostics import (
    WarningMonitor,
    dead_fraction,
    find_problems,
    gradient_stats,
    weight_copies,
)
from cnnlab.lab.explain import gradient_stats as exported_stats
from cnnlab.lab.explain import lr_find
from cnnlab.lab.lr_finder import smooth, suggest_lr
from cnnlab.lab.presets import build_preset
from cnnlab.lab.training_diagnostics import GradientReport, TrainingDiagnostics


@pytest.fixture(scope="module")
def sample():
    (x, y), _ = load_mnist("sample")
    return x, y


def mlp(activation, hidden, width=64, seed=0):
    rng = np.random.default_rng(seed)
    layers, d = [Flatten()], 784
    for _ in range(hidden):
        layers += [Dense(d, width, rng=rng), activation()]
        d = width
    return Sequential(layers + [Dense(d, 10, rng=rng)], (1, 28, 28))


def train_with_diagnostics(model, x, y, optimizer, lr, batches):
    diag = TrainingDiagnostics(model, probe=x[:32], interval_s=0)
    reports = []
    trainer = Trainer(model, make_optimizer(optimizer, model, lr=lr), epochs=1, batch_size=64,
                      val_fraction=0, seed=0, on_gradients=diag.before_step,
                      on_batch=lambda r: reports.append(diag.after_step()))
    n = 64 * batches
    trainer.fit(x[:: max(1, len(x) // n)][:n], y[:: max(1, len(x) // n)][:n])
    return diag, reports


def test_gradient_stats_against_hand_computed_norms():
    model = mlp(ReLU, 1, width=8)
    x = np.random.default_rng(1).uniform(0, 1, (16, 1, 28, 28))
    y = np.arange(16) % 10
    loss = SoftmaxCrossEntropy()
    model.train()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward(), need_input_grad=False)
    before = weight_copies(model)
    opt = make_optimizer("sgd", model, lr=0.5, momentum=0.0)
    opt.step()
    stats = gradient_stats(model, before)
    assert exported_stats is gradient_stats
    assert set(stats) == {1, 2, 3}
    for i in (1, 3):
        g, w0 = model.layers[i].grads["W"], before[f"{i}.W"]
        assert stats[i]["grad_norm"] == pytest.approx(np.sqrt((g.astype(np.float64) ** 2).sum()))
        assert stats[i]["weight_norm"] == pytest.approx(np.linalg.norm(model.layers[i].params["W"]))
        # plain SGD moved W by exactly lr·g
        assert stats[i]["update_ratio"] == pytest.approx(
            0.5 * np.linalg.norm(g) / np.linalg.norm(w0), rel=1e-5)
    hidden = model.layers[2]._y  # (16, 8)
    assert stats[2]["dead_fraction"] == pytest.approx(np.mean(~(hidden > 0).any(axis=0)))
    # with the model alone, the step the optimizer recorded gives the same ratios
    alone = gradient_stats(model)
    for i in (1, 3):
        assert alone[i]["update_ratio"] == pytest.approx(stats[i]["update_ratio"], rel=1e-6)
    assert math.isnan(gradient_stats(mlp(ReLU, 1, width=8))[1]["update_ratio"])  # no step yet


def test_update_ratio_after_an_adam_step_without_copies():
    model = mlp(ReLU, 1, width=8)
    x = np.random.default_rng(2).uniform(0, 1, (16, 1, 28, 28))
    loss = SoftmaxCrossEntropy()
    model.train()
    loss.forward(model.forward(x), np.arange(16) % 10)
    model.backward(loss.backward(), need_input_grad=False)
    before = weight_copies(model)
    make_optimizer("adam", model, lr=1e-3).step()
    alone, measured = gradient_stats(model), gradient_stats(model, before)
    for i in (1, 3):
        assert np.isfinite(alone[i]["update_ratio"]) and alone[i]["update_ratio"] > 0
        assert alone[i]["update_ratio"] == pytest.approx(measured[i]["update_ratio"], rel=1e-5)


def test_dead_fraction_counts_units_silent_for_the_whole_batch():
    a = np.zeros((4, 3, 2, 2))
    a[1, 0, 1, 1] = 0.5  # channel 0 fires once
    assert dead_fraction(a) == pytest.approx(2 / 3)
    assert dead_fraction(np.array([[0.0, 1.0], [0.0, 0.0]])) == 0.5
    with pytest.raises(ValueError):
        dead_fraction(np.zeros(3))


def test_find_problems_reads_each_condition():
    healthy = {0: {"grad_norm": 0.3, "weight_norm": 8.0, "update_ratio": 1e-3},
               1: {"dead_fraction": 0.1},
               2: {"grad_norm": 2.0, "weight_norm": 4.0, "update_ratio": 3e-3}}
    assert find_problems(healthy) == []
    vanish = {**healthy, 0: {"grad_norm": 1e-5, "weight_norm": 8.0, "update_ratio": 1e-6}}
    assert [p.kind for p in find_problems(vanish)] == ["vanishing"]
    explode = {**healthy, 0: {"grad_norm": math.inf, "weight_norm": 8.0, "update_ratio": 1e-3}}
    assert [p.kind for p in find_problems(explode)] == ["exploding"]
    dead = {**healthy, 1: {"dead_fraction": 0.95}}
    problem, = find_problems(dead)
    assert problem.kind == "dead_relu" and problem.layers == (1,) and "95 %" in problem.message


def test_warning_needs_a_streak_and_is_raised_once():
    monitor = WarningMonitor(patience=3)
    dead = {1: {"dead_fraction": 0.9}}
    ok = {1: {"dead_fraction": 0.1}}
    assert monitor.update(dead, 1, 1, 1) == [] and monitor.update(ok, 1, 2, 2) == []
    assert monitor.update(dead, 1, 3, 3) == [] and monitor.update(dead, 1, 4, 4) == []
    warning, = monitor.update(dead, 1, 5, 5)
    assert (warning.epoch, warning.batch, warning.step) == (1, 3, 3)
    assert "batch 3" in warning.text()
    assert monitor.update(dead, 1, 6, 6) == []


def test_deep_sigmoid_mlp_raises_the_vanishing_gradient_warning(sample):
    diag, reports = train_with_diagnostics(mlp(Sigmoid, 5), *sample, "sgd", 0.1, 8)
    assert "vanishing" in {w.kind for w in diag.warnings}
    assert all(isinstance(r, GradientReport) for r in reports)
    assert reports[0].layers[0].label == "Dense #1"


def test_relu_net_at_learning_rate_10_raises_the_dead_relu_warning(sample):
    diag, _ = train_with_diagnostics(mlp(ReLU, 2), *sample, "sgd", 10.0, 10)
    assert "dead_relu" in {w.kind for w in diag.warnings}


def test_sane_lenet_raises_no_warning(sample):
    model = build_preset("LeNet-like (32-64 conv, 128 dense)")
    diag, reports = train_with_diagnostics(model, *sample, "adam", 1e-3, 12)
    assert diag.warnings == []
    ratios = [s.update_ratio for s in reports[-1].layers if not math.isnan(s.update_ratio)]
    assert ratios and all(1e-5 < r < 1e-1 for r in ratios)
    histograms = diag.epoch_end(1)
    assert [h.index for h in histograms.weights] == [0, 3, 7, 9]
    assert [h.index for h in histograms.activations] == [1, 4, 8]
    for h in histograms.weights + histograms.activations:  # small: counts and edges only
        assert h.counts.shape == (40,) and h.edges.shape == (41,)
    assert histograms.weights[0].counts.sum() == model.layers[0].params["W"].size


def test_diagnostics_measure_only_every_interval():
    model = mlp(ReLU, 1, width=4)
    t = [0.0]
    diag = TrainingDiagnostics(model, interval_s=1.0, clock=lambda: t[0])
    x = np.zeros((2, 1, 28, 28))
    loss = SoftmaxCrossEntropy()
    measured = []
    for step in range(6):
        loss.forward(model.forward(x), np.array([0, 1]))
        model.backward(loss.backward())
        diag.before_step(1, step + 1)
        measured.append(diag.after_step() is not None)
        t[0] += 0.4
    assert measured == [True, False, False, True, False, False]


def test_lr_find_leaves_the_model_bit_identical_and_its_curve_falls_then_rises(sample):
    x, y = sample
    model = build_preset("Conv 3×3×8 pad 1 → ReLU → pool → 100 → 10")
    weights = model.get_weights()
    modes = [layer.training for layer in model.layers]
    lrs, losses = lr_find(model, "sgd", x, y, lr_min=1e-4, lr_max=10, steps=60, batch_size=32)
    for key, w in model.get_weights().items():
        assert w.dtype == weights[key].dtype and np.array_equal(w, weights[key])
    assert [layer.training for layer in model.layers] == modes
    assert len(lrs) == len(losses) >= 20 and np.all(np.diff(lrs) > 0)
    assert lrs[0] == pytest.approx(1e-4)
    s = smooth(losses)
    low = int(np.argmin(s))
    assert 0 < low < len(s) - 1
    assert s[low] < 0.8 * s[0]  # falls …
    assert losses[-1] > 1.5 * losses[: low + 1].min()  # … then rises
    suggestion = suggest_lr(lrs, losses)
    assert lrs[0] < suggestion < lrs[low]
    again = lr_find(model, "sgd", x, y, lr_min=1e-4, lr_max=10, steps=60, batch_size=32)
    assert np.array_equal(again[1], losses)  # same seed, same run


def test_lr_find_rejects_bad_arguments(sample):
    x, y = sample
    model = build_preset("Linear softmax (784→10)")
    with pytest.raises(ValueError, match="lr_min"):
        lr_find(model, "sgd", x, y, lr_min=1.0, lr_max=0.1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        lr_find(model, "rmsprop", x, y)
    with pytest.raises(ValueError, match="label per image"):
        lr_find(model, "sgd", x, y[:5])


def test_smooth_is_a_centred_moving_average():
    values = np.array([1.0, 2.0, 6.0, 3.0, 8.0])
    expected = [np.mean(values[max(i - 1, 0):i + 2]) for i in range(5)]
    np.testing.assert_allclose(smooth(values, 3), expected)
    np.testing.assert_array_equal(smooth(np.full(7, 2.5)), np.full(7, 2.5))


def test_trainer_calls_on_gradients_between_backward_and_step(sample):
    x, y = sample
    model = mlp(ReLU, 1, width=8)
    seen = []

    def on_gradients(epoch, batch):
        layer = model.layers[1]
        seen.append((epoch, batch, layer.params["W"].copy(), layer.grads["W"].copy()))

    opt = make_optimizer("sgd", model, lr=0.1, momentum=0.0)
    trainer = Trainer(model, opt, epochs=1, batch_size=50, val_fraction=0, seed=0,
                      on_gradients=on_gradients)
    trainer.fit(x[:100], y[:100])
    assert [(e, b) for e, b, _, _ in seen] == [(1, 1), (1, 2)]
    _, _, w1, g1 = seen[0]
    _, _, w2, _ = seen[1]
    np.testing.assert_allclose(w2, w1 - 0.1 * g1, rtol=1e-5, atol=1e-7)  # the hook saw W before
