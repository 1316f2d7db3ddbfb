"""Kernels & Blur tab: blur lab, filters of the current model, kernel recovery."""

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QImage

from cnnlab.app.panels.kernels_panel import KernelsPanel
from cnnlab.app.session import Session, WeightsSnapshot, load_dataset
from cnnlab.lab import kernels as K
from cnnlab.lab import recovery as R
from cnnlab.lab.filter_views import filter_strips, kernel_tiles
from cnnlab.lab.image_source import load_cifar_images
from cnnlab.lab.presets import build_preset
from cnnlab.lab.training import TrainingConfig

CIFAR_NET = "CIFAR-10 net (32-64 conv, 128 dense)"
SMALL_NET = "Conv3x3×9 → MaxPool2 → Softmax"


@pytest.fixture
def session():
    s = Session()
    yield s
    s.shutdown()


@pytest.fixture
def panel(qtbot, session):
    session.set_model(build_preset(CIFAR_NET), CIFAR_NET)
    p = KernelsPanel(session)
    qtbot.addWidget(p)
    p.resize(1280, 760)
    return p


def shown_images(view):
    return view.images.x[view.indices]


def choose(combo, data):
    combo.setCurrentIndex(combo.findData(data))


# ------------------------------------------------------------------ blur lab


def test_size_from_sigma_is_on_by_default_and_a_fixed_size_shows_what_it_cuts(qtbot, panel):
    view = panel.blur_view
    assert view.auto_size.isChecked() and not view.size_spin.isEnabled()
    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.sigma_spin.setValue(3.0)
    assert view.kernel.shape == (19, 19) and view.size_spin.value() == 19  # 2⌈3σ⌉ + 1
    np.testing.assert_allclose(view.kernel, K.gaussian(19, 3.0))
    assert "2⌈3σ⌉ + 1 = 19" in view.designer.truncation.text()
    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.auto_size.setChecked(False)
        view.size_spin.setValue(5)
    np.testing.assert_allclose(view.kernel, K.gaussian(5, 3.0))
    text = view.designer.truncation.text()
    kept = 100 * K.gaussian_kept(5, 3.0)
    assert f"keeps only {kept:.0f} %" in text and "needs k = 19" in text


def test_an_impossible_setting_keeps_the_controls_in_place(qtbot, panel):
    panel.resize(1024, 700)
    panel.show()
    qtbot.waitExposed(panel)
    view = panel.blur_view
    spots = {w: w.mapTo(view, QPoint(0, 0)) for w in (view.stride_spin, view.dilation_spin)}
    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.auto_size.setChecked(False)
        view.size_spin.setValue(13)
        view.padding_spin.setValue(0)
        view.dilation_spin.setValue(3)  # reach 3·12 + 1 = 37 > 32: impossible
    qtbot.wait(50)
    assert view.after is None and view.message.text()
    assert all(w.mapTo(view, QPoint(0, 0)) == spot for w, spot in spots.items())
    assert view.message.isVisible() and not view.message.visibleRegion().isEmpty()
    assert "impossible" in view.large.after_caption


def test_kernel_values_are_written_only_where_they_fit(qtbot):
    from cnnlab.app.panels.kernel_heatmap import KernelHeatmap

    heat = KernelHeatmap()
    qtbot.addWidget(heat)
    heat.resize(420, 400)
    heat.show()
    qtbot.waitExposed(heat)
    heat.set_kernel(K.gaussian(7, 1.0))
    assert heat.labels_fit() and all(item.isVisible() for item in heat.labels[:49])
    heat.resize(190, 110)  # a squeezed column: ".00024" would run into its neighbours
    qtbot.waitUntil(lambda: not heat.labels_fit(), timeout=2000)
    assert not any(item.isVisible() for item in heat.labels)
    heat.scene().sigMouseMoved.emit(heat.cell_scene_pos(3, 3))
    assert heat.hover_text.startswith("row 3, col 3: 0.159")  # hovering still tells


