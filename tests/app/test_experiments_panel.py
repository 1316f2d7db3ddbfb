"""The Experiments tab: analysis of the current model, sweeps, and the data-size curve."""

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from cnnlab.app.panels.experiments_panel import ExperimentsPanel
from cnnlab.app.session import Session, load_dataset
from cnnlab.lab.presets import build_preset
from cnnlab.lab.training import TrainingConfig

LINEAR = "Linear softmax (784→10)"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", "sample")


@pytest.fixture
def session(qtbot, mnist):
    s = Session()
    s.set_dataset(mnist)
    s.set_model(build_preset(LINEAR), "linear")
    yield s
    s.shutdown()


@pytest.fixture
def panel(qtbot, session):
    p = ExperimentsPanel(session)
    qtbot.addWidget(p)
    p.resize(1280, 760)
    return p


def _train(qtbot, session, **cfg):
    with qtbot.waitSignal(session.training_finished, timeout=20000):
        session.start_training(TrainingConfig(**{"epochs": 1, "lr": 0.01, **cfg}))


# ------------------------------------------------------------------ analysis

def test_analysis_confusion_matrix_and_cell_gallery(qtbot, panel, session, mnist):
    _train(qtbot, session)  # the sample is sorted by class: no subset
    view = panel.analysis
    with qtbot.waitSignal(view.computed, timeout=10000) as blocker:
        panel.show()  # showing the tab computes a stale analysis
    a = blocker.args[0]
    np.testing.assert_array_equal(a.confusion.sum(axis=1), np.bincount(mnist.y_test, minlength=10))
    np.testing.assert_array_equal(a.y_pred, session.model.predict(mnist.x_test))
    assert 0.5 < a.accuracy < 1.0  # trained, but makes mistakes to show
    # The cell texts are the counts; the gallery starts with every mistake.
    assert view.confusion.texts[3][3].toPlainText() == str(a.confusion[3, 3])
    assert view.gallery.count() == min(len(a.misclassified()), 200)
    # Click the biggest off-diagonal cell: the gallery shows exactly its images.
    off = a.confusion.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(off.argmax(), off.shape)
    with qtbot.waitSignal(view.gallery_changed, timeout=2000):
        qtbot.mouseClick(view.confusion.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.confusion.cell_center(int(t), int(p)).toPoint())
    shown = [view.gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(view.gallery.count())]
    assert len(shown) == a.confusion[t, p] > 0
    assert all(mnist.y_test[i] == t and a.y_pred[i] == p for i in shown)
    # The first image is selected and its probability bars are shown; pick another.
    view.gallery.setCurrentRow(len(shown) - 1)
    assert view.selected_image == shown[-1]
    np.testing.assert_allclose(view.probabilities.heights, a.proba[shown[-1]])
    # Row-normalized mode shows fractions that sum to 1 per row.
    view.mode.setCurrentIndex(1)
    row = [float(view.confusion.texts[int(t)][j].toPlainText()) for j in range(10)]
    assert sum(row) == pytest.approx(1.0, abs=0.06)
    # Per-class table: recall column equals the per-class accuracy.
    texts = {view.table.item(r, 0).text(): view.table.item(r, 3).text() for r in range(10)}
    assert texts[str(t)] == f"{100 * a.per_class[t]:.1f} %"


def test_analysis_per_class_loss_and_a_test_subset(qtbot, panel, session, mnist):
    view = panel.analysis
    assert all(note.isVisibleTo(view) for note in view.notes)  # empty views say what will come
    with qtbot.waitSignal(view.computed, timeout=10000) as blocker:
        panel.show()
    a = blocker.args[0]
    assert not any(note.isVisibleTo(view) for note in view.notes)
    loss = a.per_class_loss()
    texts = {view.table.item(r, 0).text(): view.table.item(r, 4).text() for r in range(10)}
    assert all(texts[str(k)] == f"{loss[k]:.3f}" for k in range(10))
    low, high = a.best_and_worst_loss()
    assert f"by loss lowest <b>{low}</b>" in view.summary.text()
    assert f"highest <b>{high}</b>" in view.summary.text()
    view.bars_of.setCurrentIndex(1)  # bars of the mean loss, lowest green
    np.testing.assert_allclose(view.per_class.heights, loss)
    assert "mean loss per class" in view.per_class.title.text()
    with qtbot.waitSignal(view.computed, timeout=10000) as blocker:
        view.test_subset.setCurrentText("200")  # a balanced 200 of the sorted sample's 1,000
    small = blocker.args[0]
    assert len(small.y_true) == 200 and small.support.min() >= 18
    shown = view.gallery_indices
    if len(shown):  # tooltips name the image's index in the whole test set
        i = int(shown[0])
        original = int(view._test_index[i])
        assert np.array_equal(mnist.x_test[original], view._x_test[i])
        assert f"#{original}:" in view.gallery.item(0).toolTip()


