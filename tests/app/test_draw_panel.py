"""The Draw tab: strokes with real mouse events, the 28×28 preview, bars, Clear/Undo,
shortcuts, the "unsure"/empty states, models that cannot read digits, and saving a
corrected drawing to the user's digits."""

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QKeySequence

from cnnlab.app.panels import draw_panel as draw_module
from cnnlab.app.panels.draw_panel import DrawPanel, format_percent
from cnnlab.app.panels.feature_maps_view import grid_columns
from cnnlab.app.session import Session, load_dataset
from cnnlab.data.preprocess import MNIST_CENTER, center_of_mass
from cnnlab.data.user_digits import UserDigits
from cnnlab.engine.model import load as load_model
from cnnlab.lab.drawing import UNSURE_BELOW
from cnnlab.lab.presets import build_preset
from cnnlab.lab.training import TrainingConfig
from cnnlab.resources import resource_path

SMALL_PRESET = "Conv3x3×9 → MaxPool2 → Softmax"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", "sample")


@pytest.fixture(scope="module")
def default_model():
    return load_model(resource_path("models", "digits.npz"))


def make_panel(qtbot, tmp_path, mnist, model=None, name="default digits"):
    session = Session()
    session.set_dataset(mnist)
    session.set_model(model if model is not None else build_preset(SMALL_PRESET), name)
    panel = DrawPanel(session, user_digits_path=tmp_path / "user_digits.npz")
    qtbot.addWidget(panel)
    panel.resize(1100, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def panel(qtbot, tmp_path, mnist):
    return make_panel(qtbot, tmp_path, mnist)


def canvas_point(canvas, fx, fy) -> QPoint:
    """Widget position of the fraction (fx, fy) of the drawing square."""
    sq = canvas._square()
    return QPoint(round(sq.x() + fx * sq.width()), round(sq.y() + fy * sq.height()))


def stroke(qtbot, canvas, points, steps=6):
    """Press at the first point, move through the others (``steps`` moves per segment),
    release at the last: what a user's drag sends."""
    pts = [canvas_point(canvas, *p) for p in points]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pts[0])
    for a, b in zip(pts, pts[1:]):
        for k in range(1, steps + 1):
            t = k / steps
            qtbot.mouseMove(canvas, QPoint(round(a.x() + t * (b.x() - a.x())),
                                           round(a.y() + t * (b.y() - a.y()))))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pts[-1])


def wait_for_guess(qtbot, panel):
    qtbot.waitUntil(lambda: panel.guess is not None and not panel.guess.empty
                    and not panel._timer.isActive(), timeout=2000)
    return panel.guess


def draw_one(qtbot, canvas):
    stroke(qtbot, canvas, [(0.52, 0.15), (0.47, 0.85)])


def draw_zero(qtbot, canvas):
    t = np.linspace(0, 2 * np.pi, 25)
    stroke(qtbot, canvas, list(zip(0.5 + 0.25 * np.sin(t), 0.5 - 0.35 * np.cos(t))), steps=2)


def test_empty_canvas_shows_no_guess(panel):
    panel.refresh()
    assert panel.canvas.is_empty()
    assert panel.guess is not None and panel.guess.empty
    assert panel.guess_label.text() == ""
    assert np.all(panel.bars.opts["height"] == 0)
    assert not np.any(panel.guess.network_input)


