"""The Train tab: training controls, live plots, progress and the epoch log.

Left: the dataset and every ``TrainingConfig`` field, and Start / Pause / Stop. Right: the
plot grid (``train_plots.TrainingPlots``), a progress bar (epoch/batch, images per second,
ETA) and a Keras-like log with one line per epoch. Training itself runs in the session's
worker thread; this panel only sends commands and draws the throttled reports.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QSettings, Qt, QTimer
from PyQt6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.dataset_chooser import DatasetChooser
from cnnlab.app.panels.diagnostics_view import DiagnosticsView
from cnnlab.app.panels.lr_finder_view import LrFinderView
from cnnlab.app.panels.train_plots import REDRAW_MS, TrainingPlots
from cnnlab.app.panels.train_settings import FIELDS, TrainingSettings
from cnnlab.app.widgets import ERROR_COLOR, format_count, format_duration, show_error
from cnnlab.files import write_atomically
from cnnlab.lab.training import TrainingConfig, TrainingState
from cnnlab.lab.training_monitor import epoch_line, eta_seconds, run_fraction

if TYPE_CHECKING:
    from cnnlab.app.session import Session

class TrainPanel(QWidget):
    """Train tab. ``data_actions`` (a ``DatasetActions``) fills the dataset combo; without
    one, the combo loads the bundled samples / cached full sets through the session."""

    def __init__(self, session: Session, data_actions=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.data_actions = data_actions
        self._last_batch = None  # the latest BatchReport of this run
        self._run_started = 0.0
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(REDRAW_MS)
        self._progress_timer.timeout.connect(self._show_progress)
        self._build_controls()
        self.plots = TrainingPlots()
        self._build_layout()
        self.plots.set_span(self.epochs.value())
        self.epochs.valueChanged.connect(self._on_epochs_changed)

        session.model_changed.connect(self._on_model_changed)
        session.architecture_error_changed.connect(lambda _e: self._update_buttons())
        session.training_state_changed.connect(self._on_state)
        session.training_started.connect(self._on_started)
        session.batch_reported.connect(self._on_batch)
        session.epoch_reported.connect(self._on_epoch)
        session.weights_updated.connect(self._on_weights)
        session.training_finished.connect(self._on_finished)
        session.training_failed.connect(self._on_failed)
        if session.model is not None:
            self.plots.show_weights(session.model)
            self.plots.flush()
        self._on_state(session.state)

    # ------------------------------------------------------------------ UI
    def _build_controls(self) -> None:
        self.datasets = DatasetChooser(self.session, self.data_actions, self._message, self)
        self.dataset_combo, self.dataset_label = self.datasets.combo, self.datasets.label
        self.dataset_index = self.datasets.index

        self.settings_form = TrainingSettings()
        for name in FIELDS:  # the widgets by their TrainingConfig names
            setattr(self, name, getattr(self.settings_form, name))

        self.start_button = QPushButton("▶ Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("■ Stop")
        self.start_button.setToolTip("start training the current model (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.session.toggle_pause)
        self.stop_button.clicked.connect(self.session.stop)
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.config_widgets = [self.dataset_combo, *self.settings_form.config_widgets()]

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("not started")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("one line per epoch appears here")
        self.log.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.log.setFixedHeight(110)

    def _build_layout(self) -> None:
        data_box = QGroupBox("Data")
        dv = QVBoxLayout(data_box)
        dv.addWidget(self.dataset_combo)
        dv.addWidget(self.dataset_label)

        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        left = QWidget()
        left.setFixedWidth(290)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(data_box)
        # the form scrolls in a short window; Start/Pause/Stop stay in sight below it
        form_scroll = QScrollArea()
        form_scroll.setWidget(self.settings_form)
        form_scroll.setWidgetResizable(True)
        form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        form_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lv.addWidget(form_scroll, 1)
        lv.addLayout(buttons)
        lv.addWidget(self.reason_label)

        # the live curves, what happens inside each layer, and the learning-rate finder
        self.diagnostics = DiagnosticsView(self.session)
        self.lr_finder = LrFinderView(self.session, self.config)
        self.lr_finder.use_lr.connect(self.lr.setValue)
        self.views = QTabWidget()
        self.views.addTab(self.plots, "Curves")
        self.views.addTab(self.diagnostics, "Diagnostics")
        self.views.addTab(self.lr_finder, "LR finder")
        right = QVBoxLayout()
        right.addWidget(self.views, 1)
        right.addWidget(self.progress)
        right.addWidget(self.log)
        layout = QHBoxLayout(self)
        layout.addWidget(left)
        layout.addLayout(right, 1)

    # ------------------------------------------------------------ training
    def config(self) -> TrainingConfig:
        """The ``TrainingConfig`` the controls describe."""
        return self.settings_form.config()

    def start_training(self) -> None:
        """Start training with the controls' settings; a refusal is shown, never raised."""
        if self.session.is_training:
            return
        try:
            self.session.start_training(self.config())
        except (ValueError, RuntimeError) as exc:
            self._message(f"Cannot start training: {exc}")
            show_error(self, "Cannot start training", str(exc))

    def _on_epochs_changed(self, epochs: int) -> None:
        if self.plots.current.empty and self.plots.previous is None:
            self.plots.set_span(epochs)  # before any run: show the frame it will fill

    def _on_state(self, state: TrainingState) -> None:
        idle = state == TrainingState.IDLE
        for w in self.config_widgets:
            w.setEnabled(idle)
        self.pause_button.setText("Resume" if state == TrainingState.PAUSED else "Pause")
        if state == TrainingState.PAUSED:
            self._show_progress()
        elif state == TrainingState.STOPPING:
            self.progress.setFormat("stopping after this batch…")
        self._update_buttons()

    def _update_buttons(self) -> None:
        s = self.session
        reason = ""
        if s.is_training:
            reason = "Training is running: pause or stop it first."
        elif s.architecture_error:
            reason = f"Fix the network on the Model tab first: {s.architecture_error}"
        elif s.model is None:
            reason = "No model: build one on the Model tab."
        elif s.dataset is None:
            reason = "No dataset loaded."
        self.start_button.setEnabled(not reason)
        self.start_button.setToolTip(reason or "start training the current model (Ctrl+Enter)")
        self.pause_button.setEnabled(s.state in (TrainingState.RUNNING, TrainingState.PAUSED))
        self.stop_button.setEnabled(s.state in (TrainingState.RUNNING, TrainingState.PAUSED))
        if s.is_training:
            self.reason_label.setText("")
        else:
            self.reason_label.setText(reason)
            self.reason_label.setStyleSheet(f"color: {ERROR_COLOR.name()};" if reason else "")

    def _on_model_changed(self, model) -> None:
        if not self.session.is_training:
            self.plots.show_weights(model)
            self.plots.flush()
        self._update_buttons()

    def _on_started(self, cfg: TrainingConfig) -> None:
        self._last_batch = None
        self._run_started = time.perf_counter()
        self.plots.start_run(cfg.epochs)
        ds = self.session.dataset
        n = min(cfg.subset or len(ds.x_train), len(ds.x_train)) if ds is not None else 0
        opt = cfg.describe_optimizer()
        extras = "".join([f", L2 {cfg.l2:g}" if cfg.l2 else "", f", L1 {cfg.l1:g}" if cfg.l1 else "",
                          ", shifts" if cfg.augment else ""])
        self._log(f"training {self.session.model_name} on {format_count(n)} "
                  f"{ds.name if ds else ''} images: {cfg.epochs} epochs, batch {cfg.batch_size}, "
                  f"{opt}{extras}, validation {cfg.val_fraction:g}", "#555")
        self.progress.setValue(0)
        self.progress.setFormat("starting…")

    def _on_batch(self, r) -> None:
        self._last_batch = r
        self.plots.add_batch(r)
        if not self._progress_timer.isActive():  # repaint the bar at the plots' pace
            self._progress_timer.start()

    def _show_progress(self) -> None:
        r = self._last_batch
        if r is None or self.session.state not in (TrainingState.RUNNING, TrainingState.PAUSED):
            return
        self.progress.setValue(int(1000 * run_fraction(r.epoch, r.epochs, r.batch, r.batches)))
        eta = eta_seconds(r.epoch, r.epochs, r.batch, r.batches, r.seconds)
        self.progress.setFormat(f"epoch {r.epoch}/{r.epochs} · batch {r.batch}/{r.batches} · "
                                f"{format_count(r.samples_per_s)} img/s · ETA {format_duration(eta)}"
                                + (" — paused" if self.session.state == TrainingState.PAUSED else ""))

    def _on_weights(self, snapshot) -> None:
        self.plots.show_weights(snapshot.model)

    def _on_epoch(self, r) -> None:
        self.plots.add_epoch(r)
        self._log(epoch_line(r))

    def _on_finished(self, history) -> None:
        if self._last_batch is not None:
            self.plots.show_all_batches(history.batch_loss, self._last_batch.batches)
        self.plots.flush()
        seconds = time.perf_counter() - self._run_started
        done = len(history.train_loss)
        if history.stopped:
            where, n = "", len(history.batch_loss)
            if self._last_batch is not None and n:  # the history counts every batch done
                per_epoch = self._last_batch.batches
                where = f" after epoch {(n - 1) // per_epoch + 1}, batch {(n - 1) % per_epoch + 1}"
            self._log(f"stopped by the user{where} ({done} complete epoch"
                      f"{'' if done == 1 else 's'}, {format_duration(seconds)})", "#a60")
            self.progress.setFormat(f"stopped · {done} epochs done")
        else:
            self._log(f"finished {done} epoch{'' if done == 1 else 's'} in "
                      f"{format_duration(seconds)}", "#060")
            self.progress.setValue(1000)
            self.progress.setFormat(f"done · {done} epochs in {format_duration(seconds)}")

    def _on_failed(self, message: str) -> None:
        self.plots.flush()
        self._message(f"Training failed: {message}")
        self.progress.setFormat("failed")

    def _message(self, text: str) -> None:
        self._log(text, ERROR_COLOR.name())

    def _log(self, text: str, color: str | None = None) -> None:
        escaped = html.escape(text)
        self.log.appendHtml(f"<span style='color:{color}'>{escaped}</span>" if color else escaped)

    # -------------------------------------------------------------- export
    def export_plots(self, path) -> None:
        """Save the plot grid as a PNG (atomically). ValueError before any training."""
        if self.plots.current.empty and self.plots.previous is None:
            raise ValueError("there are no training plots yet: train first")
        self.plots.flush()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self.plots.grab().save(buffer, "PNG"):
            raise OSError(f"could not render the plots to PNG for {path}")
        data = bytes(QByteArray(buffer.data()))
        write_atomically(path, lambda f: f.write(data))

    def export_history(self, path) -> None:
        """Save the last run's per-epoch history as CSV (atomically)."""
        history = self.session.history
        if history is None or not history.train_loss:
            raise ValueError("there is no training history yet: finish at least one epoch first")
        history.to_csv(path)

    # ------------------------------------------------------------ settings
    def save_settings(self, settings: QSettings) -> None:
        self.settings_form.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.settings_form.restore_settings(settings)
