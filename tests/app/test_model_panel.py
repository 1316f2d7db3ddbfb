"""The layer designer: build a net through its widgets, live shape inference, errors,
presets, the window readout, architecture files and the read-only state while training."""

import json

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt

from cnnlab.app.panels.model_panel import SYNC_BUILD_PARAMS, ModelPanel
from cnnlab.app.panels.train_panel import TrainPanel
from cnnlab.app.session import load_dataset
from cnnlab.lab.architecture_file import read_architecture
from cnnlab.lab.presets import build, build_preset, strip_sizes
from cnnlab.lab.training import TrainingConfig


@pytest.fixture
def panel(qtbot, session):
    p = ModelPanel(session)
    qtbot.addWidget(p)
    p.resize(1280, 760)
    p.show()
    return p


def add(panel, kind):
    action = next(a for a in panel.add_menu.actions() if a.text() == kind)
    action.trigger()


def remove_all(panel, qtbot):
    while panel.specs:
        panel.table.selectRow(0)
        panel.remove_button.click()


def test_shows_the_session_model_without_rebuilding_it(panel, session):
    model = session.model
    assert panel.specs == strip_sizes(model.get_config()["layers"])
    assert panel.table.rowCount() == len(model.layers)
    assert panel.table.item(0, 1).text() == "Conv2D"
    assert panel.table.item(0, 3).text() == "9×26×26"
    assert panel.table.item(3, 4).text() == "15,220"
    assert "Total params: 15,310" in panel.total_label.text()
    assert "Total params: 15,310" in panel.summary.toPlainText()
    assert panel.architecture_error is None and session.architecture_error is None
    assert session.model is model


def test_build_a_net_through_the_widgets(qtbot, panel, session):
    remove_all(panel, qtbot)
    assert session.architecture_error and "no layers" in session.architecture_error
    for kind in ("Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"):
        add(panel, kind)  # each goes after the selected (new) row
    assert [s["type"] for s in panel.specs] == ["Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"]
    panel.table.selectRow(0)
    assert panel.form.title() == "Conv2D #0"
    panel.form.fields["out_channels"].setValue(4)
    panel.form.fields["kernel_size"].setValue(5)
    panel.form.fields["padding"].setValue(2)
    assert panel.table.item(0, 3).text() == "4×28×28"
    assert panel.table.item(3, 3).text() == "784"  # 4×14×14 flattened
    with qtbot.waitSignal(session.model_changed, timeout=3000) as built:
        panel.table.selectRow(4)
        panel.form.fields["out_features"].setValue(10)  # already 10: no change ...
        panel.form.fields["bias"].setChecked(False)      # ... this one is
    model = built.args[0]
    assert session.model is model and session.model_name == "custom (untrained)"
    assert model.layers[0].params["W"].shape == (4, 1, 5, 5)
    assert model.layers[4].params.keys() == {"W"}  # no bias
    assert model.output_shape == (10,)
    assert session.architecture_error is None
    assert "(4, 1, 5, 5)" in panel.summary.toPlainText()


def test_start_right_after_an_edit_trains_the_edited_net(qtbot, panel, session):
    panel.table.selectRow(0)
    panel.form.fields["out_channels"].setValue(5)  # the build waits for a quiet moment ...
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        session.start_training(TrainingConfig(epochs=1, batch_size=32, subset=64))  # ... not now
    assert session.model.layers[0].params["W"].shape[0] == 5


def test_reorder_duplicate_and_remove(qtbot, panel):
    types = lambda: [s["type"] for s in panel.specs]
    assert types() == ["Conv2D", "MaxPool2D", "Flatten", "Dense"]
    panel.table.selectRow(1)
    panel.up_button.click()
    assert types() == ["MaxPool2D", "Conv2D", "Flatten", "Dense"]
    assert panel.selected_row() == 0
    panel.down_button.click()
    assert types() == ["Conv2D", "MaxPool2D", "Flatten", "Dense"]
    panel.duplicate_button.click()
    assert types() == ["Conv2D", "MaxPool2D", "MaxPool2D", "Flatten", "Dense"]
    assert panel.table.item(2, 3).text() == "9×6×6"
    panel.remove_button.click()
    assert types() == ["Conv2D", "MaxPool2D", "Flatten", "Dense"]
    panel.table.setFocus()
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete)  # Delete removes the selected layer
    assert types() == ["Conv2D", "MaxPool2D", "Dense"]


