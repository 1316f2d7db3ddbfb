"""Unexpected exceptions in slots become a dialog and a log entry and the app keeps running;
File ▸ Open on a file that is not a model shows the loader's message, nothing internal."""

import threading

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication, QFileDialog, QWidget

from cnnlab.app.main_window import MainWindow
from cnnlab.app.session import Session
from cnnlab.app.startup import load_startup_state
from cnnlab.app.unexpected_errors import UnexpectedErrorHandler, error_log_path


def _error_boxes():
    return [w for w in QApplication.topLevelWidgets()
            if w.objectName() == "cnnlab-error" and w.isVisible()]


@pytest.fixture
def handler(qtbot, tmp_path):
    parent = QWidget()
    qtbot.addWidget(parent)
    h = UnexpectedErrorHandler(parent, tmp_path / "logs" / "errors.log")
    h.install()
    yield h
    h.uninstall()
    for box in _error_boxes():
        box.close()


@pytest.mark.qt_no_exception_capture  # the app's own hook is what is tested
def test_an_exception_in_a_slot_opens_a_dialog_is_logged_and_the_loop_goes_on(handler, qtbot):
    ran_after = []

    def broken_slot():
        raise ZeroDivisionError("a bug in a panel")

    QTimer.singleShot(0, broken_slot)
    QTimer.singleShot(30, lambda: ran_after.append(True))
    qtbot.waitUntil(lambda: bool(ran_after), timeout=3000)  # the event loop kept running
    assert handler.count == 1
    [box] = _error_boxes()
    assert "ZeroDivisionError: a bug in a panel" in box.text()
    assert "keeps running" in box.text() and str(handler.log_path) in box.text()
    log = handler.log_path.read_text()
    assert "Traceback" in log and "broken_slot" in log and "a bug in a panel" in log
    # A burst of errors keeps one dialog, counting.
    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: handler.count == 2, timeout=3000)
    assert len(_error_boxes()) == 1 and "2 errors" in _error_boxes()[0].informativeText()


def test_an_exception_on_another_thread_reaches_the_gui_thread(handler, qtbot):
    def worker():
        try:
            raise ValueError("from a worker thread")
        except ValueError as exc:
            handler(type(exc), exc, exc.__traceback__)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: bool(_error_boxes()), timeout=3000)
    assert "from a worker thread" in _error_boxes()[0].text()


def test_the_log_lives_in_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path))
    assert error_log_path() == tmp_path / "logs" / "errors.log"


@pytest.fixture
def window(qtbot, tmp_path):
    session = Session()
    load_startup_state(session)
    w = MainWindow(session, QSettings(str(tmp_path / "cnnlab.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    for box in _error_boxes():
        box.close()
    assert session.shutdown(timeout_ms=5000)


def _not_models(folder):
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(folder / "objects_in_npz.npz", weights=np.array([{"a": 1}], dtype=object))
    (folder / "text.npz").write_text("just some text, not a zip")
    (folder / "empty.npz").write_bytes(b"")
    np.savez(folder / "unrelated.npz", x=np.zeros(3))
    return ["objects.npy", "objects_in_npz.npz", "text.npz", "empty.npz", "unrelated.npz"]


def test_opening_files_that_are_not_models_shows_a_clean_message(window, qtbot, tmp_path,
                                                                  monkeypatch):
    before = window.session.model
    for name in _not_models(tmp_path):
        path = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path, **k: (str(p), ""))
        window.open_model()
        qtbot.waitUntil(lambda: bool(_error_boxes()), timeout=10000)
        [box] = _error_boxes()
        text = box.text()
        assert name in text, text  # names the file
        for internal in ("allow_pickle", "Traceback", "KeyError", "BadZipFile", "pickle"):
            assert internal not in text, text
        box.close()
        assert window.session.model is before  # nothing half-loaded