def test_sigma_and_stride_update_images_and_output_size(qtbot, panel):
    view = panel.blur_view
    choose(view.kernel_combo, "gaussian")
    view.auto_size.setChecked(False)
    view.size_spin.setValue(5)
    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.sigma_spin.setValue(2.0)
    expected = K.blur_images(shown_images(view), K.gaussian(5, 2.0), stride=1, padding="same")
    np.testing.assert_allclose(view.after, expected, rtol=1e-6, atol=1e-4)
    assert view.strip.after_size == (32, 32) and "= 32" in view.output_size_text()
    first_after = view.strip.after[0].copy()

    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.stride_spin.setValue(2)
    assert view.after.shape == (10, 3, 16, 16)
    assert view.strip.after_size == (16, 16) and view.strip.after[0] != first_after
    assert "⌋ + 1 = 16" in view.output_size_text()

    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.padding_spin.setValue(0)  # valid: ⌊(32 + 0 − 4 − 1) / 2⌋ + 1 = 14
    expected = K.blur_images(shown_images(view), K.gaussian(5, 2.0), stride=2, padding=0)
    np.testing.assert_allclose(view.after, expected, rtol=1e-6, atol=1e-4)
    assert "⌊(32 + 2·0 − 1·(5 − 1) − 1) / 2⌋ + 1 = 14" in view.output_size_text()

    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.dilation_spin.setValue(6)
        view.size_spin.setValue(7)  # reach 37 > 32: does not fit
    assert view.after is None and "does not fit" in view.message.text()


def test_dragging_sigma_is_coalesced_into_one_update(qtbot, panel):
    view = panel.blur_view
    choose(view.kernel_combo, "gaussian")
    view.auto_size.setChecked(False)
    view.size_spin.setValue(5)
    qtbot.waitUntil(lambda: not view._timer.isActive(), timeout=2000)
    seen = []
    view.filtered.connect(lambda: seen.append(view.sigma_spin.value()))
    for v in range(5, 31, 5):  # a drag: six slider positions within one event-loop turn
        view.sigma_slider.setValue(v)
    qtbot.waitUntil(lambda: len(seen) >= 1, timeout=2000)
    qtbot.wait(3 * 25)
    assert seen == [3.0]
    expected = K.blur_images(shown_images(view), K.gaussian(5, 3.0))
    np.testing.assert_allclose(view.after, expected, rtol=1e-6, atol=1e-4)


def test_shuffle_changes_the_set_and_names(qtbot, panel):
    view = panel.blur_view
    assert len(view.images.x) == 20  # the bundled sample
    before = set(view.indices.tolist())
    with qtbot.waitSignal(view.filtered, timeout=2000):
        qtbot.mouseClick(view.shuffle_button, Qt.MouseButton.LeftButton)
    after = set(view.indices.tolist())
    assert len(after) == 10 and after != before
    names = [view.images.class_names[int(view.images.y[i])] for i in view.indices]
    assert view.strip.names == names
    np.testing.assert_allclose(view.after, K.blur_images(shown_images(view), view.kernel),
                               rtol=1e-6, atol=1e-4)