def test_impossible_layer_is_red_with_reason_and_disables_training(qtbot, panel, session):
    train = TrainPanel(session)
    qtbot.addWidget(train)
    assert train.start_button.isEnabled()
    panel.table.selectRow(1)  # MaxPool2D 2 → pool 7, stride 7: 26×26 → 3×3
    panel.form.fields["kernel_size"].setValue(7)
    panel.form.fields["stride"].setValue(0)  # "= pool size"
    assert "stride" not in panel.specs[1] and panel.table.item(1, 3).text() == "9×3×3"
    add(panel, "Conv2D")      # inserted after the pool
    panel.form.fields["kernel_size"].setValue(9)
    message = session.architecture_error
    assert message and "Conv2D #2" in message and "does not fit" in message
    bad = panel.table.item(2, 1)
    assert bad.toolTip() == message
    assert bad.background().color().red() > bad.background().color().blue()
    assert panel.message_label.text() == message
    assert panel.table.item(3, 3).text() == "—"  # later rows have no shape
    assert not train.start_button.isEnabled()
    assert message in train.reason_label.text()
    model_before = session.model
    train.start_training()  # refused with a message, never an exception
    assert session.state == "idle" and session.model is model_before
    # the readout shows the failing formula for the selected row
    assert "= -3" in panel.diagram.text.text() and "does not fit" in panel.diagram.text.text()
    assert not panel.diagram.strip.grab().isNull()  # paints the "no output" picture
    with qtbot.waitSignal(session.model_changed, timeout=3000):
        panel.form.fields["kernel_size"].setValue(1)
    assert session.architecture_error is None and train.start_button.isEnabled()
    assert train.reason_label.text() == ""


def test_output_must_match_the_classes(panel, session):
    panel.table.selectRow(3)
    panel.form.fields["out_features"].setValue(7)
    assert "must end in 10 class scores" in session.architecture_error
    assert panel.table.item(3, 1).toolTip() == session.architecture_error


def test_preset_builds_and_window_readout(qtbot, panel, session):
    name = "LeNet-like (32-64 conv, 128 dense)"
    with qtbot.waitSignal(session.model_changed, timeout=3000):
        panel.preset_combo.setCurrentText(name)
        panel.preset_combo.activated.emit(panel.preset_combo.currentIndex())
        panel.build_now()
    assert session.model_name == f"{name} (untrained)"
    assert session.model.n_params == 454_922
    assert "two 5×5 conv blocks" in panel.preset_description.text()
    panel.table.selectRow(5)  # the second MaxPool2D
    text = panel.diagram.text.text()
    assert "⌊(14 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1 = 7" in text
    assert "16×16" in text  # receptive field of the second pool
    assert panel.diagram.strip.isVisibleTo(panel)
    panel.table.selectRow(6)  # Flatten: no window
    assert not panel.diagram.strip.isVisibleTo(panel)


def test_cifar_preset_adapts_to_the_dataset_and_dataset_change_rebuilds(qtbot, panel, session):
    with qtbot.waitSignal(session.model_changed, timeout=3000):
        panel.choose_preset("CIFAR-10 net (32-64 conv, 128 dense)")
        panel.build_now()
    assert session.model.input_shape == (1, 28, 28)
    assert "adapted" in panel.preset_description.text()
    with qtbot.waitSignal(session.model_changed, timeout=5000):
        session.set_dataset(load_dataset("cifar10", "sample"))
        panel.build_now()
    assert session.model.input_shape == (3, 32, 32)
    assert panel.input_label.text().startswith("input: 3×32×32")
    assert session.architecture_error is None


