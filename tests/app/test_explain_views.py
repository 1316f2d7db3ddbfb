"""The Draw tab's "Why?" overlays and "Fool it" view, driven through the real panel."""

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from cnnlab.app.panels.draw_panel import DrawPanel
from cnnlab.app.session import Session, load_dataset
from cnnlab.engine.model import load as load_model
from cnnlab.lab.presets import build_preset
from cnnlab.resources import resource_path


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", "sample")


@pytest.fixture
def panel(qtbot, tmp_path, mnist):
    session = Session()
    session.set_dataset(mnist)
    session.set_model(load_model(resource_path("models", "digits.npz")), "default digits")
    panel = DrawPanel(session, user_digits_path=tmp_path / "user_digits.npz")
    qtbot.addWidget(panel)
    panel.resize(1100, 760)
    panel.show()
    qtbot.waitExposed(panel)
    three = mnist.x_test[mnist.y_test == 3][0, 0]  # (28, 28) uint8
    panel.canvas.paste_array(three)
    panel.refresh()
    yield panel
    assert session.shutdown(timeout_ms=5000)


def wait_for(qtbot, condition, timeout=20000):
    qtbot.waitUntil(condition, timeout=timeout)


def test_overlays_appear_and_follow_the_target_digit(qtbot, panel):
    view = panel.explain
    assert panel.guess.label == 3
    assert view.result is None  # hidden: nothing computed yet
    panel.lower_tabs.setCurrentWidget(view)
    wait_for(qtbot, lambda: view.result is not None)
    assert view.result.target == 3
    for key, pane in view.panes.items():
        assert pane.values is not None and pane.values.shape == (28, 28), key
        assert pane.image.image.shape == (28, 28, 3)
        assert "3" in pane.title and pane.title in pane.text.text()
    assert view.panes["grad_cam"].values.min() >= 0
    lo, hi = view.panes["saliency"].bar.levels()
    assert lo == -hi and hi > 0  # signed map, centred colour bar
    view.target.setCurrentIndex(view.target.findData(8))
    wait_for(qtbot, lambda: view.result.target == 8)
    assert "8" in view.panes["occlusion"].title
    view.patch.setValue(6)
    wait_for(qtbot, lambda: "6×6" in view.panes["occlusion"].text.text())
    panel.canvas.clear()
    panel.refresh()
    assert view.panes["saliency"].values is None


def test_eps_slider_attacks_the_drawing_and_sends_it_back(qtbot, panel):
    fool = panel.fool
    panel.lower_tabs.setCurrentWidget(fool)
    wait_for(qtbot, lambda: fool.adversarial is not None and fool.smallest_eps is not None)
    x = panel.guess.network_input
    fool.method.setCurrentIndex(1)  # iterative
    fool.eps_slider.setValue(50)  # 0.25
    assert fool.eps_label.text() == "0.250"
    wait_for(qtbot, lambda: "0.250" in fool.result_label.toolTip() and not fool._running)
    adv = fool.adversarial[0]
    assert np.abs(adv - x).max() <= 0.25 + 1e-7 and adv.min() >= 0 and adv.max() <= 1
    assert "fooled!" in fool.result_label.text()
    assert "smallest ε that flips it" in fool.smallest_label.text()
    assert fool.after_bars.opts["height"].sum() == pytest.approx(1, abs=1e-4)
    # keyboard drives the slider too
    fool.eps_slider.setFocus()
    qtbot.keyClick(fool.eps_slider, Qt.Key.Key_Left)
    assert fool.eps_label.text() == "0.245"
    wait_for(qtbot, lambda: "0.245" in fool.result_label.toolTip() and not fool._running)
    items = len(panel.canvas.items)
    qtbot.mouseClick(fool.send_button, Qt.MouseButton.LeftButton)
    assert len(panel.canvas.items) == items + 1
    panel.canvas.undo()
    assert len(panel.canvas.items) == items


def test_views_explain_a_model_without_conv_layers(qtbot, tmp_path, mnist):
    session = Session()
    session.set_dataset(mnist)
    session.set_model(build_preset("MLP (784→100→10)"), "mlp")
    panel = DrawPanel(session, user_digits_path=tmp_path / "u.npz")
    qtbot.addWidget(panel)
    panel.show()
    panel.canvas.paste_array(mnist.x_test[0, 0])
    panel.refresh()
    panel.lower_tabs.setCurrentWidget(panel.explain)
    wait_for(qtbot, lambda: panel.explain.result is not None)
    assert panel.explain.result.grad_cam is None
    assert "no conv layer" in panel.explain.panes["grad_cam"].text.text()
    assert session.shutdown(timeout_ms=5000)
