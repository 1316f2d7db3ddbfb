"""Experiments → Sweeps: train the current architecture once per cell of a grid over two
hyper-parameters and compare the cells in a sortable table and a heatmap."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.jobs import JobKind
from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.experiment_widgets import NumericItem, percent
from cnnlab.app.panels.sweep_results import SweepResults
from cnnlab.app.panels.training_run_view import (
    TrainingRunView,
    TrainSettingsForm,
    group,
    parse_values,
    report_progress,
)
from cnnlab.app.widgets import format_duration
from cnnlab.engine.model import Sequential
from cnnlab.lab.sweep_views import EXERCISE_GRIDS
from cnnlab.lab.sweeps import SweepResult, SweepRow, grid_sweep, rows_to_csv, stratified_subset

if TYPE_CHECKING:
    from cnnlab.app.session import Session

#: (label, second parameter, its default values, integer?, zero allowed?)
GRIDS = [
    ("learning rate × L2 λ", "l2", "0, 0.001, 0.01", False, True),
    ("learning rate × batch size", "batch_size", "16, 64, 256", True, False),
]
PARAM_TITLES = {"lr": "learning rate", "l2": "L2 λ", "batch_size": "batch size"}
PARAM_SHORT = {"lr": "lr", "l2": "L2 λ", "batch_size": "batch"}  # table headers
# table headers, on two lines so the seven columns fit at 1024 px
COLUMNS = ["a", "b", "train\nloss", "train\nacc", "val\nloss", "val\nacc", "seconds"]


class SweepsView(TrainingRunView):
    """Grid over (learning rate × λ) or (learning rate × batch size): table + heatmap."""

    row_added = pyqtSignal(object)  # SweepRow
    sweep_done = pyqtSignal(object)  # SweepResult (also after a cancel: stopped=True)
    title = "the sweep"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(session, parent)
        self.rows: list[SweepRow] = []
        self.params: tuple[str, str] = ("lr", "l2")
        self.values: tuple[list, list] = ([], [])

        self.grid = QComboBox()
        self.grid.addItems([g[0] for g in GRIDS])
        self.lr_values = QLineEdit("0.003, 0.01, 0.03, 0.1")
        self.lr_values.setToolTip("learning rates to try, separated by commas")
        self.b_values = QLineEdit(GRIDS[0][2])
        self.b_label = QLabel("L2 λ values")
        self.subset = QSpinBox()
        self.subset.setRange(10, 10_000_000)
        self.subset.setValue(1000)
        self.subset.setSingleStep(500)
        self.subset.setToolTip("training images per cell (a stratified sample, drawn by the seed)")
        self.form = TrainSettingsForm(epochs=1)
        self.run_button.setText("Run sweep")
        self.run_button.setToolTip("train a fresh copy of the Model tab's network per cell; "
                                   "the session's model is not touched")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        self.summary = QLabel("the grid trains one network per cell with the same seed, "
                              "epochs and data")
        self.summary.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSortingEnabled(True)
        # grid order until a header is clicked (Qt's default indicator sorts column 0 descending)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.results = SweepResults(PARAM_TITLES)
        self.heatmap = self.results.heatmap
        self.table_note = EmptyNote(self.table, "Press Run sweep: one row per cell of the grid "
                                                "appears here as it finishes; click a header to sort.")
        self.preset = QComboBox()
        self.preset.addItem("choose an exercise grid…")
        for p in EXERCISE_GRIDS:
            self.preset.addItem(p.label)
        self.preset.setToolTip("the exercises' grids in one click (trained with plain SGD)")
        self.preset.activated.connect(self.apply_preset)

        self._build_layout()
        self._on_grid(0)
        self.grid.currentIndexChanged.connect(self._on_grid)
        self.run_button.clicked.connect(self.run_sweep)
        self.export_button.clicked.connect(self._ask_export)
        self.watch_inputs(self.lr_values, self.b_values, self.grid)

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.export_button)
        results = QSplitter(Qt.Orientation.Horizontal)
        results.addWidget(self.table)
        results.addWidget(self.results)
        results.setSizes([520, 400])
        self.arrange([group("grid", ("preset", self.preset), ("sweep", self.grid),
                            ("learning rates", self.lr_values),
                            (self.b_label, self.b_values), ("training images", self.subset)),
                      group("every cell", self.form), buttons, self.summary], results)

    def _on_grid(self, index: int) -> None:
        _label, name, default, _int, _zero = GRIDS[index]
        self.b_label.setText(f"{PARAM_TITLES[name]} values")
        self.b_values.setText(default)
        self.form.set_swept({"lr", name})
        if not self.rows:  # name the columns before the first run, not "1 … 7"
            self.table.setHorizontalHeaderLabels([PARAM_SHORT["lr"], PARAM_SHORT[name]] + COLUMNS[2:])

    def _update_notes(self) -> None:
        self.table_note.set_empty(not self.rows)

    def apply_preset(self, index: int) -> None:
        """Set the grid, its values and plain SGD from ``EXERCISE_GRIDS[index - 1]``."""
        if index < 1:
            return
        p = EXERCISE_GRIDS[index - 1]
        self.grid.setCurrentIndex([g[1] for g in GRIDS].index(p.param_b))
        self.lr_values.setText(", ".join(f"{v:g}" for v in p.lrs))
        self.b_values.setText(", ".join(f"{v:g}" for v in p.values_b))
        self.form.optimizer_fields.set_name("sgd")
        for name, value in p.hyper:
            self.form.optimizer_fields.boxes["sgd", name].setValue(value)
        self.preset.setCurrentIndex(0)

    # ------------------------------------------------------------------ running
    def grid_values(self) -> tuple[tuple[str, list], tuple[str, list]]:
        """The two swept parameters as ``(name, values)``; raises ValueError for bad text."""
        _label, name, _default, integer, zero_ok = GRIDS[self.grid.currentIndex()]
        lrs = parse_values(self.lr_values.text(), "learning rates")
        bs = parse_values(self.b_values.text(), f"{PARAM_TITLES[name]} values", integer=integer,
                          positive=not zero_ok)
        return ("lr", lrs), (name, bs)

    def run_sweep(self) -> bool:
        """Start the sweep in a job; False (with the reason shown) when it cannot start."""
        inputs = self.read_inputs(lambda: (*self.grid_values(), self.form.settings()))
        if inputs is None:
            return False
        param_a, param_b, settings = inputs
        s = self.session
        cfg = s.model.get_config()  # the architecture only; weights are drawn per cell
        ds = s.dataset
        # The job draws the subset: nothing proportional to the dataset on the GUI thread.
        x_all, y_all, wanted = ds.x_train, ds.y_train, self.subset.value()
        n_images = min(wanted, len(y_all))

        def run(ctx) -> SweepResult:
            ctx.progress(0, 1, "drawing the training images…")
            x, y = training_subset(x_all, y_all, wanted, settings.seed)
            return grid_sweep(lambda: Sequential.from_config(cfg), x, y, param_a, param_b,
                              settings=settings, on_row=lambda r: ctx.report(r, force=True),
                              on_progress=lambda p: report_progress(ctx, p, "cell"),
                              should_stop=ctx.should_stop)

        self.params = (param_a[0], param_b[0])
        self.values = (param_a[1], param_b[1])
        self.rows = []
        self._reset_results()
        cells = len(param_a[1]) * len(param_b[1])
        self.export_button.setEnabled(False)
        self.start("sweep", run, f"training {cells} networks ({s.model_name}) on {n_images:,} "
                                 f"images, {settings.epochs} epoch{'s' * (settings.epochs > 1)} each…",
                   JobKind.SWEEP)
        return True

    def _on_report(self, report) -> None:
        if isinstance(report, SweepRow):
            self.rows.append(report)
            self._add_table_row(report)
            self._update_heatmap()
            self._update_notes()
            self.row_added.emit(report)

    def _on_finished(self, result: SweepResult | None) -> None:
        if result is not None and len(result.rows) >= len(self.rows):
            if list(result.rows) != self.rows:  # the result is authoritative
                self.rows = list(result.rows)
                self._reset_results()
                for row in self.rows:
                    self._add_table_row(row)
                self._update_heatmap()
        self.export_button.setEnabled(bool(self.rows))
        cells = len(self.values[0]) * len(self.values[1])
        seconds = sum(r.seconds for r in self.rows)
        text = (f"{len(self.rows)} of {cells} cells, {format_duration(seconds)} of training"
                if result is None or result.stopped else
                f"{cells} cells, {format_duration(seconds)} of training")  # cells overlap
        if result is None or result.stopped:
            text = "cancelled: " + text
        best = self.best_row()
        if best is not None:
            a, b = (PARAM_TITLES[p] for p in self.params)
            text += (f" · best validation accuracy {percent(best.val_acc)} at {a} {best.a:g}, "
                     f"{b} {best.b:g}")
        diverged = sum(r.diverged for r in self.rows)
        if diverged:
            text += f" · {diverged} diverged (loss became NaN/Inf)"
        self.jobs.set_status(text)
        self.sweep_done.emit(result if result is not None else SweepResult(tuple(self.rows), True))

    def _on_failed(self, message: str) -> None:
        super()._on_failed(message)
        self.export_button.setEnabled(bool(self.rows))

    def best_row(self) -> SweepRow | None:
        scored = [r for r in self.rows if r.val_acc is not None and math.isfinite(r.val_acc)]
        return max(scored, key=lambda r: r.val_acc) if scored else None

    # ---------------------------------------------------------------- rendering
    def _reset_results(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        self.table.setHorizontalHeaderLabels([PARAM_SHORT[p] for p in self.params] + COLUMNS[2:])
        self.table.setSortingEnabled(True)
        self._update_heatmap()
        self._update_notes()

    def _add_table_row(self, r: SweepRow) -> None:
        self.table.setSortingEnabled(False)  # rows must not move while they are filled
        i = self.table.rowCount()
        self.table.insertRow(i)
        cells = [NumericItem(r.a, f"{r.a:g}"), NumericItem(r.b, f"{r.b:g}"),
                 _loss_item(r.train_loss, r.diverged), NumericItem(r.train_acc, percent(r.train_acc)),
                 _loss_item(r.val_loss, r.diverged),
                 NumericItem(_nan(r.val_acc), percent(_nan(r.val_acc))),
                 NumericItem(r.seconds, f"{r.seconds:.1f}")]
        for j, item in enumerate(cells):
            self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)

    def _update_heatmap(self) -> None:
        self.results.show_rows(self.rows, self.params, self.values)

    # ------------------------------------------------------------------ export
    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export sweep", str(Path.home() / "sweep.csv"),
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path) -> bool:
        """Write the rows (atomic); errors go to the status line. Returns success."""
        if not self.rows:
            self.jobs.set_status("nothing to export yet: run a sweep first", error=True)
            return False
        try:
            rows_to_csv(self.rows, path)
        except OSError as exc:
            self.jobs.set_status(f"could not write {path}: {exc}", error=True)
            return False
        self.jobs.set_status(f"saved {len(self.rows)} rows to {path}")
        return True

    # ---------------------------------------------------------------- settings
    def save_settings(self, settings) -> None:
        settings.setValue("experiments/sweep_grid", self.grid.currentIndex())
        settings.setValue("experiments/sweep_lr", self.lr_values.text())
        settings.setValue("experiments/sweep_b", self.b_values.text())
        settings.setValue("experiments/sweep_subset", self.subset.value())
        self.form.save(settings, "experiments/sweep")

    def restore_settings(self, settings) -> None:
        self.grid.setCurrentIndex(stored.read(settings, "experiments/sweep_grid", 0, "int",
                                              lo=0, hi=self.grid.count() - 1))
        stored.read_spin(settings, "experiments/sweep_subset", self.subset)
        for key, edit in (("sweep_lr", self.lr_values), ("sweep_b", self.b_values)):
            text = stored.read(settings, f"experiments/{key}", "", "str", max_len=200)
            if text.strip():
                edit.setText(text)
        self.form.restore(settings, "experiments/sweep")
        self.form.set_swept({"lr", GRIDS[self.grid.currentIndex()][1]})


def training_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int):
    """About ``n`` stratified training images drawn by ``seed`` (run it in the job): the
    dataset's own read-only arrays when ``n`` covers them all (no copy), else a copy of
    just the subset, which lives as long as the job."""
    if n >= len(y):
        return x, y
    idx = stratified_subset(y, n, seed)
    return x[idx], y[idx]


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _loss_item(v: float | None, diverged: bool) -> NumericItem:
    v = _nan(v)
    return NumericItem(v, "diverged" if diverged else ("—" if math.isnan(v) else f"{v:.4f}"))