def test_loaded_model_is_shown_not_rebuilt(qtbot, panel, session, tmp_path):
    trained = build_preset("MLP (784→100→10)", seed=5)
    path = tmp_path / "mlp.npz"
    trained.save(path)
    session.load_model(path)
    assert [s["type"] for s in panel.specs] == ["Flatten", "Dense", "ReLU", "Dense"]
    qtbot.wait(2 * 250 + 50)  # longer than the build delay: nothing may be rebuilt
    assert session.model_path == path
    np.testing.assert_array_equal(session.model.layers[1].params["W"], trained.layers[1].params["W"])
    assert "MLP" not in panel.preset_combo.currentText()


def test_architecture_round_trip_and_bad_files(qtbot, panel, session, tmp_path):
    path = tmp_path / "arch.json"
    panel.table.selectRow(0)
    panel.form.fields["dilation"].setValue(2)
    assert "dilation 2" in panel.table.item(0, 2).text()
    assert "5×5" in panel.diagram.text.text() and not panel.diagram.strip.grab().isNull()
    panel.save_architecture(path)
    saved = json.loads(path.read_text())
    assert saved["format"] == "cnnlab.sequential" and saved["input_shape"] == [1, 28, 28]
    assert saved["layers"][0]["dilation"] == 2 and saved["layers"][0]["in_channels"] == 1
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp file
    specs = [dict(s) for s in panel.specs]
    remove_all(panel, qtbot)
    with qtbot.waitSignal(session.model_changed, timeout=3000):
        panel.open_architecture(path)
        panel.build_now()
    assert panel.specs == specs
    assert session.model.layers[0].dilation == (2, 2)
    assert session.model_name == "arch (untrained)"

    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{"layers": [ {"type": "Conv2D",')
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        panel.open_architecture(bad_json)
    bad_layer = tmp_path / "odd.json"
    bad_layer.write_text(json.dumps({"input_shape": [1, 28, 28],
                                     "layers": [{"type": "Flatten"}, {"type": "Dense"}]}))
    with pytest.raises(ValueError, match=r"odd\.json: layer #1 \(Dense\)"):
        panel.open_architecture(bad_layer)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([{"type": "Conv3D"}]))
    with pytest.raises(ValueError, match=r"unknown\.json: layer #0 .*unknown layer type"):
        read_architecture(unknown)
    assert panel.specs == specs  # a bad file changes nothing


def test_big_net_is_built_in_a_job(qtbot, panel, session):
    remove_all(panel, qtbot)
    add(panel, "Flatten")
    add(panel, "Dense")
    panel.form.fields["out_features"].setValue(1000)
    add(panel, "Dense")
    assert sum(r.n_params for r in panel.rows) > SYNC_BUILD_PARAMS
    with qtbot.waitSignal(session.model_changed, timeout=10000) as built:
        panel.build_now()
        assert "building" in panel.total_label.text()
    assert built.args[0].layers[1].params["W"].shape == (784, 1000)
    qtbot.waitUntil(lambda: "building" not in panel.total_label.text(), timeout=3000)


def test_read_only_while_training(qtbot, panel, session):
    with qtbot.waitSignal(session.training_state_changed, timeout=3000):
        session.start_training(TrainingConfig(epochs=20, batch_size=16, subset=256))
    assert not panel.table.isEnabled() and not panel.add_button.isEnabled()
    assert not panel.form.isEnabled() and not panel.preset_combo.isEnabled()
    assert "training" in panel.summary_title.text()
    with qtbot.waitSignal(session.training_finished, timeout=10000):
        session.stop()
    assert panel.table.isEnabled() and panel.form.isEnabled()


def test_settings_round_trip(qtbot, panel, session, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel.seed_box.setValue(42)
    panel.save_settings(settings)
    other = ModelPanel(session)
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.seed_box.value() == 42


def test_form_edits_every_kind_of_field(qtbot, panel, session):
    panel.table.selectRow(0)
    init = panel.form.fields["init"]
    assert init.combo.currentText() == "glorot_uniform" and not init.scale.isEnabled()
    init.combo.setCurrentText("normal")
    assert init.scale.isEnabled()
    init.scale.setValue(0.05)
    assert panel.specs[0]["init"] == {"name": "normal", "sigma": 0.05}
    init.combo.setCurrentText("uniform")
    assert panel.specs[0]["init"] == {"name": "uniform", "a": -0.05, "b": 0.05}
    init.combo.setCurrentText("normal")
    init.scale.lineEdit().selectAll()
    qtbot.keyClicks(init.scale.lineEdit(), "1e-5")  # the exercises' σ, typed
    init.scale.interpretText()
    assert panel.specs[0]["init"] == {"name": "normal", "sigma": 1e-5}
    for kind, key, value in (("LeakyReLU", "negative_slope", 0.2), ("Dropout", "p", 0.25)):
        panel.table.selectRow(0)
        add(panel, kind)
        panel.form.fields[key].setValue(value)
        assert panel.specs[1] == {"type": kind, key: value}
    assert panel.table.item(1, 2).text() == "p = 0.25"
    panel.table.selectRow(0)
    add(panel, "Normalize")
    mean = panel.form.fields["mean"]
    mean.setText("oops")
    mean.editingFinished.emit()
    assert panel.specs[1]["mean"] == 0.5 and "expected a number" in mean.toolTip()
    mean.setText("0.1, 0.2")  # two channels for a 9-channel input
    mean.editingFinished.emit()
    assert panel.specs[1]["mean"] == [0.1, 0.2]
    assert "Normalize #1" in session.architecture_error
    assert panel.table.item(1, 2).text() == "(x − 0.1, 0.2) / 1"
    panel.form.fields["std"].setText("0")
    panel.form.fields["std"].editingFinished.emit()
    assert "std must be positive" in session.architecture_error  # an unbuildable layer
    panel.remove_button.click()
    assert session.architecture_error is None


def test_model_for_other_images_asks_for_new_weights(qtbot, panel, session):
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar net")
    assert panel.input_label.text() == "input: 3×32×32"
    assert "press “New weights”" in session.architecture_error
    panel.seed_box.setValue(3)
    with qtbot.waitSignal(session.model_changed, timeout=3000) as built:
        panel.reinit_button.click()
    model = built.args[0]
    assert model.input_shape == (1, 28, 28) and session.architecture_error is None
    twin = build(panel.specs, (1, 28, 28), seed=3)  # the weight seed makes it reproducible
    np.testing.assert_array_equal(model.layers[0].params["W"], twin.layers[0].params["W"])


def test_dataset_round_trip_keeps_the_trained_model(qtbot, panel, session, tmp_path):
    # Looking at the CIFAR-10 sample and coming back used to replace the (shipped, trained)
    # digit model by an untrained rebuild of the same design.
    trained = build_preset("MLP (784→100→10)", seed=5)
    trained.save(tmp_path / "mlp.npz")
    session.load_model(tmp_path / "mlp.npz")
    name, weights = session.model_name, trained.layers[1].params["W"].copy()
    with qtbot.waitSignal(session.model_changed, timeout=3000):
        session.set_dataset(load_dataset("cifar10", "sample"))
        panel.build_now()
    assert session.model.input_shape == (3, 32, 32)
    session.set_dataset(load_dataset("mnist", "sample"))
    assert session.model.input_shape == (1, 28, 28) and session.model_name == name
    np.testing.assert_array_equal(session.model.layers[1].params["W"], weights)
    qtbot.wait(250 + 50)  # no pending rebuild replaces it
    assert session.model_name == name and session.architecture_error is None
    # an edit made meanwhile is a new design: that one is built fresh
    session.set_dataset(load_dataset("cifar10", "sample"))
    panel.build_now()
    panel.table.selectRow(1)
    panel.form.fields["out_features"].setValue(50)
    panel.build_now()
    session.set_dataset(load_dataset("mnist", "sample"))
    panel.build_now()
    assert session.model.layers[1].params["W"].shape == (784, 50)
    assert "untrained" in session.model_name
