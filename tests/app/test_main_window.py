"""The whole window: first launch, shortcuts, status bar, settings, closing mid-training."""

import time

import pytest
from PyQt6.QtCore import QSettings, Qt

from cnnlab.app.main_window import MainWindow
from cnnlab.app.session import Session
from cnnlab.app.startup import load_startup_state
from cnnlab.lab.presets import build_preset


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "cnnlab.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    session = Session()
    problems = load_startup_state(session)
    w = MainWindow(session, settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.startup_problems = problems
    yield w
    session.shutdown(timeout_ms=5000)


def test_first_launch_has_sample_data_and_a_model(window):
    assert window.startup_problems == []
    s = window.session
    assert s.dataset.describe() == "MNIST sample · 4,000 train / 1,000 test"
    assert s.model is not None and tuple(s.model.input_shape) == (1, 28, 28)
    assert window.dataset_label.text().startswith("MNIST sample")
    assert "default digits" in window.model_label.text()
    titles = [window.tabs.tabText(i).replace("&&", "&") for i in range(window.tabs.count())]
    assert titles == ["Model", "Train", "Draw", "Step by step", "Kernels & Blur", "Experiments",
                      "Backprop"]
    assert window.tabs.currentWidget() is window.train_panel
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()


def test_missing_default_model_falls_back_to_an_untrained_net(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_RESOURCES", str(tmp_path))  # no bundled files at all
    session = Session()
    problems = load_startup_state(session)
    assert len(problems) == 2 and "MNIST sample" in problems[0] and "digits.npz" in problems[1]
    assert "untrained" in session.model_name


def _small_model(window):
    name = "Conv3x3×9 → MaxPool2 → Softmax"
    window.session.set_model(build_preset(name), name)


def test_shortcuts_start_pause_and_stop_training(qtbot, window):
    _small_model(window)
    s = window.session
    with qtbot.waitSignal(s.batch_reported, timeout=30000):
        window.start_action.trigger()
    assert s.is_training and not window.start_action.isEnabled()
    assert window.stop_action.isEnabled()
    window.pause_action.trigger()
    assert s.state == "paused" and window.pause_action.text().endswith("Resume")
    window.pause_action.trigger()
    assert s.state == "running"
    qtbot.waitUntil(lambda: "img/s" in window.training_label.text(), timeout=10000)
    with qtbot.waitSignal(s.training_finished, timeout=30000):
        window.stop_action.trigger()
    assert window.start_action.isEnabled()


def test_invalid_architecture_disables_start_with_reason(qtbot, window):
    window.session.set_architecture_error("Conv2D #3: kernel 5x5 does not fit input 3x3")
    assert not window.start_action.isEnabled()
    assert "does not fit" in window.start_action.toolTip()
    window.session.set_architecture_error(None)
    assert window.start_action.isEnabled()


def test_closing_mid_training_exits_quickly(qtbot, window):
    s = window.session
    s.set_model(build_preset("LeNet-like (32-64 conv, 128 dense)"), "lenet")
    with qtbot.waitSignal(s.batch_reported, timeout=30000):
        window.start_action.trigger()
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 3.0
    assert s.running_jobs() == [] and not s._threads


def test_window_remembers_tab_and_size(qtbot, settings):
    session = Session()
    load_startup_state(session)
    w = MainWindow(session, settings)
    qtbot.addWidget(w)
    w.resize(700, 500)  # fits the small offscreen screen
    w.tabs.setCurrentIndex(3)
    w.close()
    again = MainWindow(Session(), settings)
    qtbot.addWidget(again)
    assert again.tabs.currentIndex() == 3
    assert again.size().width() == 700


def test_view_shortcuts_switch_tabs(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.draw_panel
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.model_panel


def test_status_labels_give_way_to_a_long_message_at_1024_px(qtbot, window):
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()
    assert window.model_label.maximumWidth() <= 0.2 * bar.width() + 1  # capped at a share
    path = "/home/student/cnnlab/models/" + "lenet_after_ten_epochs_" * 4 + ".npz"
    window.session.status_message.emit(f"saved model to {path}")
    shown = bar.currentMessage()
    assert shown.startswith("saved model to /home") and shown.endswith(".npz") and "…" in shown
    assert bar.fontMetrics().horizontalAdvance(shown) < bar.width() - window.model_label.width()
    window.resize(1440, 900)
    qtbot.wait(10)
    assert window.model_label.maximumWidth() == 288  # min(300, 20 % of the bar)