def test_stroke_gives_a_centred_28x28_preview_and_bars(qtbot, panel):
    draw_one(qtbot, panel.canvas)
    assert len(panel.canvas.items) == 1 and len(panel.canvas.items[0].points) > 5
    guess = wait_for_guess(qtbot, panel)
    x = guess.network_input
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5
    r, c = center_of_mass(x)
    assert abs(r - MNIST_CENTER[0]) <= 1.0 and abs(c - MNIST_CENTER[1]) <= 1.0
    # the preview shows this array, nearest-neighbour scaled
    pix = panel.preview.pixmap().toImage()
    assert (pix.width(), pix.height()) == (28 * draw_module.PREVIEW_SCALE,) * 2
    s = draw_module.PREVIEW_SCALE
    grey = np.array([[pix.pixelColor(j * s + s // 2, i * s + s // 2).red() for j in range(28)]
                     for i in range(28)])
    np.testing.assert_allclose(grey, np.rint(x * 255), atol=1)
    heights = np.asarray(panel.bars.opts["height"])
    np.testing.assert_allclose(heights, guess.probabilities)
    assert heights.sum() == pytest.approx(1.0, abs=1e-5)
    text = panel.guess_label.text()
    assert text == ("unsure" if guess.unsure else str(guess.label))


def test_ink_width_looks_like_mnist(qtbot, panel, mnist):
    """After preprocessing, a drawn '1' is 2–3.5 px wide (MNIST's "1"s: median 2.9 px) and a
    drawn '0' has about as much ink as MNIST zeros."""
    draw_one(qtbot, panel.canvas)
    x = wait_for_guess(qtbot, panel).network_input
    rows = x.sum(axis=1)  # ink per row of the vertical stroke
    assert 2.0 <= np.median(rows[rows > 0.5]) <= 3.5
    panel.canvas.clear()
    draw_zero(qtbot, panel.canvas)
    x = wait_for_guess(qtbot, panel).network_input
    zeros = mnist.x_train[mnist.y_train == 0][:, 0] / 255.0
    ink, mnist_ink = x.sum(), zeros.sum(axis=(1, 2))
    assert np.percentile(mnist_ink, 10) < ink < np.percentile(mnist_ink, 90)


def test_drawn_digits_are_recognized_by_the_default_model(qtbot, tmp_path, mnist, default_model):
    panel = make_panel(qtbot, tmp_path, mnist, default_model)
    draw_one(qtbot, panel.canvas)
    guess = wait_for_guess(qtbot, panel)
    assert guess.label == 1 and not guess.unsure
    assert panel.guess_label.text() == "1"
    panel.canvas.clear()
    draw_zero(qtbot, panel.canvas)
    guess = wait_for_guess(qtbot, panel)
    assert guess.label == 0 and not guess.unsure


def test_undo_removes_exactly_the_last_stroke(qtbot, panel):
    draw_one(qtbot, panel.canvas)
    after_first = panel.canvas.image_array()
    stroke(qtbot, panel.canvas, [(0.2, 0.3), (0.8, 0.35), (0.6, 0.9)])
    assert len(panel.canvas.items) == 2
    assert not np.array_equal(panel.canvas.image_array(), after_first)
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert len(panel.canvas.items) == 1
    np.testing.assert_array_equal(panel.canvas.image_array(), after_first)
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert panel.canvas.is_empty() and not panel.canvas.image_array().any()
    panel.refresh()
    assert panel.guess.empty and panel.guess_label.text() == ""


def test_clear_empties_canvas_and_guess(qtbot, panel):
    draw_one(qtbot, panel.canvas)
    stroke(qtbot, panel.canvas, [(0.3, 0.5), (0.7, 0.5)])
    wait_for_guess(qtbot, panel)
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.canvas.is_empty() and not panel.canvas.image_array().any()
    qtbot.waitUntil(lambda: panel.guess.empty, timeout=2000)
    assert panel.guess_label.text() == ""
    assert np.all(panel.bars.opts["height"] == 0)


def test_shortcuts_undo_and_clear(qtbot, panel):
    assert panel.undo_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert panel.clear_action.shortcut() == QKeySequence(Qt.Key.Key_Delete)
    panel.activateWindow()
    qtbot.waitActive(panel)
    draw_one(qtbot, panel.canvas)
    stroke(qtbot, panel.canvas, [(0.2, 0.5), (0.8, 0.5)])
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(panel.canvas.items) == 1
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Delete)
    assert panel.canvas.is_empty()


def test_updates_are_coalesced_while_drawing(qtbot, panel, monkeypatch):
    calls = []
    real = draw_module.guess_digit
    monkeypatch.setattr(draw_module, "guess_digit", lambda *a, **k: calls.append(1) or real(*a, **k))
    stroke(qtbot, panel.canvas, [(0.5, 0.1), (0.5, 0.9)], steps=40)  # 40 moves, no event loop turn
    assert calls == []
    wait_for_guess(qtbot, panel)
    assert len(calls) == 1


def test_unsure_when_top_probability_is_low(qtbot, panel, monkeypatch):
    flat = np.full(10, 0.1)
    flat[3] = 0.19
    flat /= flat.sum()
    monkeypatch.setattr(panel.session.model, "predict_proba", lambda x: flat[None])
    draw_one(qtbot, panel.canvas)
    guess = wait_for_guess(qtbot, panel)
    assert guess.unsure and guess.label == 3 and guess.probability < UNSURE_BELOW
    assert panel.guess_label.text() == "unsure"
    assert "3" in panel.probability_label.text()
    assert "60" in panel.guess_label.toolTip()


def test_feature_maps_and_kernels(qtbot, tmp_path, mnist, default_model):
    panel = make_panel(qtbot, tmp_path, mnist, default_model)
    w = default_model.layers[0].params["W"]  # (32, 1, 5, 5)
    np.testing.assert_array_equal(panel.inside.kernels_grid.tiles, w[:, 0])
    lo, hi = panel.inside.kernels_grid.levels
    assert lo == -hi and hi == pytest.approx(np.abs(w).max())
    draw_zero(qtbot, panel.canvas)
    guess = wait_for_guess(qtbot, panel)
    qtbot.waitUntil(lambda: panel.inside.maps_grid.tiles is not None, timeout=2000)
    spatial = [i for i, _n, a in default_model.activations(guess.network_input[None, None]) if a.ndim == 4]
    picker = panel.inside.layer_picker
    assert [picker.itemData(i) for i in range(picker.count())] == spatial
    assert panel.inside.layer_picker.currentData() == 0  # the first conv layer by default
    expected = default_model.activations(guess.network_input[None, None])[0][2][0]
    np.testing.assert_allclose(panel.inside.maps_grid.tiles, expected, rtol=1e-6, atol=1e-6)
    lo, hi = panel.inside.maps_grid.levels  # one colour scale for every channel
    assert lo == pytest.approx(expected.min()) and hi == pytest.approx(expected.max())
    panel.inside.layer_picker.setCurrentIndex(panel.inside.layer_picker.findData(3))  # second conv layer
    assert panel.inside.maps_grid.tiles.shape == (64, 14, 14)


def test_model_that_cannot_read_digits_shows_a_message(qtbot, panel):
    panel.session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar net")
    draw_one(qtbot, panel.canvas)
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=2000)
    assert panel.guess is None
    assert panel.message_label.isVisible()
    assert "3×32×32" in panel.message_label.text() and "28×28" in panel.message_label.text()
    assert panel.guess_label.text() == ""
    panel.session.set_model(build_preset(SMALL_PRESET), "back to digits")
    wait_for_guess(qtbot, panel)
    assert not panel.message_label.isVisible()



