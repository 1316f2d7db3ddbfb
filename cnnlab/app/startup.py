"""Starting the app: what it loads before the window opens (the MNIST sample and the
default model), and :func:`run_app`, which runs the window and shuts down in order."""

from __future__ import annotations

import gc
import os
import sys

from cnnlab.app.session import Session, load_dataset
from cnnlab.engine.model import ModelFileError
from cnnlab.engine.model import load as load_model_file
from cnnlab.lab.presets import DEFAULT_PRESET, build_preset
from cnnlab.resources import resource_path

DEFAULT_MODEL = ("models", "digits.npz")


def default_model_name(model) -> str:
    """``"default digits (98.1% on sample test)"`` from the model's metadata."""
    meta = model.get_config().get("meta") or {}
    acc = meta.get("test_accuracy")
    suffix = f" ({100 * acc:.1f}% on sample test)" if isinstance(acc, (int, float)) else ""
    return f"default digits{suffix}"


def load_startup_state(session: Session) -> list[str]:
    """Load the bundled MNIST sample and the shipped digit model into ``session``.

    Never raises: returns messages describing what could not be loaded (the app then
    starts with what it has, e.g. an untrained default network).
    """
    problems: list[str] = []
    try:
        session.set_dataset(load_dataset("mnist", "sample"))
    except (OSError, ValueError) as exc:
        problems.append(f"Could not load the bundled MNIST sample: {exc}")
    path = resource_path(*DEFAULT_MODEL)
    try:
        model = load_model_file(path)
        session.set_model(model, default_model_name(model), path)  # one model_changed
    except (OSError, ModelFileError) as exc:
        problems.append(f"Could not load the default digit model {path}: {exc}")
        session.set_model(build_preset(DEFAULT_PRESET), f"{DEFAULT_PRESET} (untrained)")
    return problems


def run_app(argv: list[str] | None = None, *, start_training: bool = False,
            quit_after_ms: int | None = None) -> int:
    """Create the application and the main window, run the event loop, and tear down.

    ``start_training`` starts training as soon as the window is up and ``quit_after_ms``
    closes the window (through its usual close path) that many milliseconds after start:
    ``cnnlab --start-training --quit-after MS`` is how the shutdown test drives the real
    entry point. Returns the exit code.
    """
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from cnnlab.app import settings as stored
    from cnnlab.app.main_window import MainWindow
    from cnnlab.app.unexpected_errors import UnexpectedErrorHandler
    from cnnlab.app.widgets import show_error

    owns_app = QApplication.instance() is None
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName(stored.APPLICATION)
    app.setOrganizationName(stored.ORGANIZATION)
    session = Session()
    problems = load_startup_state(session)  # bundled sample + default model: fast, local
    window = MainWindow(session)
    for note in window.settings_notes:  # the status line names the keys; here is why
        print(f"cnnlab: saved setting {note}", file=sys.stderr)
    errors = UnexpectedErrorHandler(window)
    errors.install()
    window.show()
    for problem in problems:
        QTimer.singleShot(0, lambda p=problem: show_error(window, "cnnlab", p))
    if start_training:
        QTimer.singleShot(0, window.train_panel.start_training)
    if quit_after_ms is not None:
        def close() -> None:
            print(f"cnnlab: --quit-after: closing while training is {session.state}",
                  file=sys.stderr, flush=True)
            window.close()
        QTimer.singleShot(max(0, quit_after_ms), close)
    code = app.exec()
    errors.uninstall()
    if not shut_down(window, session) and owns_app:
        # A job ignored its cancel flag for seconds (the window has closed and saved its
        # settings): leaving now is safer than destroying a QThread that still runs.
        print("cnnlab: a background job did not stop; exiting without clean-up",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(code)
    window = session = errors = None  # (the lambdas above hold these names too)
    gc.collect()  # Python-side cycles holding Qt objects go while the application exists
    return code  # the QApplication (if ours) is released last, as this frame ends


def shut_down(window, session: Session, timeout_ms: int = 10_000) -> bool:
    """Join every thread, then delete the window and the session while the QApplication
    still exists, children before parents (Qt's order, not the garbage collector's, which
    at interpreter exit used to destroy widgets after the application and crash).
    Returns False when a thread did not end within ``timeout_ms``."""
    from PyQt6 import sip

    if not session.shutdown(timeout_ms=timeout_ms):  # closeEvent asked already; wait more
        return False
    for obj in (window, session):
        if not sip.isdeleted(obj):
            sip.delete(obj)
    return True
