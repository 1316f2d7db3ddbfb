"""Experiments → Data size: test accuracy of the current architecture trained on 10 %,
20 %, 50 % and 100 % of the training data, beside a logistic-regression baseline."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.jobs import JobKind
from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.experiment_widgets import NumericItem, percent
from cnnlab.app.panels.training_run_view import (
    TrainingRunView,
    TrainSettingsForm,
    group,
    parse_values,
    report_progress,
)
from cnnlab.app.widgets import TRAIN_COLOR, VAL_COLOR, format_count, format_duration
from cnnlab.engine.model import Sequential
from cnnlab.lab.baseline import BaselineResult, logistic_baseline
from cnnlab.lab.sweeps import DataSizePoint, DataSizeResult, data_size_curve

if TYPE_CHECKING:
    from cnnlab.app.session import Session

#: The baseline uses full batches up to this many images, mini-batches of 1,024 beyond
#: (a full batch of 60,000 MNIST images would be a 190 MB float copy per step).
FULL_BATCH_LIMIT = 8192
#: Share of the progress bar given to the CNN runs; the baseline gets the rest.
CURVE_SHARE = 0.8
#: The baseline's stopping rule (``logistic_baseline``): relative loss change per epoch
#: below BASELINE_TOL, averaged over BASELINE_WINDOW epochs, or BASELINE_MAX_EPOCHS.
BASELINE_TOL, BASELINE_WINDOW, BASELINE_MAX_EPOCHS = 1e-4, 5, 500


def baseline_fraction(losses: list[float], tol: float = BASELINE_TOL,
                      window: int = BASELINE_WINDOW, max_epochs: int = BASELINE_MAX_EPOCHS) -> float:
    """How far the baseline is towards its stop, 0…1: the larger of the epochs used and
    how far the loss's relative change per epoch has fallen from its first value towards
    ``tol``, on a log scale (it falls roughly geometrically)."""
    by_epochs = len(losses) / max_epochs
    changes = [abs(losses[i - window] - losses[i]) / (window * max(abs(losses[i - window]), 1e-12))
               for i in range(window, len(losses))]
    if not changes:
        return min(by_epochs, 1.0)
    first, now = max(changes[0], tol), max(changes[-1], tol)
    by_change = math.log(first / now) / math.log(first / tol) if first > tol else 1.0
    return min(max(by_epochs, by_change), 1.0)


def run_baseline(ctx, x, y, x_test, y_test, n_classes: int, l2: float, seed: int,
                 share: float) -> BaselineResult:
    """The logistic-regression baseline as the last ``1 - share`` of a job's progress bar,
    with an ETA from its own pace (its epochs take a different time than the CNN's)."""
    ctx.progress(share, 1.0, "baseline: starting")
    losses: list[float] = []
    start = time.perf_counter()

    def on_epoch(report) -> None:
        losses.append(report.train_loss)
        f = baseline_fraction(losses)
        elapsed = time.perf_counter() - start
        eta = elapsed * (1 - f) / f if f > 0.02 else None
        ctx.progress(share + (1 - share) * f, 1.0,
                     f"baseline: epoch {report.epoch}, loss {report.train_loss:.4f}", eta)

    return logistic_baseline(x, y, x_test, y_test, n_classes=n_classes, l2=l2, seed=seed,
                             batch_size=None if len(y) <= FULL_BATCH_LIMIT else 1024,
                             tol=BASELINE_TOL, window=BASELINE_WINDOW,
                             max_epochs=BASELINE_MAX_EPOCHS, on_epoch=on_epoch,
                             should_stop=ctx.should_stop)


class DataSizeView(TrainingRunView):
    """Runs the data-size curve and the baseline in one job; plots and tabulates them."""

    point_added = pyqtSignal(object)  # DataSizePoint
    curve_done = pyqtSignal(object)  # (DataSizeResult, BaselineResult | None)
    title = "the data-size run"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(session, parent)
        self.points: list[DataSizePoint] = []
        self.baseline: BaselineResult | None = None
        self._n_train = 0

        self.fractions = QLineEdit("0.1, 0.2, 0.5, 1")
        self.fractions.setToolTip("fractions of the training set, each in (0, 1]; every class "
                                  "keeps its share, and smaller sets are part of larger ones")
        self.form = TrainSettingsForm(epochs=2, validation=False)
        self.with_baseline = QCheckBox("train the logistic-regression baseline")
        self.with_baseline.setChecked(True)
        self.with_baseline.setToolTip("multinomial logistic regression (the linear softmax "
                                      "preset) on all training images, Adam until the loss "
                                      "settles")
        self.baseline_l2 = QDoubleSpinBox()
        self.baseline_l2.setDecimals(5)
        self.baseline_l2.setRange(0.0, 1.0)
        self.baseline_l2.setSingleStep(1e-4)
        self.baseline_l2.setValue(1e-3)
        self.run_button.setToolTip("train a fresh copy of the Model tab's network per fraction")
        self.note = QLabel("Every run uses the same epochs, so a smaller set also means fewer "
                           "steps. Test accuracy is measured on the whole test set.")
        self.note.setWordWrap(True)

        self.plot_widget = pg.PlotWidget(background="w")
        plot = self.plot = self.plot_widget.getPlotItem()
        plot.setLabel("bottom", "training data used (%)")
        plot.setLabel("left", "test accuracy (%)")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.addLegend(offset=(-10, -10))
        self.curve = plot.plot([], [], pen=pg.mkPen(TRAIN_COLOR, width=2.5), symbol="o",
                               symbolBrush=TRAIN_COLOR, symbolPen="w", symbolSize=10,
                               name="the Model tab's network")
        self.baseline_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(VAL_COLOR, width=2,
                                                                   style=Qt.PenStyle.DashLine))
        self.baseline_line.hide()
        plot.addItem(self.baseline_line)
        self.baseline_label = pg.TextItem("", color=VAL_COLOR.darker(120), anchor=(0, 1))
        plot.addItem(self.baseline_label)
        self.point_labels: list[pg.TextItem] = []
        # A legend entry for the dashed line (InfiniteLine has none of its own).
        plot.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(VAL_COLOR, width=2,
                                                         style=Qt.PenStyle.DashLine)),
                            "logistic regression (all data)")

        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            ["model", "training images", "test accuracy", "test loss", "train accuracy", "seconds"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)

        self.plot_note = EmptyNote(self.plot_widget, (
            "Press Run: the network is trained once per fraction of the training data, and its "
            "test accuracy appears here point by point, with the baseline as a dashed line."))
        self.table_note = EmptyNote(self.table, "one row per run appears here")

        self._build_layout()
        self._redraw()
        self.run_button.clicked.connect(self.run_curve)
        self.with_baseline.toggled.connect(self.baseline_l2.setEnabled)
        self.watch_inputs(self.fractions)

    def _build_layout(self) -> None:
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(self.plot_widget)
        results.addWidget(self.table)
        results.setSizes([480, 180])
        self.arrange([group("data", ("fractions", self.fractions)), group("every run", self.form),
                      group("baseline", self.with_baseline, ("L2 λ", self.baseline_l2)),
                      self.run_button, self.note], results)

    # ------------------------------------------------------------------ running
    def _fractions(self) -> list[float]:
        fractions = parse_values(self.fractions.text(), "fractions")
        if any(f > 1 for f in fractions):
            raise ValueError("fractions: each must be at most 1 (all the training data)")
        return fractions

    def run_curve(self) -> bool:
        """Start the curve (and baseline) in a job; False with the reason shown if not."""
        inputs = self.read_inputs(lambda: (self._fractions(), self.form.settings()))
        if inputs is None:
            return False
        fractions, settings = inputs
        s = self.session
        cfg = s.model.get_config()  # the architecture; weights are drawn per run
        ds = s.dataset
        baseline_l2 = self.baseline_l2.value() if self.with_baseline.isChecked() else None
        # The session's read-only arrays: the subsets are drawn in the job, not copied here.
        x, y, x_test, y_test, k = ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.n_classes
        share = CURVE_SHARE if baseline_l2 is not None else 1.0

        def run(ctx):
            curve = data_size_curve(lambda: Sequential.from_config(cfg), x, y, x_test, y_test,
                                    fractions, settings=settings,
                                    on_point=lambda pt: ctx.report(pt, force=True),
                                    on_progress=lambda p: report_progress(ctx, p, "run", share),
                                    should_stop=ctx.should_stop)
            if curve.stopped or baseline_l2 is None:
                return curve, None
            return curve, run_baseline(ctx, x, y, x_test, y_test, k, baseline_l2, settings.seed,
                                       share)

        self.points, self.baseline = [], None
        self._n_train = len(y)
        self._redraw()
        epochs = f"{settings.epochs} epoch{'s' * (settings.epochs > 1)}"
        self.start("data size", run, f"training {s.model_name} on {len(fractions)} fractions of "
                                     f"{len(y):,} images, {epochs} each…", JobKind.DATA_SIZE)
        return True

    def _on_report(self, report) -> None:
        if isinstance(report, DataSizePoint):
            self.points.append(report)
            self._redraw()
            self.point_added.emit(report)

    def _on_finished(self, result) -> None:
        curve, baseline = result if result is not None else (None, None)
        if curve is not None:
            self.points = list(curve.points)
        self.baseline = baseline if baseline is not None and not baseline.stopped else None
        self._redraw()
        stopped = curve is None or curve.stopped or (baseline is not None and baseline.stopped)
        seconds = sum(p.seconds for p in self.points)
        text = f"{len(self.points)} runs, {format_duration(seconds)} of training"  # runs overlap
        if self.points:
            last = self.points[-1]
            text += f" · {format_count(last.n)} images → {percent(last.test_acc)}"
        if self.baseline is not None:
            b = self.baseline
            text += (f" · logistic regression {percent(b.test_acc)} after {b.epochs} epochs"
                     f"{'' if b.converged else ' (not yet converged)'}")
        self.jobs.set_status(("cancelled: " if stopped else "") + text)
        self.curve_done.emit((curve or DataSizeResult(tuple(self.points), True), self.baseline))

    # ---------------------------------------------------------------- rendering
    def _redraw(self) -> None:
        pts = self.points
        xs = np.array([100 * p.fraction for p in pts])
        ys = np.array([100 * p.test_acc for p in pts])
        self.curve.setData(xs, ys)
        while len(self.point_labels) < len(pts):
            label = pg.TextItem("", color=TRAIN_COLOR.darker(130), anchor=(0.5, 1.3))
            self.plot.addItem(label)
            self.point_labels.append(label)
        for i, label in enumerate(self.point_labels):
            if i < len(pts):
                label.setText(f"{ys[i]:.1f} %")
                label.setPos(xs[i], ys[i])
                label.show()
            else:
                label.hide()
        b = self.baseline
        if b is not None:
            self.baseline_line.setValue(100 * b.test_acc)
            self.baseline_line.show()
            self.baseline_label.setText(f"logistic regression: {100 * b.test_acc:.1f} %")
            self.baseline_label.setPos(0, 100 * b.test_acc)
            self.baseline_label.show()
        else:
            self.baseline_line.hide()
            self.baseline_label.hide()
        self.plot.getAxis("bottom").setTicks([[(x, f"{x:g}") for x in xs]] if len(xs) else None)
        values = list(ys) + ([100 * b.test_acc] if b is not None else [])
        if values:
            lo, hi = min(values), max(values)
            self.plot.setYRange(max(0.0, lo - 8), min(100.0, hi + 5), padding=0)
        else:  # the axes the results will use, not pyqtgraph's "-400 … 400 (x0.001)"
            self.plot.setYRange(0, 100, padding=0)
        self.plot.setXRange(0, 105, padding=0)
        self.plot_note.set_empty(not values)
        self.table_note.set_empty(not values)
        self._fill_table()

    def _fill_table(self) -> None:
        rows = [(f"network, {100 * p.fraction:g} %", p.n, p.test_acc, p.test_loss, p.train_acc,
                 p.seconds) for p in self.points]
        if self.baseline is not None:
            b = self.baseline
            rows.append((f"logistic regression ({b.epochs} epochs)", self._n_train, b.test_acc,
                         b.test_loss, b.train_acc, float("nan")))
        self.table.setRowCount(len(rows))
        for i, (name, n, acc, loss, train_acc, seconds) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(name))
            self.table.setItem(i, 1, NumericItem(n, format_count(n)))
            self.table.setItem(i, 2, NumericItem(acc, percent(acc)))
            self.table.setItem(i, 3, NumericItem(loss, f"{loss:.4f}"))
            self.table.setItem(i, 4, NumericItem(train_acc, percent(train_acc)))
            self.table.setItem(i, 5, NumericItem(seconds, "—" if math.isnan(seconds) else f"{seconds:.1f}"))

    # ---------------------------------------------------------------- settings
    def save_settings(self, settings) -> None:
        settings.setValue("experiments/size_fractions", self.fractions.text())
        settings.setValue("experiments/size_baseline", int(self.with_baseline.isChecked()))
        settings.setValue("experiments/size_baseline_l2", self.baseline_l2.value())
        self.form.save(settings, "experiments/size")

    def restore_settings(self, settings) -> None:
        text = stored.read(settings, "experiments/size_fractions", "", "str", max_len=200)
        if text.strip():
            self.fractions.setText(text)
        self.with_baseline.setChecked(stored.read(settings, "experiments/size_baseline",
                                                  self.with_baseline.isChecked(), "bool"))
        stored.read_spin(settings, "experiments/size_baseline_l2", self.baseline_l2)
        self.form.restore(settings, "experiments/size")