def test_message_takes_the_guess_place_and_saving_needs_no_digit_model(qtbot, panel, tmp_path):
    # The message used to be added below the empty 40-pt guess line, so the middle column
    # grew and squeezed the feature maps; and Save said "Draw a digit first" although a
    # digit was drawn, because only a model's guess carried the 28×28 image.
    maps_height = panel.inside.height()
    panel.session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar net")
    draw_one(qtbot, panel.canvas)
    qtbot.waitUntil(lambda: panel.message_label.isVisible(), timeout=2000)
    assert not panel.guess_label.isVisible() and not panel.probability_label.isVisible()
    qtbot.wait(20)
    assert panel.inside.height() >= maps_height - 2
    panel.label_picker.setCurrentIndex(1)
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert "1 drawing saved" in panel.user_count_label.text()
    x, y = UserDigits(tmp_path / "user_digits.npz").arrays()
    assert y.tolist() == [1] and x[0, 0].max() > 200
    panel.session.set_model(build_preset(SMALL_PRESET), "back to digits")
    wait_for_guess(qtbot, panel)
    assert panel.guess_label.isVisible() and panel.probability_label.isVisible()

def test_model_name_and_untrained_warning(qtbot, panel, tmp_path):
    assert "default digits" in panel.model_label.text()
    assert "untrained" not in panel.model_label.text()
    panel.session.set_model(build_preset(SMALL_PRESET), "small net (untrained)")
    assert "small net" in panel.model_label.text()
    assert "⚠ untrained" in panel.model_label.text()
    panel.session.set_model(build_preset(SMALL_PRESET), "small net (trained 3 epochs)",
                            tmp_path / "mine.npz")
    text = panel.model_label.text()
    assert "trained 3 epochs · loaded from mine.npz" in text and "⚠" not in text


def test_one_state_line_while_training(qtbot, panel):
    session = panel.session
    session.set_model(build_preset(SMALL_PRESET), "small net (untrained)")
    session.start_training(TrainingConfig(epochs=2, subset=600, batch_size=32, val_fraction=0.0))
    try:
        qtbot.waitUntil(lambda: "training, epoch" in panel.model_label.text(), timeout=20000)
        text = panel.model_label.text()
        assert "live weights" in text and "untrained" not in text and "⚠" not in text
    finally:
        session.stop()
        qtbot.waitUntil(lambda: not session.is_training, timeout=20000)
    assert "untrained" not in panel.model_label.text()
    session.shutdown()


def test_draw_first_hint_goes_when_a_digit_is_drawn(qtbot, panel):
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert "Draw a digit first" in panel.user_count_label.text()
    draw_one(qtbot, panel.canvas)
    qtbot.waitUntil(lambda: "drawings saved" in panel.user_count_label.text(), timeout=3000)


