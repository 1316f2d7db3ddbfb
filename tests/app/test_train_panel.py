"""The Train tab: a short real run through the widgets, live plots, Pause/Resume/Stop,
divergence, refusals, the dataset combo, exports and settings."""

import csv

import numpy as np
import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QImage

from cnnlab.app.data_actions import DatasetActions
from cnnlab.app.panels.model_panel import ModelPanel
from cnnlab.app.panels.train_panel import TrainPanel
from cnnlab.app.session import load_dataset
from cnnlab.lab.presets import build_preset
from tests.app.conftest import SMALL


@pytest.fixture
def panel(qtbot, session):
    p = TrainPanel(session, DatasetActions(session))
    qtbot.addWidget(p)
    p.resize(1280, 760)
    p.show()
    p.subset.setValue(256)
    p.batch_size.setValue(32)
    p.epochs.setValue(1)
    p.lr.setValue(0.01)
    return p


def test_config_follows_the_widgets(panel):
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.settings_form.hyper_box("momentum").setValue(0.5)
    panel.l2.setValue(0.001)
    panel.augment.setChecked(True)
    panel.val_fraction.setValue(0.2)
    panel.seed.setValue(7)
    cfg = panel.config()
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.optimizer) == (1, 32, 0.01, "sgd")
    assert cfg.momentum == 0.5 and dict(cfg.hyper) == {"momentum": 0.5}
    assert (cfg.l2, cfg.l1, cfg.augment, cfg.val_fraction, cfg.seed, cfg.subset) == \
        (0.001, 0.0, True, 0.2, 7, 256)
    panel.subset.setValue(0)
    assert panel.config().subset is None and panel.subset.text() == "all"


def test_optimizer_shows_its_own_settings(panel):
    boxes = panel.settings_form.optimizer_fields.boxes
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    assert boxes["adam", "beta1"].isVisibleTo(panel) and not boxes["sgd", "momentum"].isVisibleTo(panel)
    assert panel.config().beta2 == 0.999
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    assert boxes["sgd", "momentum"].isVisibleTo(panel) and not boxes["adam", "beta2"].isVisibleTo(panel)


def test_a_registered_optimizer_appears_in_the_train_tab(qtbot, session, monkeypatch):
    """Adding an optimizer touches optim.py only: the registry feeds the Train tab's list,
    its fields, the config and the optimizer the session builds."""
    from cnnlab.engine import optim

    @optim.register("signsgd", "Sign SGD", optim.Hyper("lr", 0.01, 1e-7, 1.0, log=True),
                    optim.Hyper("scale", 1.0, 0.0, 10.0, "multiplies the sign step"))
    class SignSGD(optim.Optimizer):
        def __init__(self, layers, lr, scale=1.0):
            super().__init__(layers, lr)
            self.scale = scale

        def _update(self, param, grad, state):
            param -= self.lr * self.scale * (grad > 0) - self.lr * self.scale * (grad < 0)

    monkeypatch.setitem(optim.OPTIMIZERS, "signsgd", optim.OPTIMIZERS.pop("signsgd"))
    fresh = TrainPanel(session)
    qtbot.addWidget(fresh)
    index = fresh.optimizer.findData("signsgd")
    assert index >= 0 and fresh.optimizer.itemText(index) == "Sign SGD"
    fresh.optimizer.setCurrentIndex(index)
    fresh.settings_form.hyper_box("scale").setValue(2.0)
    cfg = fresh.config()
    assert cfg.optimizer == "signsgd" and cfg.hyper == {"scale": 2.0}
    opt = cfg.make_optimizer(session.model)
    assert isinstance(opt, SignSGD) and opt.scale == 2.0


def test_one_short_epoch_fills_plots_progress_and_log(qtbot, panel, session):
    weights_before = session.model.layers[0].params["W"].copy()
    assert all(note.isVisibleTo(panel) for note in panel.plots.notes)  # empty plots explain
    with qtbot.waitSignal(session.training_finished, timeout=30000) as done:
        panel.start_button.click()
        assert session.state == "running"
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
        assert not panel.epochs.isEnabled()  # settings are fixed for the run
    lengths = panel.plots.curve_lengths()
    # at the end the batch curve holds every batch (231 train images / 32 → 8 batches)
    assert lengths["batch"] == len(done.args[0].batch_loss) == 8
    np.testing.assert_allclose(panel.plots.batch_raw_curve.xData, np.arange(1, 9) / 8)
    assert lengths["loss"] == 1 and lengths["val_loss"] == 1
    assert lengths["acc"] == 1 and lengths["val_acc"] == 1
    assert not any(note.isVisibleTo(panel) for note in panel.plots.notes)
    assert np.isfinite(panel.plots.batch_smooth_curve.yData).all()
    tiles = panel.plots.filters.tiles  # one per filter (NaN gaps around each)
    assert tiles is not None and len(tiles) == 9
    np.testing.assert_array_equal(tiles[:, :3, :3], session.model.layers[0].params["W"][:, 0])
    assert not np.array_equal(weights_before, session.model.layers[0].params["W"])
    log = panel.log.toPlainText()
    assert "epoch 1/1 — loss " in log and "val_acc" in log and "finished 1 epoch" in log
    assert panel.progress.value() == 1000 and panel.progress.format().startswith("done")
    assert panel.start_button.isEnabled() and not panel.pause_button.isEnabled()


