"""Unexpected exceptions: shown in a dialog, logged to a file, and the app keeps running.

PyQt6 aborts the whole process when an exception escapes a slot and ``sys.excepthook`` is
Python's default. :class:`UnexpectedErrorHandler` replaces the hook while the app runs: it
appends the traceback to ``<cache dir>/logs/errors.log`` (:func:`error_log_path`), writes
it to stderr as before, and opens a non-blocking dialog with the message, so a bug in one
panel costs the user one click instead of their session. Exceptions raised on another
thread reach the dialog through a queued signal; a burst of them opens one dialog.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QMessageBox, QWidget

from cnnlab.app.widgets import show_error
from cnnlab.data.cache import default_cache_dir

#: The log is cut to its last half when it grows past this many bytes.
MAX_LOG_BYTES = 1_000_000


def error_log_path() -> Path:
    """Where unexpected errors are logged (``CNNLAB_CACHE`` moves it with the cache)."""
    return default_cache_dir() / "logs" / "errors.log"


class UnexpectedErrorHandler(QObject):
    """``sys.excepthook`` for the app; ``install()`` on start, ``uninstall()`` on exit."""

    reported = pyqtSignal(str)  # the dialog's text; queued to the GUI thread

    def __init__(self, parent: QWidget | None = None, log_path: Path | None = None):
        super().__init__()
        self.window = parent
        self.log_path = log_path or error_log_path()
        self.count = 0  # exceptions seen
        self.dialog: QMessageBox | None = None  # the open dialog, if any
        self._previous = None
        self.reported.connect(self._show)

    def install(self) -> None:
        self._previous = sys.excepthook
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous or sys.__excepthook__

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C in the terminal: quit as usual
            (self._previous or sys.__excepthook__)(exc_type, exc, tb)
            return
        self.count += 1
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(details)
        where = self._log(details)
        text = (f"Something went wrong inside cnnlab ({exc_type.__name__}: {exc}).\n\n"
                f"The app keeps running; what you were doing may not have finished. {where}")
        if threading.current_thread() is threading.main_thread():
            self._show(text)
        else:
            self.reported.emit(text)

    def _show(self, text: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.setInformativeText(f"{self.count} errors so far; see the log.")
            return
        self.dialog = show_error(self.window, "Unexpected error", text)

    def _log(self, details: str) -> str:
        """Append to the log; returns a sentence saying where (or why not)."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            if self.log_path.exists() and self.log_path.stat().st_size > MAX_LOG_BYTES:
                tail = self.log_path.read_bytes()[-MAX_LOG_BYTES // 2:]
                self.log_path.write_bytes(tail)
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(f"--- {stamp}\n{details}\n")
        except OSError as exc:
            return f"(The details could not be written to {self.log_path}: {exc}.)"
        return f"The details are in {self.log_path}."
