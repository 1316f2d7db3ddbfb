"""The Step by step tab driven through its widgets: a drawn digit stepped forward and
backward, a click on an output cell, a finished channel, "loops = engine", the SGD step."""

import re

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from cnnlab.app.panels.canvas import DrawingCanvas
from cnnlab.app.panels.step_panel import BACKWARD, SGD_PAGE, StepByStepPanel
from cnnlab.app.session import load_dataset

WAIT_MS = 20000


@pytest.fixture
def canvas(qtbot):
    c = DrawingCanvas()
    qtbot.addWidget(c)
    # a real test digit pasted onto the canvas, as the Draw tab would hold it
    ds = load_dataset("mnist", "sample")
    c.paste_array(ds.x_test[0, 0])
    return c


@pytest.fixture
def panel(qtbot, session, canvas):
    p = StepByStepPanel(session, drawing=canvas.image_array)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitUntil(lambda: p.walk is not None and not p.busy, timeout=WAIT_MS)
    return p


def settle(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)


def click_cell(qtbot, grid, row, col):
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=grid.cell_centre(row, col).toPoint())


def test_first_conv_and_the_drawing_are_the_defaults(panel, session):
    assert panel.source.from_drawing
    assert panel.problem.index == 0 and panel.problem.kind == "conv"
    assert panel.source.layer.count() == 2  # conv and max pool of the small net
    assert panel.problem.a_prev.shape == (1, 1, 28, 28)
    # the label follows the network's guess until the student picks one
    guess = int(session.model.predict(panel.current_input.image.astype(np.float32)))
    assert panel.problem.label == guess == panel.source.label.currentIndex()
    assert "before the first window" in panel.playback.position.text()


def test_step_forward_on_a_drawn_digit(qtbot, panel):
    for _ in range(3):
        qtbot.mouseClick(panel.playback.step, Qt.MouseButton.LeftButton)
    walk, p = panel.walk, panel.problem
    assert walk.position == 3 and walk.cell == (0, 2)
    assert walk.record.value == pytest.approx(p.z[0, 0, 0, 2], abs=1e-12)
    view = panel.forward
    assert view.output_map.known.sum() == 3 and view.output_map.cell == (0, 2)
    assert len(view.input_map.taps) == 9  # a 3×3 window
    assert "output[0, 0, 2]" in view.result.text()
    assert "cell (0, 2) · 3 / 676 windows of channel 0" in panel.playback.position.text()


def test_click_an_output_cell_to_jump_there_and_back(qtbot, panel):
    click_cell(qtbot, panel.forward.output_map, 5, 7)
    settle(qtbot, panel)
    assert panel.walk.cell == (5, 7) and panel.walk.position == 5 * 26 + 8
    click_cell(qtbot, panel.forward.output_map, 1, 1)  # earlier: starts the channel again
    settle(qtbot, panel)
    assert panel.walk.cell == (1, 1) and panel.walk.position == 26 + 2


def test_channel_choice_and_finish_this_channel(qtbot, panel):
    panel.source.channel.setValue(4)
    assert panel.walk.channel == 4 and panel.walk.position == 0
    qtbot.mouseClick(panel.playback.finish, Qt.MouseButton.LeftButton)
    settle(qtbot, panel)
    assert panel.walk.done
    np.testing.assert_allclose(panel.walk.record.output[0, 0], panel.problem.z[0, 4], atol=1e-12)
    assert not np.isnan(panel.forward.output_map.values).any()
    assert "done" in panel.playback.position.text()


def test_backward_steps_accumulate_and_loops_equal_engine(qtbot, panel):
    panel.pages.setCurrentIndex(BACKWARD)
    assert panel.walk.direction == "backward"
    qtbot.mouseClick(panel.playback.step, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.playback.step, Qt.MouseButton.LeftButton)
    dz = panel.problem.dz[0, 0]
    assert panel.walk.record.db[0] == pytest.approx(dz[0, 0] + dz[0, 1], abs=1e-15)
    assert "db[0] +=" in panel.backward.result.text()
    assert panel.backward.dz_map.cell == (0, 1)
    qtbot.mouseClick(panel.playback.finish, Qt.MouseButton.LeftButton)
    # the end of the channel starts the whole-layer comparison
    qtbot.waitUntil(lambda: panel.check is not None, timeout=WAIT_MS)
    np.testing.assert_allclose(panel.walk.record.dW[0], panel.problem.engine_dW[0], atol=1e-12)
    text = panel.check_label.text()
    assert "loops = engine" in text and "over all 9 channels" in text
    assert "<" not in text  # a plain-text label: markup would show as tags
    figure = float(re.search(r"max \|Δ\| = ([0-9.e+-]+) ", text).group(1))
    assert figure == pytest.approx(panel.check.worst, rel=0.06) and figure < 1e-12