def test_progress_text_and_previous_run_overlay(qtbot, panel, session):
    for _ in range(2):
        with qtbot.waitSignal(session.training_finished, timeout=30000):
            panel.start_training()
    assert panel.plots.previous is not None
    assert len(panel.plots.prev_epoch_curves["loss"].xData) == 1
    assert len(panel.plots.prev_batch_curve.xData) >= 1
    assert panel.log.toPlainText().count("epoch 1/1 — loss") == 2


def test_pause_resume_stop(qtbot, panel, session):
    panel.epochs.setValue(200)
    panel.batch_size.setValue(8)
    with qtbot.waitSignal(session.batch_reported, timeout=30000):
        panel.start_button.click()
    panel.pause_button.click()
    assert session.state == "paused" and panel.pause_button.text() == "Resume"
    assert panel.progress.format().endswith("paused")
    panel.pause_button.click()
    assert session.state == "running" and panel.pause_button.text() == "Pause"
    with qtbot.waitSignal(session.training_finished, timeout=30000) as done:
        panel.stop_button.click()
        assert session.state == "stopping"
    history = done.args[0]
    assert history.stopped and len(history.train_loss) < 200
    assert "stopped by the user" in panel.log.toPlainText()
    assert session.state == "idle" and panel.start_button.isEnabled()


def test_divergence_shows_a_message_and_leaves_the_panel_usable(qtbot, panel, session):
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.lr.setValue(10.0)  # the linear conv net explodes geometrically at this rate
    panel.subset.setValue(1024)
    panel.val_fraction.setValue(0.0)
    panel.epochs.setValue(3)
    with qtbot.waitSignal(session.training_failed, timeout=30000) as failed:
        panel.start_training()
    assert "diverged" in failed.args[0] and "learning rate 10" in failed.args[0]
    assert "Training failed: TrainingDiverged" in panel.log.toPlainText()
    assert panel.progress.format() == "failed"
    assert session.state == "idle" and panel.start_button.isEnabled() and panel.epochs.isEnabled()
    session.set_model(build_preset(SMALL), SMALL)  # the app keeps working
    panel.lr.setValue(0.01)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    panel.epochs.setValue(1)
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        panel.start_training()


def test_architecture_error_disables_start_with_reason(qtbot, panel, session):
    session.set_architecture_error("Conv2D #3: kernel 9x9 does not fit padded input 4x4")
    assert not panel.start_button.isEnabled()
    assert "kernel 9x9 does not fit" in panel.reason_label.text()
    assert "kernel 9x9" in panel.start_button.toolTip()
    session.set_architecture_error(None)
    assert panel.start_button.isEnabled() and panel.reason_label.text() == ""


def test_refused_start_is_shown_not_raised(qtbot, panel, session):
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar")
    panel.start_training()  # 3×32×32 model, 1×28×28 images
    assert session.state == "idle"
    assert "Cannot start training" in panel.log.toPlainText()
    assert "3, 32, 32" in panel.log.toPlainText()


def test_dataset_combo_switches_dataset(qtbot, panel, session):
    labels = [panel.dataset_combo.itemText(i) for i in range(panel.dataset_combo.count())]
    assert any(t.startswith("CIFAR-10 sample") for t in labels)
    assert panel.dataset_combo.currentData() == ("mnist", "sample")
    index = panel.dataset_index("cifar10", "sample")
    with qtbot.waitSignal(session.dataset_changed, timeout=5000):
        panel.dataset_combo.setCurrentIndex(index)
        panel.dataset_combo.activated.emit(index)
    assert session.dataset.kind == "cifar10"
    assert "3×32×32" in panel.dataset_label.text()


def test_fallback_dataset_combo_without_data_actions(qtbot, session):
    p = TrainPanel(session)
    qtbot.addWidget(p)
    index = p.dataset_index("cifar10", "sample")
    p.dataset_combo.setCurrentIndex(index)
    p.dataset_combo.activated.emit(index)
    assert session.dataset.kind == "cifar10"