def test_analysis_refuses_a_model_that_does_not_fit(qtbot, panel, session):
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar")
    assert panel.analysis.recompute() is False
    assert "inputs" in panel.analysis.jobs.status.text()


# -------------------------------------------------------------------- sweeps

@pytest.fixture
def small_session(qtbot, mnist):
    """A 300-image stratified training set keeps every sweep cell to a few batches."""
    from dataclasses import replace

    from cnnlab.lab.sweeps import stratified_subset

    s = Session()
    tr, te = stratified_subset(mnist.y_train, 300, 0), stratified_subset(mnist.y_test, 200, 0)
    s.set_dataset(replace(mnist, name="MNIST tiny", x_train=mnist.x_train[tr],
                          y_train=mnist.y_train[tr], x_test=mnist.x_test[te], y_test=mnist.y_test[te]))
    s.set_model(build_preset(LINEAR), "linear")
    yield s
    s.shutdown()


def _sweep(qtbot, view, timeout=30000):
    with qtbot.waitSignal(view.sweep_done, timeout=timeout) as blocker:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def _numbers(rows):
    return [(r.a, r.b, r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in rows]


def test_sweep_rows_table_heatmap_reproducible_and_csv(qtbot, small_session, tmp_path):
    import csv

    panel = ExperimentsPanel(small_session)
    qtbot.addWidget(panel)
    view = panel.sweeps
    weights_before = small_session.model.get_weights()
    view.lr_values.setText("0.01, 0.1")
    view.b_values.setText("0, 0.01")
    view.subset.setValue(300)
    first = _sweep(qtbot, view)
    assert not first.stopped and len(first.rows) == 4 == view.table.rowCount()
    assert {(r.a, r.b) for r in first.rows} == {(0.01, 0.0), (0.01, 0.01), (0.1, 0.0), (0.1, 0.01)}
    assert all(0.0 <= r.val_acc <= 1.0 for r in first.rows)
    # The heatmap shows each cell's validation accuracy.
    r = next(r for r in first.rows if (r.a, r.b) == (0.1, 0.01))
    assert view.heatmap.texts[1][1].toPlainText() == f"{100 * r.val_acc:.1f} %"
    # …or its validation loss, and as lines against the learning rate, one per λ
    view.results.metric.setCurrentIndex(view.results.metric.findData("val_loss"))
    assert view.heatmap.texts[1][1].toPlainText() == f"{r.val_loss:.3f}"
    # the hidden line plot is drawn when its tab is opened, not after every cell
    plot = view.results.lines.getPlotItem()
    assert plot.listDataItems() == []
    view.results.tabs.setCurrentWidget(view.results.lines)
    assert len(plot.listDataItems()) == 2
    assert view.results.line_count() == 2
    ys = sorted(view.results.lines.getPlotItem().listDataItems()[1].getData()[1])
    assert ys == pytest.approx(sorted(x.val_loss for x in first.rows if x.b == 0.01))
    view.results.metric.setCurrentIndex(0)
    # Same seed, same numbers.
    second = _sweep(qtbot, view)
    assert _numbers(second.rows) == _numbers(first.rows)
    # The session's model was never trained.
    for key, w in small_session.model.get_weights().items():
        np.testing.assert_array_equal(w, weights_before[key])
    # Rows stay in grid order until a header is clicked…
    assert [(view.table.item(i, 0).value, view.table.item(i, 1).value) for i in range(4)] == \
        [(0.01, 0.0), (0.01, 0.01), (0.1, 0.0), (0.1, 0.01)]
    # …then the table sorts by value.
    view.table.sortItems(5, Qt.SortOrder.DescendingOrder)
    shown = [view.table.item(i, 5).value for i in range(4)]
    assert shown == sorted(shown, reverse=True)
    # CSV export.
    path = tmp_path / "sweep.csv"
    assert view.export_csv(path)
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and list(table[0])[:2] == ["lr", "l2"]
    assert float(table[0]["val_acc"]) == pytest.approx(second.rows[0].val_acc)


def test_sweep_batch_size_grid_and_bad_values(qtbot, small_session):
    panel = ExperimentsPanel(small_session)
    qtbot.addWidget(panel)
    view = panel.sweeps
    view.grid.setCurrentIndex(1)  # learning rate × batch size
    assert not view.form.batch_size.isEnabled() and view.form.l2.isEnabled()
    view.b_values.setText("32, abc")
    assert view.run_sweep() is False
    assert "'abc' is not a number" in view.jobs.status.text()
    view.b_values.setText("32, x64")  # the message follows the input…
    assert "'x64' is not a number" in view.jobs.status.text()
    view.b_values.setText("32, 64")  # …and goes with its cause
    assert view.jobs.status.text() == ""
    view.lr_values.setText("0.05")
    view.b_values.setText("100, 300")
    result = _sweep(qtbot, view)
    assert [(r.a, r.b, r.param_b) for r in result.rows] == [(0.05, 100, "batch_size"),
                                                           (0.05, 300, "batch_size")]


def test_exercise_grids_are_one_click_with_plain_sgd(qtbot, small_session):
    panel = ExperimentsPanel(small_session)
    qtbot.addWidget(panel)
    view = panel.sweeps
    assert view.table.horizontalHeaderItem(0).text() == "lr"  # named before any run
    assert view.results.notes[0].isVisibleTo(view)
    view.apply_preset(1)
    assert view.grid.currentIndex() == 0 and view.lr_values.text() == "0.1, 0.01, 0.001, 0.0001"
    assert view.b_values.text() == "0, 0.005, 0.01"
    settings = view.form.settings()
    assert settings.optimizer == "sgd" and settings.hyper["momentum"] == 0.0  # plain SGD
    view.apply_preset(2)
    assert view.grid.currentIndex() == 1 and view.b_values.text() == "16, 32, 64, 128"
    assert view.grid_values()[0][1] == [0.01, 0.001, 0.0001]


def test_cancel_stops_the_sweep_within_one_batch(qtbot, small_session):
    from cnnlab.app.jobs import JobProgress

    batches_after_cancel = []
    original = small_session.run_job

    def run_job(name, fn, *kind):  # count the batches the worker reports after Cancel
        def counted(ctx):
            report = ctx.report

            def counting_report(obj, force=False):
                if isinstance(obj, JobProgress) and ctx.should_stop():
                    batches_after_cancel.append(obj.text)
                report(obj, force)
            ctx.report = counting_report
            return fn(ctx)
        return original(name, counted, *kind)

    small_session.run_job = run_job
    panel = ExperimentsPanel(small_session)
    qtbot.addWidget(panel)
    view = panel.sweeps
    view.lr_values.setText("0.01, 0.02, 0.05")
    view.b_values.setText("0, 0.001, 0.01")
    view.form.batch_size.setValue(4)  # 60 batches per cell, 9 cells
    view.form.epochs.setValue(3)
    view.subset.setValue(300)
    with qtbot.waitSignal(view.sweep_done, timeout=30000) as blocker:
        assert view.run_sweep()
        qtbot.waitSignal(view.jobs.job.progress, timeout=10000).wait()
        qtbot.mouseClick(view.jobs.cancel_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.stopped and len(result.rows) < 9
    assert len(batches_after_cancel) <= 2, batches_after_cancel  # 2 cells train at once
    assert "cancelled" in view.jobs.status.text()
    assert view.run_button.isEnabled()


# ----------------------------------------------------------------- data size

def test_data_size_curve_and_baseline(qtbot, small_session):
    panel = ExperimentsPanel(small_session)
    qtbot.addWidget(panel)
    view = panel.data_size
    view.form.epochs.setValue(1)
    with qtbot.waitSignal(view.curve_done, timeout=60000) as blocker:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    curve, baseline = blocker.args[0]
    assert [p.fraction for p in curve.points] == [0.1, 0.2, 0.5, 1.0]
    assert [p.n for p in curve.points] == [30, 60, 150, 300]
    xs, ys = view.curve.getData()
    np.testing.assert_allclose(xs, [10, 20, 50, 100])
    np.testing.assert_allclose(ys, [100 * p.test_acc for p in curve.points])
    assert baseline is not None and 0.5 < baseline.test_acc <= 1.0
    assert view.baseline_line.isVisible() or not view.isVisible()
    assert view.baseline_line.value() == pytest.approx(100 * baseline.test_acc)
    assert view.table.rowCount() == 5
    assert view.table.item(4, 0).text().startswith("logistic regression")


def test_settings_round_trip(qtbot, session, tmp_path):
    from PyQt6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel = ExperimentsPanel(session)
    qtbot.addWidget(panel)
    panel.tabs.setCurrentIndex(2)
    panel.sweeps.grid.setCurrentIndex(1)
    panel.sweeps.lr_values.setText("0.2, 0.4")
    panel.sweeps.form.epochs.setValue(3)
    panel.data_size.fractions.setText("0.25, 1")
    panel.data_size.form.optimizer_fields.set_name("adam")
    panel.analysis.mode.setCurrentIndex(1)
    panel.save_settings(settings)
    other = ExperimentsPanel(session)
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.tabs.currentIndex() == 2
    assert other.sweeps.grid.currentIndex() == 1 and other.sweeps.lr_values.text() == "0.2, 0.4"
    assert other.sweeps.form.epochs.value() == 3 and not other.sweeps.form.batch_size.isEnabled()
    assert other.data_size.fractions.text() == "0.25, 1"
    assert other.data_size.form.optimizer_fields.name == "adam"
    assert other.analysis.mode.currentIndex() == 1


def test_parse_values():
    from cnnlab.app.panels.training_run_view import parse_values

    assert parse_values("0.001, 0.01 1e-1", "lr") == [0.001, 0.01, 0.1]
    assert parse_values("0; 0.5", "λ", positive=False) == [0.0, 0.5]
    assert parse_values("32,64", "batch", integer=True) == [32, 64]
    for text, kw, message in [("", {}, "at least one"), ("0", {}, "> 0"), ("-1", {"positive": False}, "≥ 0"),
                              ("2.5", {"integer": True}, "whole number"), ("1, 1", {}, "repeated"),
                              ("nan", {}, "> 0"), ("x", {}, "not a number")]:
        with pytest.raises(ValueError, match=message):
            parse_values(text, "values", **kw)


def test_heatmap_has_no_meaningless_numbers_before_data(qtbot):
    # Before the first analysis the confusion matrix showed axes "-400 … 400 (x0.001)".
    from cnnlab.app.panels.experiment_widgets import LabelledHeatmap

    heat = LabelledHeatmap("guessed", "true")
    qtbot.addWidget(heat)
    for side in ("bottom", "left"):
        axis = heat.plot.getAxis(side)
        assert axis._tickLevels == [[]]  # fixed, empty ticks: no numbers drawn
        assert not axis.autoSIPrefix
    heat.set_data(np.eye(2), ["a", "b"], ["c", "d"], [["1", "0"], ["0", "1"]])
    assert heat.plot.getAxis("bottom")._tickLevels == [[(0.5, "c"), (1.5, "d")]]


def test_progress_text_names_every_cell_training_at_once():
    from cnnlab.app.panels.training_run_view import report_progress
    from cnnlab.lab.sweeps import Progress

    class Ctx:
        def progress(self, done, total, text):
            self.seen = (done, total, text)

    ctx = Ctx()
    report_progress(ctx, Progress(2, 9, 1, 2, 14, 50, 0.25, (2,), 1), "cell")
    assert ctx.seen == (0.25, 1.0, "cell 2/9 · epoch 1/2 · batch 14/50")
    report_progress(ctx, Progress(4, 9, 1, 2, 3, 50, 0.4, (3, 4), 2), "cell", share=0.5)
    assert ctx.seen == (0.2, 1.0, "cells 3 and 4 of 9 training · 2 done")
    report_progress(ctx, Progress(5, 9, 1, 1, 3, 5, 0.5, (3, 4, 5), 2), "run")
    assert ctx.seen[2] == "runs 3, 4 and 5 of 9 training · 2 done"