def test_classic_blur_and_custom_values_take_effect(qtbot, panel):
    view = panel.blur_view
    with qtbot.waitSignal(view.filtered, timeout=2000):
        qtbot.mouseClick(view.classic_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(view.kernel, K.classic_blur())
    assert view.table.rowCount() == 3 and view.table.item(1, 1).text() == "0.25"

    assert view.table.isHidden()
    qtbot.mouseClick(view.edit_button, Qt.MouseButton.LeftButton)  # custom, from the classic blur
    assert view.kernel_name() == "custom" and not view.table.isHidden()
    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.table.item(1, 1).setText("2")
    custom = K.classic_blur()
    custom[1, 1] = 2.0
    np.testing.assert_array_equal(view.kernel, custom)
    np.testing.assert_allclose(view.after, K.blur_images(shown_images(view), custom),
                               rtol=1e-6, atol=1e-3)
    heatmap = view.heatmap
    heatmap.scene().sigMouseMoved.emit(heatmap.cell_scene_pos(1, 1))  # hover the centre
    assert heatmap.hover_text == "row 1, col 1: 2" == heatmap.toolTip()
    assert "row 1, col 1: 2" in view.kernel_info.text()
    assert [t.toPlainText() for t in heatmap.labels[:3]] == ["0.0625", "0.125", "0.0625"]

    view.table.item(0, 0).setText("abc")
    assert "not a number" in view.message.text()
    np.testing.assert_array_equal(view.kernel, custom)  # unchanged

    with qtbot.waitSignal(view.filtered, timeout=2000):
        view.size_spin.setValue(5)  # the custom grid grows around its centre
    assert view.kernel.shape == (5, 5) and view.kernel[2, 2] == 2.0 and view.kernel[0, 0] == 0.0


def test_full_mode_and_clipping_not_wrapping(qtbot, panel):
    view = panel.blur_view
    with qtbot.waitSignal(view.filtered, timeout=2000):
        choose(view.kernel_combo, "sharpen")
    with qtbot.waitSignal(view.filtered, timeout=2000):
        choose(view.mode_combo, "full")
    expected = K.blur_images(shown_images(view), K.sharpen(), mode="full")
    np.testing.assert_allclose(view.after, expected, rtol=1e-6, atol=1e-3)
    # out-of-range values show clipped: find a pixel above 255 and one below 0
    img = view.strip.after[0]
    red = expected[0, 0]  # (32, 32): the red channel of the first image
    for mask, shown in ((red > 255, 255), (red < 0, 0)):
        ys, xs = np.nonzero(mask)
        assert len(ys), "sharpen in full mode should leave 0–255 somewhere"
        assert img.pixelColor(int(xs[0]), int(ys[0])).red() == shown


def test_edge_kernels_can_show_negative_values(qtbot, panel):
    view = panel.blur_view
    with qtbot.waitSignal(view.filtered, timeout=2000):
        choose(view.kernel_combo, "sobel_x")
    red = view.after[0, 0]
    ys, xs = np.nonzero(red < -40)
    assert len(ys), "a Sobel filter of a photo has strongly negative edges"
    y, x = int(ys[0]), int(xs[0])
    assert view.strip.after[0].pixelColor(x, y).red() == 0  # clipped: black
    with qtbot.waitSignal(view.filtered, timeout=2000):
        choose(view.display_combo, "abs")
    assert view.strip.after[0].pixelColor(x, y).red() == min(255, round(-red[y, x]))
    with qtbot.waitSignal(view.filtered, timeout=2000):
        choose(view.display_combo, "offset")
    assert view.strip.after[0].pixelColor(x, y).red() == max(0, round(red[y, x] + 128))


def test_click_enlarges_and_save_png(qtbot, panel, tmp_path):
    panel.show()
    qtbot.waitExposed(panel)
    view = panel.blur_view
    strip = view.strip
    cell, _ = strip._layout(strip.width(), strip.height())
    x = int(strip.LABEL_W + 3 * (cell + strip.GAP) + cell / 2)
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, int(strip.GAP + cell / 2)))
    assert strip.selected == 3
    name = view.images.class_names[int(view.images.y[view.indices[3]])]
    assert view.large.caption.startswith(name)
    assert view.large.before.pixelColor(0, 0).green() == view.images.x[view.indices[3], 1, 0, 0]

    path = tmp_path / "strip.png"
    view.save_png(str(path))
    saved = QImage(str(path))
    assert saved.width() == strip.LABEL_W + 10 * (128 + strip.GAP)
    # the first before image's top-left pixel, drawn 4×4 at (LABEL_W + 0, GAP)
    px = saved.pixelColor(strip.LABEL_W + 1, strip.GAP + 1)
    assert (px.red(), px.green(), px.blue()) == tuple(view.images.x[view.indices[0], :, 0, 0])
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left behind


def test_photos_follow_the_open_dataset(qtbot, panel, session):
    assert panel.images.name == "CIFAR-10 sample" and "bundled" in panel.source_message.text()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, 300)
    from cnnlab.app.session import DatasetBundle

    ds = DatasetBundle("CIFAR-10 (250 / 50, from …/c10)", "/data/c10", "cifar10", x[:250],
                       y[:250], x[250:], y[250:], tuple(f"class {i}" for i in range(10)))
    session.set_dataset(ds)
    assert panel.images.x is ds.x_test  # the session's own array: nothing loaded, no copy
    assert panel.blur_view.images is panel.images and panel.recovery_view.images is panel.images
    assert "open dataset" in panel.source_message.text()
    session.set_dataset(load_dataset("mnist", "sample"))  # digits: back to the bundled photos
    assert panel.images.name == "CIFAR-10 sample" and panel.images.x is not ds.x_test


