"""The main window: builds the tabs, menus, toolbar and status bar, and wires them."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QFrame,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStyle,
    QTabWidget,
    QToolBar,
)

from cnnlab import __version__
from cnnlab.app import settings as stored
from cnnlab.app.data_actions import DatasetActions
from cnnlab.app.jobs import JobKind
from cnnlab.app.model_files import MODEL_FILTER, ModelFiles
from cnnlab.app.model_history import ModelHistory
from cnnlab.app.panels.backprop_panel import BackpropPanel
from cnnlab.app.panels.draw_panel import DrawPanel
from cnnlab.app.panels.experiments_panel import ExperimentsPanel
from cnnlab.app.panels.kernels_panel import KernelsPanel
from cnnlab.app.panels.model_panel import ModelPanel
from cnnlab.app.panels.step_panel import StepByStepPanel
from cnnlab.app.panels.train_panel import TrainPanel
from cnnlab.app.session import Session
from cnnlab.app.status_bar import StatusBar
from cnnlab.app.widgets import ElidedLabel, describe_job, format_count, format_duration, show_error
from cnnlab.lab.training import TrainingState

SHORTCUTS = [
    ("Ctrl+Enter", "start training"),
    ("Space", "pause / resume training"),
    ("Esc", "stop training"),
    ("Ctrl+1 … Ctrl+7", "switch tab"),
    ("Ctrl+O / Ctrl+S", "open / save model"),
    ("Del / Ctrl+Z", "clear / undo on the Draw tab"),
    ("Ctrl+Q", "quit"),
]


class MainWindow(QMainWindow):
    def __init__(self, session: Session, settings: QSettings | None = None):
        super().__init__()
        self.session = session
        self.settings = settings or QSettings("cnnlab", "cnnlab")
        self.setWindowTitle("cnnlab — a lab for convolutional networks")
        self.resize(1280, 800)

        self.data_actions = DatasetActions(session, self)
        self.model_panel = ModelPanel(session)
        self.train_panel = TrainPanel(session, self.data_actions)
        self.draw_panel = DrawPanel(session)
        self.step_panel = StepByStepPanel(session, drawing=self.draw_panel.canvas.image_array)
        self.draw_panel.canvas.changed.connect(self.step_panel.drawing_changed)
        self.kernels_panel = KernelsPanel(session)
        self.experiments_panel = ExperimentsPanel(session)
        self.backprop_panel = BackpropPanel(session)
        self.panels = [
            ("Model", self.model_panel), ("Train", self.train_panel), ("Draw", self.draw_panel),
            ("Step by step", self.step_panel),
            ("Kernels && Blur", self.kernels_panel), ("Experiments", self.experiments_panel),
            ("Backprop", self.backprop_panel),
        ]
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for title, panel in self.panels:
            self.tabs.addTab(panel, title)  # "&&" is how Qt shows a literal "&"
        self.setCentralWidget(self.tabs)
        self.tabs.setCurrentWidget(self.train_panel)

        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._connect_session()
        self._restore_settings()
        self._update_training_actions()

    # ------------------------------------------------------------- building
    def _action(self, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        style = self.style()
        icon = QStyle.StandardPixmap
        self.start_action = self._action("Train", self.train_panel.start_training, "Ctrl+Return",
                                         "start training the current model (Ctrl+Enter)")
        self.start_action.setIcon(style.standardIcon(icon.SP_MediaPlay))
        self.start_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.pause_action = self._action("Pause", self.session.toggle_pause, "Space",
                                         "pause or resume training (Space)")
        self.pause_action.setIcon(style.standardIcon(icon.SP_MediaPause))
        self.stop_action = self._action("Stop", self.session.stop, "Esc",
                                        "stop training after the current batch (Esc)")
        self.stop_action.setIcon(style.standardIcon(icon.SP_MediaStop))
        toolbar = QToolBar("Training")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setObjectName("training-toolbar")
        toolbar.setMovable(False)
        for action in (self.start_action, self.pause_action, self.stop_action):
            toolbar.addAction(action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self._action("Open model…", self.open_model, QKeySequence.StandardKey.Open))
        file_menu.addAction(self._action("Save model…", self.save_model, QKeySequence.StandardKey.Save))
        self.model_history = ModelHistory(self.session, self.settings, self)  # recent, undo, shipped
        self.model_history.add_to(file_menu)
        file_menu.addSeparator()
        file_menu.addAction(self._action("Open architecture (JSON)…", self.open_architecture))
        file_menu.addAction(self._action("Save architecture (JSON)…", self.save_architecture))
        file_menu.addSeparator()
        file_menu.addAction(self._action("Export plots (PNG)…", self.export_plots))
        file_menu.addAction(self._action("Export history (CSV)…", self.export_history))
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", self.close, QKeySequence.StandardKey.Quit))
        self.model_files = ModelFiles(self.session, self, file_menu)  # ONNX, Export for PyTorch / ONNX

        data_menu = bar.addMenu("&Data")
        for action in self.data_actions.menu_actions():
            data_menu.addAction(action) if action is not None else data_menu.addSeparator()

        model_menu = bar.addMenu("&Model")
        for action in (self.start_action, self.pause_action, self.stop_action):
            model_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        for i, (title, panel) in enumerate(self.panels):
            view_menu.addAction(self._action(title.replace("&&", "&"),
                                             lambda _=False, p=panel: self.tabs.setCurrentWidget(p),
                                             f"Ctrl+{i + 1}"))

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("Keyboard shortcuts", self.show_shortcuts, "F1"))
        help_menu.addAction(self._action("About cnnlab", self.show_about))

    def _build_status_bar(self) -> None:
        self.setStatusBar(bar := StatusBar())
        # long names end in "…" (full text in the tooltip) and leave the status message room
        self.dataset_label, self.model_label = ElidedLabel(), ElidedLabel()
        bar.cap(self.dataset_label, 280)
        bar.cap(self.model_label, 300)
        self.training_label = ElidedLabel("idle", min_width=200)  # training and every job
        self._training_text = ""
        self.job_cancel = QPushButton("Cancel")
        self.job_cancel.setToolTip("cancel the running background job")
        self.job_cancel.clicked.connect(self._cancel_jobs)
        for i, w in enumerate((self.dataset_label, self.model_label, self.training_label)):
            if i:
                sep = QFrame()
                sep.setFrameShape(QFrame.Shape.VLine)
                sep.setFrameShadow(QFrame.Shadow.Sunken)
                bar.addPermanentWidget(sep)
            w.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(w)
        bar.addPermanentWidget(self.job_cancel)
        self.job_cancel.hide()

    def _connect_session(self) -> None:
        s = self.session
        s.dataset_changed.connect(lambda ds: self.dataset_label.setText(ds.describe()))
        s.model_changed.connect(lambda _m: self.model_label.setText(f"model: {s.model_name}"))
        s.training_state_changed.connect(self._on_training_state)
        s.architecture_error_changed.connect(lambda _e: self._update_training_actions())
        s.batch_reported.connect(self._on_batch)
        s.training_failed.connect(lambda msg: show_error(self, "Training failed", msg))
        s.status_message.connect(lambda msg: self.statusBar().show_message(msg, 6000))
        s.jobs_changed.connect(self._on_jobs_changed)
        if s.dataset is not None:
            self.dataset_label.setText(s.dataset.describe())
        self.model_label.setText(f"model: {s.model_name}")

    # -------------------------------------------------------------- status
    def _on_training_state(self, state: TrainingState) -> None:
        if state == TrainingState.IDLE:
            self._training_text = ""
        elif state == TrainingState.PAUSED:
            self._training_text = "training paused"
        elif state == TrainingState.STOPPING:
            self._training_text = "stopping…"
        self._show_activity()
        self._update_training_actions()

    def _on_batch(self, r) -> None:
        remaining = (r.epochs - r.epoch) * r.batches + (r.batches - r.batch)
        done = (r.epoch - 1) * r.batches + r.batch
        eta = r.seconds / done * remaining if done else 0.0
        self._training_text = (f"training · epoch {r.epoch}/{r.epochs} · "
                               f"{format_count(r.samples_per_s)} img/s · ETA {format_duration(eta)}")
        self._show_activity()

    def _update_training_actions(self) -> None:
        s = self.session
        can_start = not s.is_training and not s.architecture_error
        self.start_action.setEnabled(can_start)
        self.start_action.setToolTip(s.architecture_error or "start training (Ctrl+Enter)")
        self.pause_action.setEnabled(s.state in (TrainingState.RUNNING, TrainingState.PAUSED))
        paused = s.state == TrainingState.PAUSED
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause))
        self.stop_action.setEnabled(s.state in (TrainingState.RUNNING, TrainingState.PAUSED))

    def _background_jobs(self) -> list:
        return [j for j in self.session.running_jobs() if j.kind is not JobKind.TRAINING]

    def _on_jobs_changed(self) -> None:
        jobs = self._background_jobs()
        for job in jobs:
            try:
                job.progress_changed.connect(self._show_activity, Qt.ConnectionType.UniqueConnection)
            except TypeError:
                pass  # already connected
        self.job_cancel.setVisible(bool(jobs))
        self._show_activity()

    def _show_activity(self) -> None:
        """Training (epoch, speed, ETA) and every other running job by name with its
        progress and ETA — a job's own tab shows its details; "idle" when nothing runs."""
        parts = [self._training_text] if self._training_text else []
        parts += [describe_job(job) for job in self._background_jobs()]
        self.training_label.setText("  |  ".join(parts) or "idle")

    def _cancel_jobs(self) -> None:
        for job in self._background_jobs():
            job.cancel()

    # ------------------------------------------------------------- file ops
    def _ask_open(self, title: str, filters: str, key: str) -> Path | None:
        start = stored.read(self.settings, f"paths/{key}", str(Path.home()), "str")
        path, _ = QFileDialog.getOpenFileName(self, title, start, filters)
        if path:
            self.settings.setValue(f"paths/{key}", str(Path(path).parent))
        return Path(path) if path else None

    def _ask_save(self, title: str, filters: str, key: str, name: str) -> Path | None:
        start = Path(stored.read(self.settings, f"paths/{key}", str(Path.home()), "str")) / name
        path, _ = QFileDialog.getSaveFileName(self, title, str(start), filters)
        if path:
            self.settings.setValue(f"paths/{key}", str(Path(path).parent))
        return Path(path) if path else None

    def _guarded(self, title: str, fn, *args) -> bool:
        try:
            fn(*args)
        except (OSError, ValueError, RuntimeError) as exc:
            show_error(self, title, str(exc))
            return False
        return True

    def open_model(self) -> None:
        path = self._ask_open("Open model", MODEL_FILTER, "models")
        if path:
            self._guarded("Could not open model", self.model_files.open, path)

    def save_model(self) -> None:
        path = self._ask_save("Save model", "cnnlab models (*.npz)", "models", "model.npz")
        if path:
            self._guarded("Could not save model", self.session.save_model, path)

    def open_architecture(self) -> None:
        path = self._ask_open("Open architecture", "architectures (*.json)", "architectures")
        if path:
            self._guarded("Could not open architecture", self.model_panel.open_architecture, path)

    def save_architecture(self) -> None:
        path = self._ask_save("Save architecture", "architectures (*.json)", "architectures",
                              "architecture.json")
        if path:
            self._guarded("Could not save architecture", self.model_panel.save_architecture, path)

    def export_plots(self) -> None:
        path = self._ask_save("Export plots", "PNG images (*.png)", "exports", "training.png")
        if path:
            self._guarded("Could not export plots", self.train_panel.export_plots, path)

    def export_history(self) -> None:
        path = self._ask_save("Export history", "CSV files (*.csv)", "exports", "history.csv")
        if path:
            self._guarded("Could not export history", self.train_panel.export_history, path)

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About cnnlab", (
            f"<b>cnnlab {__version__}</b><br>A desktop lab for learning how convolutional "
            "networks work.<br>Every number comes from cnnlab's own NumPy engine."))

    # ------------------------------------------------------------- settings
    def _restore_settings(self) -> None:
        """Restore what was saved; a value that cannot be used keeps its default and is
        named on the status line (``app.settings``): saved settings never stop start-up."""
        s = self.settings
        stored.strip_python_objects(s)
        geometry = stored.read(s, "window/geometry", None, "bytes")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = stored.read(s, "window/state", None, "bytes")
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(stored.read(s, "window/tab", self.tabs.currentIndex(), "int",
                                              lo=0, hi=self.tabs.count() - 1))
        for title, panel in self.panels:
            if hasattr(panel, "restore_settings"):
                try:
                    panel.restore_settings(s)
                except Exception as exc:  # a bug must not cost the user the whole app
                    stored.note(s, f"{title.replace('&&', '&')} tab: its settings could not be "
                                   f"restored ({type(exc).__name__}: {exc})")
        self.settings_notes = stored.take_notes(s)
        if self.settings_notes:
            text = stored.summary(self.settings_notes)
            QTimer.singleShot(0, lambda: self.statusBar().show_message(text, 20000))

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        for _title, panel in self.panels:
            if hasattr(panel, "save_settings"):
                panel.save_settings(self.settings)
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.session.shutdown(timeout_ms=3000)
        super().closeEvent(event)