def test_exports(qtbot, panel, session, tmp_path):
    with pytest.raises(ValueError, match="no training plots yet"):
        panel.export_plots(tmp_path / "p.png")
    with pytest.raises(ValueError, match="no training history yet"):
        panel.export_history(tmp_path / "h.csv")
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        panel.start_training()
    png = tmp_path / "plots.png"
    panel.export_plots(png)
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 300
    history = tmp_path / "history.csv"
    panel.export_history(history)
    rows = list(csv.DictReader(history.open()))
    assert len(rows) == 1 and float(rows[0]["train_loss"]) == pytest.approx(session.history.train_loss[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_settings_round_trip(qtbot, panel, session, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel.epochs.setValue(7)
    panel.lr.setValue(0.02)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.settings_form.hyper_box("momentum").setValue(0.8)
    panel.l1.setValue(0.0005)
    panel.augment.setChecked(True)
    panel.subset.setValue(512)
    panel.save_settings(settings)
    settings.sync()
    reread = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    other = TrainPanel(session)
    qtbot.addWidget(other)
    other.restore_settings(reread)
    assert other.config() == panel.config()


def test_designed_net_trains_end_to_end(qtbot, session):
    """The issue's scenario: build a net in the designer, then train it from the Train tab."""
    designer = ModelPanel(session)
    train = TrainPanel(session)
    qtbot.addWidget(designer)
    qtbot.addWidget(train)
    while designer.specs:
        designer.table.selectRow(0)
        designer.remove_button.click()
    for kind in ("Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"):
        next(a for a in designer.add_menu.actions() if a.text() == kind).trigger()
    designer.table.selectRow(0)
    with qtbot.waitSignal(session.model_changed, timeout=3000):
        designer.form.fields["out_channels"].setValue(4)
    assert len(train.plots.filters.tiles) == 4  # the new model's 4 filters
    train.subset.setValue(256)
    train.batch_size.setValue(32)
    train.epochs.setValue(1)
    with qtbot.waitSignal(session.training_finished, timeout=30000) as done:
        train.start_button.click()
        assert not designer.table.isEnabled()
    assert len(done.args[0].train_loss) == 1
    assert train.plots.curve_lengths()["loss"] == 1
    assert designer.table.isEnabled()


def test_long_filter_title_is_elided_and_keeps_the_colour_bar_in_view(qtbot, panel, session):
    # A CIFAR net's first-layer title is longer than the filter cell: pyqtgraph's title used
    # to widen the plot past the widget for good, pushing the colour bar (and its labels)
    # out of sight even for the next, short-titled model.
    session.set_dataset(load_dataset("cifar10", "sample"))
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar")
    panel.plots.flush()
    grid = panel.plots.filters
    assert grid.title.startswith("Conv2D #0: 32 filters 3×3×3")
    shown = grid.plot.titleLabel.text
    assert shown.endswith("…") and len(shown) < len(grid.title)
    assert grid.view.toolTip() == grid.title
    session.set_dataset(load_dataset("mnist", "sample"))
    session.set_model(build_preset(SMALL), SMALL)
    panel.plots.flush()
    qtbot.wait(20)
    bar = grid.colorbar.mapRectToScene(grid.colorbar.boundingRect())
    assert bar.right() <= grid.view.width()
    assert grid.plot.titleLabel.text == grid.title  # short titles are shown whole


def test_precision_curves_appear_only_when_tracked(qtbot):
    from cnnlab.app.panels.train_plots import TrainingPlots
    from cnnlab.engine.trainer import EpochReport

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.start_run(2)
    plots.add_epoch(EpochReport(1, 2, 0.5, 0.8, 0.6, 0.75, 1.0))
    assert plots.curve_lengths()["prec"] == 0 and not plots._precision_in_legend
    plots.add_epoch(EpochReport(2, 2, 0.4, 0.85, 0.5, 0.8, 1.0, 0.84, 0.79))
    lengths = plots.curve_lengths()
    assert lengths["prec"] == lengths["val_prec"] == 1
    assert plots.epoch_curves["val_prec"].yData[0] == pytest.approx(79.0)
    labels = [label.text for _item, label in plots.epoch_legends["acc"].items]
    assert "train precision (macro)" in labels


def test_summed_loss_and_precision_from_the_train_tab(qtbot, panel, session, tmp_path):
    panel.loss_reduction.setCurrentIndex(panel.loss_reduction.findData("sum"))
    panel.precision.setChecked(True)
    cfg = panel.settings_form.config()
    assert cfg.loss_reduction == "sum" and cfg.metrics == ("accuracy", "precision")
    with qtbot.waitSignal(session.training_finished, timeout=30000) as done:
        panel.start_button.click()
    history = done.args[0]
    assert len(history.train_precision) == 1 and history.val_precision[0] is not None
    assert "— precision " in panel.log.toPlainText() and "val_precision" in panel.log.toPlainText()
    assert panel.plots.curve_lengths()["val_prec"] == 1
    assert history.train_loss[0] < 10  # reported per image, not summed over the batch
    panel.export_history(tmp_path / "h.csv")
    header = (tmp_path / "h.csv").read_text().splitlines()[0]
    assert header.endswith("train_precision,val_precision")