def test_prediction_uses_snapshots_during_training(qtbot, panel, monkeypatch):
    session = panel.session
    draw_one(qtbot, panel.canvas)
    wait_for_guess(qtbot, panel)
    used = []  # (training?, model the panel predicted with)
    real = draw_module.guess_digit

    def recording_guess(model, drawing):
        used.append((session.is_training, model))
        return real(model, drawing)

    monkeypatch.setattr(draw_module, "guess_digit", recording_guess)
    session.start_training(TrainingConfig(epochs=3, subset=2000, batch_size=32, val_fraction=0.0))
    try:
        qtbot.waitUntil(lambda: any(t for t, _m in used), timeout=20000)
    finally:
        session.stop()
        qtbot.waitUntil(lambda: not session.is_training, timeout=20000)
        session.shutdown()
    during = [m for t, m in used if t]
    assert during and all(m is not session.model for m in during)  # copies, never the live arrays
    assert panel.guess is not None and not panel.guess.empty


def test_wrong_label_saves_the_drawing(qtbot, panel, tmp_path):
    assert "0 drawings" in panel.user_count_label.text()
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)  # nothing drawn: nothing saved
    assert len(UserDigits(tmp_path / "user_digits.npz")) == 0
    draw_one(qtbot, panel.canvas)
    guess = wait_for_guess(qtbot, panel)
    panel.label_picker.setCurrentIndex(7)
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert "1 drawing saved" in panel.user_count_label.text()
    saved = UserDigits(tmp_path / "user_digits.npz")
    x, y = saved.arrays()
    assert y.tolist() == [7] and x.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(x[0, 0] / 255.0, guess.network_input, atol=0.5 / 255 + 1e-6)
    panel.export_user_digits(tmp_path / "export.npz")
    assert len(UserDigits(tmp_path / "export.npz")) == 1


def test_settings_round_trip(qtbot, panel, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel.label_picker.setCurrentIndex(4)
    panel.save_settings(settings)
    panel.label_picker.setCurrentIndex(0)
    panel.restore_settings(settings)
    assert panel.label_picker.currentIndex() == 4


def test_paste_is_undoable_and_accepts_floats(panel):
    digit = np.zeros((28, 28))
    digit[4:24, 12:16] = 1.0
    panel.canvas.paste_array(digit)
    img = panel.canvas.image_array()
    assert img.shape == (280, 280) and img.max() == 255
    assert img[:, :100].max() == 0  # smooth scaling keeps the ink where it was
    panel.canvas.undo()
    assert not panel.canvas.image_array().any()
    with pytest.raises(ValueError, match="2-D"):
        panel.canvas.paste_array(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("n, w, h, cols", [(32, 800, 100, 16), (32, 300, 300, 6), (1, 10, 10, 1),
                                           (64, 500, 250, 11)])
def test_grid_columns_makes_tiles_largest(n, w, h, cols):
    got = grid_columns(n, w, h)
    side = min(w / got, h / -(-n // got))
    assert all(side >= min(w / c, h / -(-n // c)) for c in range(1, n + 1))
    assert got == cols


def test_format_percent_never_claims_certainty():
    assert format_percent(0.9731) == "97.3 %"
    assert format_percent(0.99996) == "> 99.9 %"
    assert format_percent(np.float32(1.0)) == "> 99.9 %"
    assert format_percent(0.0) == "0.0 %"


def test_no_model_and_a_damaged_user_file_are_reported_not_raised(qtbot, tmp_path):
    (tmp_path / "user_digits.npz").write_bytes(b"not a zip file")
    panel = DrawPanel(Session(), user_digits_path=tmp_path / "user_digits.npz")
    qtbot.addWidget(panel)
    panel.show()
    assert "cannot be read" in panel.user_count_label.text()
    assert "no model" in panel.model_label.text()
    draw_one(qtbot, panel.canvas)
    qtbot.waitUntil(lambda: panel.message_label.isVisible(), timeout=2000)
    assert panel.message_label.text() == "There is no model yet."
    assert panel.guess is None and panel.guess_label.text() == ""


def test_a_1024x700_window_keeps_the_maps_readable(qtbot, tmp_path, mnist, default_model):
    from cnnlab.app.widgets import SHORT_COLORBAR_PX

    panel = make_panel(qtbot, tmp_path, mnist, default_model)
    panel.resize(1024, 593)  # what a 1024×700 window leaves the tab
    qtbot.waitUntil(lambda: panel.lower_tabs.height() >= 230, timeout=3000)
    assert panel.canvas.height() >= 200 and panel.preview.isVisible()
    # the "unsure" line and its label are drawn over the bars, on a white ground
    assert panel.threshold_line.zValue() > panel.bars.zValue()
    grid = panel.inside.kernels_grid
    grid.resize(grid.width(), SHORT_COLORBAR_PX - 40)  # a short colour bar: ends and 0 only
    qtbot.waitUntil(lambda: grid.colorbar.axis._tickLevels is not None, timeout=2000)
    assert len(grid.colorbar.axis._tickLevels[0]) <= 3
