"""Never lose the user's model: File ▸ Recent models, "Undo model change" (the last
trained model a preset or an edit replaced) and "Restore the shipped digit model"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QSettings, QTimer
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QMenu, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.widgets import show_error
from cnnlab.lab.model_record import RECENT_LIMIT, recent_models
from cnnlab.resources import resource_path

if TYPE_CHECKING:
    from cnnlab.app.session import Session

RECENT_KEY = "models/recent"


class ModelHistory(QObject):
    """``add_to(menu)`` puts the three entries into the File menu; they follow the
    session (models opened or saved join the recent list, kept in ``settings``)."""

    def __init__(self, session: Session, settings: QSettings, window: QWidget | None = None):
        super().__init__(window)
        self.session, self.settings, self.window = session, settings, window
        self.recent_menu = QMenu("Recent models", window)
        self.undo_action = QAction("Undo model change", self)
        self.undo_action.setShortcut("Ctrl+Shift+Z")
        self.undo_action.triggered.connect(self.undo_model_change)
        self.shipped_action = QAction("Restore the shipped digit model", self)
        self.shipped_action.triggered.connect(self.restore_shipped)
        self._announced = None  # the replaced model the status line last told about
        session.model_changed.connect(lambda _m: self._on_model_changed())
        session.model_saved.connect(self.remember)
        self._on_model_changed()

    def add_to(self, menu: QMenu) -> None:
        menu.addMenu(self.recent_menu)
        menu.addAction(self.undo_action)
        menu.addAction(self.shipped_action)

    # ------------------------------------------------------------------ recent
    def recent(self) -> list[str]:
        return stored.read(self.settings, RECENT_KEY, [], "json", max_len=20_000,
                           check=lambda v: recent_models(v, limit=RECENT_LIMIT))

    def remember(self, path) -> None:
        """Put ``path`` first in the recent list (the shipped model is not listed)."""
        if Path(path) == resource_path("models", "digits.npz"):
            return
        self.settings.setValue(RECENT_KEY, json.dumps(recent_models(self.recent(), str(path))))
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        paths = self.recent()
        for path in paths:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not paths:
            self.recent_menu.addAction("(models you open or save appear here)").setEnabled(False)

    def open_recent(self, path: str) -> bool:
        try:
            self.session.load_model(path)
        except (OSError, ValueError, RuntimeError) as exc:
            show_error(self.window, "Could not open model", str(exc))
            return False
        return True

    # -------------------------------------------------------------- restoring
    def _on_model_changed(self) -> None:
        s = self.session
        if s.model_path is not None:
            self.remember(s.model_path)
        else:
            self._rebuild_recent()
        replaced = s.replaced
        if replaced is not None and replaced[0] is not self._announced and replaced[0] is not s.model:
            self._announced = replaced[0]  # say it once, after the session's own "model: …"
            QTimer.singleShot(0, lambda n=replaced[1]: s.status_message.emit(
                f"replaced “{n}”: File ▸ Undo model change (Ctrl+Shift+Z) brings it back"))
        self.undo_action.setEnabled(replaced is not None and replaced[0] is not s.model)
        self.undo_action.setText(f"Undo model change (back to “{replaced[1]}”)" if replaced
                                 else "Undo model change")

    def undo_model_change(self) -> bool:
        """Bring back the last trained model that was replaced (by a preset, an edit or
        an opened file)."""
        s = self.session
        if s.replaced is None:
            return False
        try:
            s.set_model(*s.replaced)  # the model it replaces becomes the one to undo to
        except RuntimeError as exc:  # training runs
            show_error(self.window, "Undo model change", str(exc))
            return False
        return True

    def restore_shipped(self) -> bool:
        """Load the digit model cnnlab ships with (the one the app starts with)."""
        from cnnlab.app.startup import DEFAULT_MODEL, default_model_name
        from cnnlab.engine.model import load

        path = resource_path(*DEFAULT_MODEL)
        try:
            model = load(path)
            self.session.set_model(model, default_model_name(model), path)
        except (OSError, ValueError, RuntimeError) as exc:
            show_error(self.window, "Could not restore the shipped model", str(exc))
            return False
        return True
