"""Opening ONNX models and exporting the current model (File ▸ Open model, File ▸ Export).

Reading an ONNX file and writing the exports run as session jobs on a copy of the model, so
the window never waits; a failure (a refused ONNX operation, the onnx package missing, a
folder that cannot be written) is shown in a message and the app keeps its model.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QObject, QSettings
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.jobs import JobKind
from cnnlab.app.session import Session
from cnnlab.app.widgets import show_error

#: what File ▸ Open model offers
MODEL_FILTER = "models (*.npz *.onnx);;cnnlab models (*.npz);;ONNX models (*.onnx)"


class ModelFiles(QObject):
    """The ONNX half of File ▸ Open model and the two File ▸ Export actions."""

    def __init__(self, session: Session, window: QWidget, file_menu: QMenu | None = None):
        super().__init__(window)
        self.session, self.window = session, window
        self.settings = getattr(window, "settings", None) or QSettings("cnnlab", "cnnlab")
        self.export_pytorch_action = self._action(
            "Export for PyTorch (folder)…", self.ask_export_pytorch,
            "model.py (a torch.nn.Sequential) + weights.safetensors, to train further with PyTorch")
        self.export_onnx_action = self._action(
            "Export ONNX…", self.ask_export_onnx, "an .onnx file for onnxruntime, browsers and phones")
        if file_menu is not None:
            self.add_to_menu(file_menu)

    def _action(self, text: str, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def add_to_menu(self, menu: QMenu) -> None:
        """Put the export actions after the menu's other exports (before its last separator)."""
        separators = [a for a in menu.actions() if a.isSeparator()]
        before = separators[-1] if separators else None
        menu.insertActions(before, [self.export_pytorch_action, self.export_onnx_action])

    # ------------------------------------------------------------------ open
    def open(self, path) -> None:
        """Open a model file: ``.onnx`` in a job, a cnnlab ``.npz`` through the session."""
        path = Path(path)
        if path.suffix.lower() != ".onnx":
            self.session.load_model(path)
            return
        from cnnlab.interop import load_onnx

        job = self.session.run_job(f"open {path.name}", lambda ctx: load_onnx(path), JobKind.MODEL)
        job.finished.connect(lambda model: self._opened(model, path))
        job.failed.connect(lambda message: show_error(self.window, "Could not open model", message))

    def _opened(self, model, path: Path) -> None:
        try:
            self.session.set_model(model, str((model.meta or {}).get("name") or path.stem), None)
        except RuntimeError as exc:  # training started meanwhile
            show_error(self.window, "Could not open model", str(exc))

    # ---------------------------------------------------------------- export
    def _model_copy(self):
        model = self.session.snapshot()
        if model is None:
            show_error(self.window, "Nothing to export", "There is no model to export.")
            return None
        return model.copy()  # the job writes a copy: training may go on meanwhile

    def _start(self, what: str, fn, done_text: str) -> None:
        job = self.session.run_job(what, lambda ctx: fn(), JobKind.MODEL)
        job.finished.connect(lambda _result: self.session.status_message.emit(done_text))
        job.failed.connect(lambda message: show_error(self.window, f"Could not {what}", message))

    def ask_export_pytorch(self) -> None:
        start = stored.read(self.settings, "paths/exports", str(Path.home()), "str")
        folder = QFileDialog.getExistingDirectory(self.window, "Export for PyTorch: choose a folder", start)
        if folder:
            self.settings.setValue("paths/exports", folder)
            self.export_pytorch(folder)

    def export_pytorch(self, folder, confirm: bool = True) -> None:
        """Write ``model.py`` and ``weights.safetensors`` into ``folder`` (in a job)."""
        from cnnlab.interop import export_pytorch

        folder = Path(folder)
        present = [n for n in ("model.py", "weights.safetensors") if (folder / n).exists()]
        if present and confirm and QMessageBox.question(
                self.window, "Replace files?", f"{folder} already has {' and '.join(present)}. "
                "Replace them?") != QMessageBox.StandardButton.Yes:
            return
        model = self._model_copy()
        if model is not None:
            self._start("export for PyTorch", lambda: export_pytorch(model, folder),
                        f"exported model.py and weights.safetensors to {folder}")

    def ask_export_onnx(self) -> None:
        start = Path(stored.read(self.settings, "paths/exports", str(Path.home()), "str")) / "model.onnx"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export ONNX", str(start), "ONNX models (*.onnx)")
        if path:
            self.settings.setValue("paths/exports", str(Path(path).parent))
            self.export_onnx(path)

    def export_onnx(self, path) -> None:
        """Write the model to the ONNX file ``path`` (in a job)."""
        from cnnlab.interop import export_onnx

        model = self._model_copy()
        if model is not None:
            self._start("export ONNX", lambda: export_onnx(model, path), f"exported ONNX to {path}")