def test_settings_round_trip(qtbot, panel, session, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    view = panel.blur_view
    choose(view.kernel_combo, "classic_blur")
    choose(view.kernel_combo, "custom")
    view.table.item(0, 1).setText("3")
    view.stride_spin.setValue(3)
    panel.save_settings(settings)
    other = KernelsPanel(session)
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.blur_view.stride_spin.value() == 3
    np.testing.assert_array_equal(other.blur_view.kernel, view.kernel)


# ----------------------------------------------------------- model filters


def first_kernels(model):
    return model.layers[0].params["W"][:, 0]  # (F, 3, 3): one input channel, shown as it is


def test_filters_view_shows_first_layer_and_follows_the_model(qtbot, panel, session):
    fv = panel.filters_view
    panel.tabs.setCurrentWidget(fv)
    panel.show()
    qtbot.waitExposed(panel)
    w0 = session.model.layers[0].params["W"]  # (32, 3, 3, 3): shown in colour
    np.testing.assert_allclose(fv.grid.tiles, kernel_tiles(w0).tiles)
    assert fv.layer_combo.count() == 2
    fv.layer_combo.setCurrentIndex(1)
    w1 = session.model.layers[3].params["W"]  # (64, 32, 3, 3): one strip per filter
    np.testing.assert_array_equal(fv.grid.tiles, filter_strips(w1).tiles)

    session.set_dataset(load_dataset("mnist", "sample"))
    session.set_model(build_preset(SMALL_NET), SMALL_NET)
    assert fv.layer_combo.count() == 1
    np.testing.assert_array_equal(fv.grid.tiles, first_kernels(session.model))

    snapshot = session.model.copy()
    snapshot.layers[0].params["W"] *= -2
    session.weights_updated.emit(WeightsSnapshot(snapshot, 1, 3))
    np.testing.assert_array_equal(fv.grid.tiles, first_kernels(snapshot))
    assert "epoch 1, batch 3" in fv.info.text()

    # a real (tiny) training run: the view ends on the trained weights
    with qtbot.waitSignal(session.training_finished, timeout=20000):
        session.start_training(TrainingConfig(epochs=1, batch_size=32, subset=96, val_fraction=0))
    np.testing.assert_array_equal(fv.grid.tiles, first_kernels(session.model))


def test_filters_view_updates_while_hidden_only_when_shown(qtbot, panel, session):
    fv = panel.filters_view
    assert not fv.isVisible()
    session.set_model(build_preset(SMALL_NET), SMALL_NET)
    assert fv.shown_model is not session.model  # not rendered while hidden
    panel.tabs.setCurrentWidget(fv)
    panel.show()
    qtbot.waitExposed(panel)
    assert fv.shown_model is session.model
    np.testing.assert_array_equal(fv.grid.tiles, first_kernels(session.model))


def test_image_source_sample_pools_both_halves():
    images = load_cifar_images("sample")
    assert images.x.shape == (20, 3, 32, 32) and images.x.dtype == np.uint8
    assert images.y.shape == (20,) and len(images.class_names) == 10


# ---------------------------------------------------------- kernel recovery


def test_recovery_runs_to_completion_through_a_job(qtbot, panel, session):
    rv = panel.recovery_view
    assert rv.images_spin.maximum() == 20  # as many photos as the sample has
    rv.images_spin.setValue(2)
    rv.steps_spin.setValue(3)
    qtbot.mouseClick(rv.start_button, Qt.MouseButton.LeftButton)
    job = rv.job
    assert job is not None and not rv.start_button.isEnabled()
    with qtbot.waitSignal(job.finished, timeout=30000):
        pass
    result = rv.result
    assert result.steps == 3 and not result.stopped and not result.converged
    # the same run straight through the engine gives the same numbers
    expected = R.recover_kernels(rv.images.x[:2], R.random_target_kernels(seed=0), max_steps=3,
                                 seed=0, max_images=2, padding=2)  # the exercise's padding
    assert result.max_abs_error == pytest.approx(expected.max_abs_error, rel=1e-9)
    assert f"{expected.max_abs_error:.3g}" in rv.result_label.text()
    assert "step budget used up after 3 steps" in rv.status_label.text()
    assert len(rv.loss_curve.getData()[0]) == 4  # steps 0..3
    scale = np.abs(result.target).max()
    np.testing.assert_allclose(rv.learned_grid.tiles, filter_strips(result.weights).tiles)
    assert rv.learned_grid.levels == rv.target_grid.levels == pytest.approx((-scale, scale))
    assert rv.start_button.isEnabled() and not rv.cancel_button.isEnabled()


def test_recovery_starts_as_the_exercise_sets_it(qtbot, panel):
    from dataclasses import replace

    rv = panel.recovery_view
    lb = rv.learning
    assert rv.plot_note.isVisibleTo(rv)  # the empty plot says what will come
    assert lb.padding_spin.value() == 2 and lb.batch_spin.value() == 20
    assert not lb.batch_spin.isEnabled()  # conjugate gradient uses every photo
    assert lb.kwargs(20)["batch_size"] is None and lb.kwargs(20)["padding"] == 2
    choose(lb.optimizer_combo, "sgd")
    assert lb.batch_spin.isEnabled() and lb.kwargs(20)["batch_size"] == 20
    choose(lb.init_combo, "normal")
    lb.sigma_spin.lineEdit().selectAll()
    qtbot.keyClicks(lb.sigma_spin.lineEdit(), "1e-5")
    lb.sigma_spin.interpretText()
    assert lb.kwargs(20)["init_sigma"] == 1e-5 and "normal(σ = 1e-05)" in rv.intro.text()
    many = replace(rv.images, x=np.repeat(rv.images.x, 10, axis=0), y=np.repeat(rv.images.y, 10))
    rv.set_images(many)  # a larger CIFAR set: the exercise's 100 photos
    assert rv.images_spin.value() == 100 and "of 200 available" in rv.images_label.text()


def test_recovery_cancel_stops_it(qtbot, panel, session):
    rv = panel.recovery_view
    rv.images_spin.setValue(2)
    rv.steps_spin.setValue(100_000)
    rv.tolerance_spin.setValue(1e-6)
    # Adam never gets to 1e-6 here, so the run is surely still going when Cancel arrives
    # (conjugate gradient on 2 photos reaches it in ~1,000 steps, well under a second)
    combo = rv.learning.optimizer_combo
    combo.setCurrentIndex(combo.findData("adam"))
    qtbot.mouseClick(rv.start_button, Qt.MouseButton.LeftButton)
    job = rv.job
    with qtbot.waitSignal(job.progress, timeout=10000):
        pass
    with qtbot.waitSignal(job.cancelled, timeout=10000):
        qtbot.mouseClick(rv.cancel_button, Qt.MouseButton.LeftButton)
    assert rv.result.stopped and rv.result.steps < 100_000
    assert "stopped by Cancel" in rv.status_label.text() and rv.job is None


def test_recovery_target_from_npy_file(qtbot, panel, tmp_path):
    rv = panel.recovery_view
    bad = tmp_path / "grey.npy"
    np.save(bad, np.zeros((20, 1, 5, 5)))
    assert not rv.load_target(str(bad))
    assert "grey.npy" in rv.message.text() and "input channels" in rv.message.text()
    assert rv.random_radio.isChecked()
    text = tmp_path / "notes.npy"
    text.write_text("not an array")
    assert not rv.load_target(str(text)) and "notes.npy" in rv.message.text()

    good = tmp_path / "c0.npy"
    target = np.random.default_rng(3).normal(size=(4, 3, 3, 3))
    np.save(good, target)
    assert rv.load_target(str(good)) and rv.message.text() == ""
    assert rv.file_radio.isChecked() and "4 filters 3×3×3" in rv.file_label.text()
    np.testing.assert_array_equal(rv.current_target(), target)
    np.testing.assert_allclose(rv.target_grid.tiles, filter_strips(target).tiles, rtol=1e-6)
    np.testing.assert_allclose(rv.target_grid.tiles[2, :3, 4:7], target[2, 1], rtol=1e-6)


def test_panel_without_a_model(qtbot, session):
    p = KernelsPanel(session)
    qtbot.addWidget(p)
    assert p.filters_view.layer_combo.count() == 0 and p.filters_view.grid.tiles is None
    p.tabs.setCurrentWidget(p.filters_view)
    p.show()
    qtbot.waitExposed(p)
    assert p.filters_view.info.text() == "no model loaded"
    qtbot.waitUntil(lambda: p.blur_view.after is not None, timeout=2000)
    assert p.blur_view.after.shape == (10, 3, 32, 32)  # the blur lab needs no model
