"""The Train tab's Diagnostics view and learning-rate finder, through real training runs."""

import math

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from cnnlab.app import session as session_module
from cnnlab.app.panels.lr_finder_view import one_digit
from cnnlab.app.panels.train_panel import TrainPanel
from cnnlab.lab.presets import build, build_preset
from cnnlab.lab.training_diagnostics import GradientReport, HistogramReport

DEEP_SIGMOID = [{"type": "Flatten"}] + [
    spec for _ in range(5) for spec in ({"type": "Dense", "out_features": 32}, {"type": "Sigmoid"})
] + [{"type": "Dense", "out_features": 10}]


@pytest.fixture
def panel(qtbot, session, monkeypatch):
    monkeypatch.setattr(session_module, "DIAGNOSTICS_INTERVAL_S", 0.0)  # measure every step
    p = TrainPanel(session)
    qtbot.addWidget(p)
    p.resize(1280, 760)
    p.show()
    p.views.setCurrentWidget(p.diagnostics)
    p.subset.setValue(512)
    p.batch_size.setValue(32)
    p.epochs.setValue(2)
    return p


def train(qtbot, panel, session):
    with qtbot.waitSignal(session.training_finished, timeout=60000):
        panel.start_button.click()


def test_a_run_fills_the_diagnostics_with_small_reports(qtbot, panel, session):
    session.set_model(build_preset("Conv 3×3×8 pad 1 → ReLU → pool → 100 → 10"), "cnn")
    reports = []
    session.diagnostics_reported.connect(reports.append)
    train(qtbot, panel, session)
    view = panel.diagnostics
    histograms = [r for r in reports if isinstance(r, HistogramReport)]
    assert [h.epoch for h in histograms] == [0, 1, 2]  # before training and after each epoch
    gradients = [r for r in reports if isinstance(r, GradientReport)]
    assert len(gradients) >= 3
    for r in gradients:  # a few floats per layer, never weights
        assert all(isinstance(getattr(s, f), float) for s in r.layers
                   for f in ("grad_norm", "weight_norm", "update_ratio", "dead_fraction"))
    for h in histograms:
        assert all(x.counts.size <= 40 and x.edges.size <= 41 for x in h.weights + h.activations)
    assert set(view._curves) == {0, 4, 6}  # conv, dense, dense

    def drawn():
        steps = view._curves[0][0].xData
        return steps is not None and len(steps) and steps[-1] == gradients[-1].step

    qtbot.waitUntil(drawn, timeout=3000)  # redrawn on a timer, not per report
    assert np.all(np.diff(view._curves[0][0].xData) > 0)
    assert view.dead_bars.opts["height"] is not None and len(view.dead_bars.opts["x"]) == 2
    # scrub the epochs, switch to activations
    assert view.epoch_slider.maximum() == 2 and view.epoch_label.text() == "epoch 2"
    view.epoch_slider.setValue(0)
    assert view.epoch_label.text() == "start"
    view.hist_kind.setCurrentIndex(1)
    assert [view.hist_layer.itemText(i) for i in range(view.hist_layer.count())] == [
        "ReLU #1", "ReLU #5"]
    assert view.hist_now.xData is not None and len(view.hist_now.xData) == 41
    assert view.warnings == [] and "No warnings" in view.warning_label.text()


def test_a_deep_sigmoid_net_shows_the_vanishing_warning_and_a_new_run_clears(qtbot, panel,
                                                                             session):
    session.set_model(build(DEEP_SIGMOID, (1, 28, 28)), "deep sigmoid")
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.lr.setValue(0.05)
    train(qtbot, panel, session)
    view = panel.diagnostics
    assert [w.kind for w in view.warnings] == ["vanishing"]
    assert "vanish" in view.warning_label.text() and "epoch 1, batch" in view.warning_label.text()
    assert len(view._warning_lines) == 1
    assert "no ReLU" in view.dead_plot.plotItem.titleLabel.text
    session.set_model(build_preset("Conv 3×3×8 pad 1 → ReLU → pool → 100 → 10"), "cnn")
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    panel.lr.setValue(1e-3)
    with qtbot.waitSignal(session.training_started, timeout=5000):
        panel.start_button.click()
    assert view.warnings == [] and view._warning_lines == []
    qtbot.waitSignal(session.training_finished, timeout=60000).wait()


def test_lr_finder_suggests_a_rate_and_one_click_uses_it(qtbot, panel, session):
    panel.views.setCurrentWidget(panel.lr_finder)
    finder = panel.lr_finder
    weights = session.model.get_weights()
    panel.batch_size.setValue(16)
    qtbot.mouseClick(finder.find_button, Qt.MouseButton.LeftButton)
    assert finder.running and not finder.find_button.isEnabled()
    qtbot.waitUntil(lambda: not finder.running, timeout=60000)
    for key, w in session.model.get_weights().items():
        assert np.array_equal(w, weights[key])  # the model itself is untouched
    assert len(finder.lrs) == len(finder.losses) > 20
    assert finder.raw_curve.xData is not None and len(finder.raw_curve.xData) == len(finder.lrs)
    assert finder.suggestion is not None and finder.lrs[0] < finder.suggestion < finder.lrs[-1]
    assert finder.marker.isVisible()
    assert finder.marker.label.toPlainText() == f"suggested {one_digit(finder.suggestion)}"
    assert finder.use_button.isEnabled() and one_digit(finder.suggestion) in finder.use_button.text()
    qtbot.mouseClick(finder.use_button, Qt.MouseButton.LeftButton)
    assert panel.lr.value() == pytest.approx(float(one_digit(finder.suggestion)))
    assert math.isclose(panel.config().lr, panel.lr.value())


def test_lr_finder_explains_why_it_cannot_run(qtbot, panel, session):
    session.set_model(build([{"type": "Flatten"}, {"type": "Dense", "out_features": 3}],
                            (1, 28, 28)), "three classes")
    panel.lr_finder.start()
    assert not panel.lr_finder.running
    assert "does not fit" in panel.lr_finder.status.text()


def test_one_digit():
    assert one_digit(0.00312) == "3e-3"
    assert one_digit(0.97) == "1e0"
    assert one_digit(2.4e-5) == "2e-5"
