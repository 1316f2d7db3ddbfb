"""Kernel recovery: a fresh conv layer learns a target layer's kernels from its outputs
(``cnnlab.lab.recovery``), run as a cancellable session job with a live loss curve."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.jobs import JobKind
from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.image_views import restore_values, save_values
from cnnlab.app.panels.recovery_progress import RecoveryLossPlot, RecoveryProgress
from cnnlab.app.panels.recovery_settings import RecoveryLearningBox
from cnnlab.app.widgets import (
    ERROR_COLOR,
    TileGrid,
    big_label_font,
    scrollable,
)
from cnnlab.lab import recovery as R
from cnnlab.lab.filter_views import filter_strips
from cnnlab.lab.image_source import CifarImages

if TYPE_CHECKING:
    from cnnlab.app.session import Session

TINY = 1e-300  # a loss of exactly 0 still has a place on the log axis
#: Milliseconds between redraws of the curves and kernels while a run reports.
REDRAW_MS = 150


class KernelRecoveryView(QWidget):
    """Controls (target, images, optimizer, budget, Start/Cancel) on the left; the loss
    curve and the target / learned kernels side by side (one colour scale) on the right.

    ``result`` is the last :class:`cnnlab.lab.recovery.RecoveryResult` (also after
    Cancel), ``job`` the running job or None.
    """

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.images: CifarImages | None = None
        self.loaded_target: np.ndarray | None = None
        self.target: np.ndarray | None = None  # (F, 3, kh, kw) of the current/last run
        self.job = None
        # reports come ~20 per second; the plots and kernel tiles are redrawn at most every
        # REDRAW_MS from the latest one (a redraw of this view takes tens of ms)
        self._latest: R.RecoveryReport | None = None
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._draw_latest)
        self.result = None
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.errors: list[float] = []
        layout = QHBoxLayout(self)
        layout.addWidget(scrollable(self._build_controls()))  # short windows scroll, never squeeze
        layout.addWidget(self._build_plots(), 1)
        self._show_target_preview()

    # ------------------------------------------------------------ building
    def _build_controls(self) -> QWidget:
        box = QWidget()
        box.setFixedWidth(350)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        col.addWidget(self.intro)

        target_group = QGroupBox("Target C0")
        tform = QFormLayout(target_group)
        self.random_radio = QRadioButton("random: 20 filters 5×5×3, uniform[−1, 1]")
        self.file_radio = QRadioButton("from a .npy file (F, 3, kh, kw)")
        self.random_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.random_radio)
        group.addButton(self.file_radio)
        self.random_radio.toggled.connect(self._show_target_preview)
        tform.addRow(self.random_radio)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("seeds the random target and C's uniform start")
        self.seed_spin.valueChanged.connect(self._show_target_preview)
        tform.addRow("seed", self.seed_spin)
        tform.addRow(self.file_radio)
        file_row = QHBoxLayout()
        self.load_button = QPushButton("Load .npy…")
        self.load_button.clicked.connect(self._ask_load_target)
        self.file_label = QLabel("no file loaded")
        self.file_label.setWordWrap(True)
        file_row.addWidget(self.load_button)
        file_row.addWidget(self.file_label, 1)
        tform.addRow(file_row)
        col.addWidget(target_group)

        self.learning = RecoveryLearningBox()
        lb = self.learning
        # the box's widgets, under the names the tests and the window use
        self.images_spin, self.images_label = lb.images_spin, lb.images_label
        self.optimizer_combo, self.lr_spin = lb.optimizer_combo, lb.lr_spin
        self.steps_spin, self.tolerance_spin = lb.steps_spin, lb.tolerance_spin
        lb.changed.connect(self._update_intro)
        col.addWidget(lb)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        col.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress_steps = RecoveryProgress(self.progress)
        col.addWidget(self.progress)
        self.result_label = QLabel("max |C − C0| = —")
        self.result_label.setFont(big_label_font(15))
        self.result_label.setWordWrap(True)
        col.addWidget(self.result_label)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        col.addWidget(self.status_label)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {ERROR_COLOR.name()}")
        col.addWidget(self.message)
        col.addStretch(1)
        self._update_intro()
        return box

    def _update_intro(self) -> None:
        self.intro.setText(
            f"A target conv layer C0 filters CIFAR-10 photos. A fresh conv C, started from "
            f"{self.learning.start_text()}, sees only the photos and C0's outputs and learns "
            "C0's kernels with the L2 loss ‖C(x) − C0(x)‖².")

    def _build_plots(self) -> QWidget:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        self.plot = RecoveryLossPlot()
        self.loss_curve, self.error_curve = self.plot.loss_curve, self.plot.error_curve
        self.tolerance_line = self.plot.tolerance_line
        self.plot_note = EmptyNote(self.plot, "Press Start: the loss and max |C − C0| appear "
                                              "here step by step, on a log scale")
        col.addWidget(self.plot, 2)
        grids = QHBoxLayout()
        self.target_grid = TileGrid("target C0")
        self.learned_grid = TileGrid("learned C")
        grids.addWidget(self.target_grid)
        grids.addWidget(self.learned_grid)
        col.addLayout(grids, 3)
        self.grid_note = QLabel("each block: one filter's R, G, B kernels side by side; "
                                "both grids share one colour scale")
        self.grid_note.setStyleSheet("color: grey")
        col.addWidget(self.grid_note)
        return box

    # ------------------------------------------------------------- inputs
    def set_images(self, images: CifarImages) -> None:
        self.images = images
        self.learning.set_available(len(images.x))

    def current_target(self) -> np.ndarray:
        """The target C0 the next run uses: float64 ``(F, 3, kh, kw)``."""
        if self.file_radio.isChecked():
            if self.loaded_target is None:
                raise ValueError("load a .npy file of target kernels first (or pick random)")
            return self.loaded_target
        return R.random_target_kernels(20, 3, 5, seed=self.seed_spin.value())

    def _ask_load_target(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Target kernels", "",
                                              "NumPy arrays (*.npy);;All files (*)")
        if path:
            self.load_target(path)

    def load_target(self, path: str) -> bool:
        """Read target kernels from ``path``; a bad file leaves the target as it was and
        says what is wrong. Returns whether it worked."""
        try:
            target = R.load_target_kernels(path, in_channels=3)
        except (OSError, ValueError) as exc:
            self.message.setText(f"Could not use that file: {exc}")
            return False
        self.loaded_target = target
        f, c, kh, kw = target.shape
        self.file_label.setText(f"{path.rsplit('/', 1)[-1]}: {f} filters {kh}×{kw}×{c}")
        self.message.setText("")
        self.file_radio.setChecked(True)
        self._show_target_preview()
        return True

    def _show_target_preview(self) -> None:
        """Show the target a run would use (nothing learned yet)."""
        if self.job is not None:
            return
        try:
            target = self.current_target()
        except ValueError:
            return
        self.target = target
        self._show_kernels(target, None, "")

    # ---------------------------------------------------------------- running
    def start(self) -> None:
        if self.job is not None:
            return
        try:
            if self.images is None:
                raise ValueError("no photos loaded")
            target = self.current_target()
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        x = self.images.x[: self.images_spin.value()].copy()  # (N, 3, 32, 32) uint8
        kwargs = dict(self.learning.kwargs(len(x)), seed=self.seed_spin.value())

        def run(ctx):
            return R.recover_kernels(x, target, on_step=ctx.report, should_stop=ctx.should_stop,
                                     **kwargs)

        self.target, self.result = target, None
        self.steps, self.losses, self.errors = [], [], []
        self.plot_note.set_empty(False)
        self._show_kernels(target, None, "")
        self.tolerance_line.setValue(math.log10(kwargs["tolerance"]))
        self.progress_steps.start(kwargs["max_steps"], kwargs["tolerance"])
        self.message.setText("")
        self.status_label.setText(f"learning from {len(x)} photos …")
        self.result_label.setText("max |C − C0| = …")
        self.job = self.session.run_job("kernel recovery", run, JobKind.RECOVERY)
        self.job.progress.connect(self._on_step)
        self.job.finished.connect(self._on_finished)
        self.job.cancelled.connect(self._on_finished)
        self.job.failed.connect(self._on_failed)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText("stopping …")

    def _on_step(self, report: R.RecoveryReport) -> None:
        self.steps.append(report.step)
        self.losses.append(max(report.loss, TINY))
        self.errors.append(max(report.max_abs_error, TINY))
        self.progress_steps.step(self.job, report.step, report.max_abs_error)
        if report.weights is not None or self._latest is None:
            self._latest = report
        if not self._redraw.isActive():
            self._redraw.start()

    def _draw_latest(self) -> None:
        report, self._latest = self._latest, None
        self.loss_curve.setData(self.steps, self.losses)
        self.error_curve.setData(self.steps, self.errors)
        if report is None:
            return
        self.result_label.setText(f"max |C − C0| = {report.max_abs_error:.3g}")
        if report.weights is not None:
            self._show_kernels(self.target, report.weights, f"step {report.step}")

    def _on_finished(self, result) -> None:
        self._redraw.stop()
        self._latest = None
        self._end_job()
        if result is None:  # cancelled before the first step
            self.progress_steps.finish(0, False, True)
            self.status_label.setText("cancelled")
            return
        self.result = result
        steps = np.arange(len(result.losses))
        self.loss_curve.setData(steps, np.maximum(result.losses, TINY))  # every step
        self.error_curve.setData(steps, np.maximum(result.errors, TINY))
        self._show_kernels(result.target, result.weights, f"step {result.steps}")
        self.progress_steps.finish(result.steps, result.converged, result.stopped)
        self.result_label.setText(f"max |C − C0| = {result.max_abs_error:.3g}")
        how = ("recovered: every weight within the tolerance" if result.converged
               else "stopped by Cancel" if result.stopped else "step budget used up")
        self.status_label.setText(f"{how} after {result.steps:,} steps "
                                  f"(final loss {result.loss:.3g})")

    def _on_failed(self, message: str) -> None:
        self._end_job()
        self.status_label.setText("")
        self.message.setText(f"Kernel recovery failed: {message}")

    def _end_job(self) -> None:
        self.job = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _show_kernels(self, target: np.ndarray, learned: np.ndarray | None, when: str) -> None:
        """Target and learned kernels, one strip of R, G, B kernels per filter, both on
        the target's colour scale."""
        t = filter_strips(target)
        self.target_grid.set_tiles(t.tiles, levels=t.levels, columns=t.columns)
        self.target_grid.set_title(f"target C0 · {len(target)} filters")
        if learned is None:
            self.learned_grid.clear()
            self.learned_grid.set_title("learned C (press Start)")
            return
        lt = filter_strips(learned, scale=t.levels[1])
        self.learned_grid.set_tiles(lt.tiles, levels=t.levels, columns=t.columns)
        self.learned_grid.set_title(f"learned C · {when}")

    # -------------------------------------------------------------- settings
    def save_settings(self, settings: QSettings, prefix: str) -> None:
        save_values(settings, prefix, {"seed": self.seed_spin})
        self.learning.save(settings, prefix)

    def restore_settings(self, settings: QSettings, prefix: str) -> None:
        self.learning.restore(settings, prefix)
        restore_values(settings, prefix, {"seed": self.seed_spin})