def test_play_pause_and_speed(qtbot, panel):
    panel.playback.speed.setValue(panel.playback.speed.maximum())
    qtbot.mouseClick(panel.playback.play, Qt.MouseButton.LeftButton)
    assert panel.timer.isActive() and panel.playback.play.text() == "Pause"
    qtbot.waitUntil(lambda: panel.walk.position > 20, timeout=WAIT_MS)
    qtbot.mouseClick(panel.playback.play, Qt.MouseButton.LeftButton)
    assert not panel.timer.isActive()
    stopped = panel.walk.position
    qtbot.wait(100)
    assert panel.walk.position == stopped


def test_pooling_layer_shows_the_window_max(qtbot, panel):
    panel.source.layer.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.problem is not None and panel.problem.kind == "max",
                    timeout=WAIT_MS)
    settle(qtbot, panel)
    qtbot.mouseClick(panel.playback.step, Qt.MouseButton.LeftButton)
    assert "max(window)" in panel.forward.result.text()
    assert not panel.forward.products_grid.isVisible()
    panel.pages.setCurrentIndex(BACKWARD)
    qtbot.mouseClick(panel.playback.step, Qt.MouseButton.LeftButton)
    rec = panel.walk.record
    assert rec.share.sum() == pytest.approx(rec.grad) and np.count_nonzero(rec.share) <= 1
    assert "first maximum" in panel.backward.result.text()


def test_dataset_images_with_arrows_and_their_label(qtbot, panel, session):
    panel.source.source.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.problem is not None and not panel.busy, timeout=WAIT_MS)
    qtbot.mouseClick(panel.source.next, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.current_input is not None
                    and panel.current_input.caption.startswith("test image 1:"), timeout=WAIT_MS)
    settle(qtbot, panel)
    assert panel.problem.label == int(session.dataset.y_test[1])
    assert panel.source.label.currentIndex() == panel.problem.label
    assert not panel.source.label.isEnabled()


def test_the_student_picks_the_drawings_label(qtbot, panel):
    wrong = (panel.problem.label + 1) % 10
    panel.choose_label(wrong)
    qtbot.waitUntil(lambda: panel.problem is not None and panel.problem.label == wrong,
                    timeout=WAIT_MS)
    assert panel.problem.loss > 0.01  # the wrong label costs more: the gradients grow


def test_sgd_step_works_on_a_copy(qtbot, panel, session):
    before = session.model.get_weights()
    panel.pages.setCurrentIndex(SGD_PAGE)
    qtbot.waitUntil(lambda: panel.sgd_report is not None, timeout=WAIT_MS)
    r = panel.sgd_report
    assert r.loss_after < r.loss_before
    assert "→" in panel.sgd.summary.text()
    assert all(np.array_equal(v, session.model.get_weights()[k]) for k, v in before.items())
    assert panel.sgd.after.values is not None and not panel.playback.isVisible()


def test_an_empty_drawing_says_what_to_do(qtbot, session):
    p = StepByStepPanel(session, drawing=lambda: np.zeros((280, 280), np.uint8))
    qtbot.addWidget(p)
    p.show()
    assert "Draw a digit on the Draw tab first" in p.message.text() and p.message.isVisible()
    assert p.problem is None and not p.playback.step.isEnabled()


def test_a_new_model_picks_its_first_conv_and_says_when_the_drawing_cannot_go_in(
        qtbot, panel, session):
    from cnnlab.lab.presets import build_preset

    session.set_model(build_preset("Linear softmax (784→10)"), "linear")
    qtbot.waitUntil(lambda: panel.message.isVisible(), timeout=WAIT_MS)
    assert "no Conv2D or pooling layer" in panel.message.text()
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar")
    assert "takes 3×32×32 inputs" in panel.message.text()
    assert "Choose “test image”" in panel.message.text()
    assert panel.source.layer.count() == 4 and panel.source.layer.currentData() == 0
    session.set_model(build_preset("LeNet-like (32-64 conv, 128 dense)"), "lenet")
    qtbot.waitUntil(lambda: panel.problem is not None and not panel.busy, timeout=WAIT_MS)
    assert not panel.message.isVisible() and panel.problem.channels == 32
    panel.source.layer.setCurrentIndex(2)  # the second conv: 32 input channels
    qtbot.waitUntil(lambda: panel.problem is not None and panel.problem.index == 3
                    and not panel.busy, timeout=WAIT_MS)
    panel.source.in_channel.setValue(5)
    qtbot.mouseClick(panel.playback.step, Qt.MouseButton.LeftButton)
    assert "input channel 5" in panel.forward.input_map.title
    assert "Σ over all 32 input channels" in panel.forward.result.text()
