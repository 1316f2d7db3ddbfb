"""File ▸ Open model takes .onnx files; File ▸ Export writes PyTorch and ONNX (in jobs)."""

import numpy as np
import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox

from cnnlab.app.main_window import MainWindow
from cnnlab.app.session import Session
from cnnlab.app.startup import load_startup_state
from cnnlab.lab.presets import build_preset

onnx = pytest.importorskip("onnx")

from cnnlab.interop import export_onnx, load_onnx  # noqa: E402

MLP = "MLP (784→100→10)"


@pytest.fixture
def window(qtbot, tmp_path):
    session = Session()
    load_startup_state(session)
    w = MainWindow(session, QSettings(str(tmp_path / "cnnlab.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    assert session.shutdown(timeout_ms=5000)


def _file_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")


def test_the_file_menu_exports_and_opens_onnx(window, qtbot, tmp_path, monkeypatch):
    texts = [a.text() for a in _file_menu(window).actions()]
    i = texts.index("Export for PyTorch (folder)…")
    assert texts[i + 1] == "Export ONNX…"
    assert texts.index("Export history (CSV)…") < i and texts[-1] == "Quit" and texts[-2] == ""

    model = build_preset(MLP, seed=3)
    model.meta = {"name": "exported MLP"}
    path = export_onnx(model, tmp_path / "mlp.onnx")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    open_action = next(a for a in _file_menu(window).actions() if a.text() == "Open model…")
    with qtbot.waitSignal(window.session.model_changed, timeout=10000):
        open_action.trigger()
    s = window.session
    assert s.model_name == "exported MLP" and [layer.name for layer in s.model.layers] == [
        layer.name for layer in model.layers]
    assert np.array_equal(s.model[1].params["W"], model[1].params["W"])
    assert "exported MLP" in window.model_label.text()


def test_refused_onnx_file_and_exports(window, qtbot, tmp_path, monkeypatch):
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07 not really onnx")
    before = window.session.model
    window.model_files.open(tmp_path / "broken.onnx")
    qtbot.waitUntil(lambda: any(w.objectName() == "cnnlab-error" and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=10000)
    box = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "cnnlab-error")
    assert "broken.onnx" in box.text()
    box.close()
    assert window.session.model is before

    s = window.session
    with qtbot.waitSignal(s.status_message, timeout=10000,
                          check_params_cb=lambda m: m.startswith("exported model.py")):
        window.model_files.export_pytorch(tmp_path / "pt")
    assert (tmp_path / "pt" / "model.py").is_file() and (tmp_path / "pt" / "weights.safetensors").is_file()

    # an existing export is only replaced when the user agrees
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    stamp = (tmp_path / "pt" / "model.py").stat().st_mtime_ns
    window.model_files.export_pytorch(tmp_path / "pt")
    assert (tmp_path / "pt" / "model.py").stat().st_mtime_ns == stamp

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "m.onnx"), ""))
    with qtbot.waitSignal(s.status_message, timeout=10000,
                          check_params_cb=lambda m: m.startswith("exported ONNX")):
        window.model_files.ask_export_onnx()
    back = load_onnx(tmp_path / "m.onnx")
    x = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(back.forward(x), s.model.forward(x), atol=1e-5)
