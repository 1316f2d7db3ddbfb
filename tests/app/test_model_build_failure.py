"""A design that cannot be built (over the engine's memory budget, or a file past the layer
caps) is shown on its row, keeps Train refused until the design changes, and never lets
Train run the previous model; a failure of an older design's build is ignored."""

import json

import pytest

from cnnlab.app.panels.layer_table import _BAD_ROW
from cnnlab.app.panels.model_panel import ModelPanel
from cnnlab.app.session import load_dataset
from cnnlab.lab.training import TrainingConfig

HEAD = {"format": "cnnlab.sequential", "version": 1, "input_shape": [1, 28, 28]}
#: Fine layer by layer, but a batch of 1024×154×154 activations is past the memory budget
#: (small in parameters, so it is built on the GUI thread).
OVER_BUDGET = [{"type": "Conv2D", "out_channels": 1024, "kernel_size": 3, "padding": 64},
               {"type": "MaxPool2D", "kernel_size": 32}, {"type": "Flatten"},
               {"type": "Dense", "out_features": 10}]
#: The same with 9 M parameters: built in a job.
OVER_BUDGET_BIG = [{"type": "Conv2D", "out_channels": 1024, "kernel_size": 3, "padding": 64},
                   {"type": "Conv2D", "out_channels": 1024, "kernel_size": 3},
                   {"type": "MaxPool2D", "kernel_size": 16}, {"type": "Flatten"},
                   {"type": "Dense", "out_features": 10}]


@pytest.fixture
def panel(qtbot, session):
    p = ModelPanel(session)
    qtbot.addWidget(p)
    p.resize(1280, 760)
    p.show()
    return p


def _file(tmp_path, name, layers):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(dict(HEAD, layers=layers)))
    return path


def _refused(session):
    with pytest.raises(ValueError, match="fix the network first"):
        session.start_training(TrainingConfig(epochs=1))
    assert not session.is_training


def test_over_budget_design_is_shown_on_its_row_and_stays_refused(panel, session, qtbot, tmp_path):
    before = session.model
    panel.open_architecture(_file(tmp_path, "big", OVER_BUDGET))
    qtbot.waitUntil(lambda: session.architecture_error is not None, timeout=5000)
    reason = session.architecture_error
    assert "Conv2D #0" in reason and "limit" in reason and "MiB" in reason
    assert session.model is before  # the previous model is not what Train would use…
    _refused(session)  # …because Train is refused
    cell = panel.table.item(0, 1)
    assert cell.background().color() == _BAD_ROW and "Conv2D #0" in cell.toolTip()
    assert "Conv2D #0" in panel.layer_list.message_label.text()
    # Reloading a dataset of the same image size re-checks the design: still refused.
    session.set_dataset(load_dataset("mnist", "sample"))
    assert session.architecture_error == reason
    _refused(session)
    assert panel.table.item(0, 1).background().color() == _BAD_ROW
    # A fix clears it and builds the new design.
    panel.table.selectRow(0)
    panel.form.fields["out_channels"].setValue(8)
    qtbot.waitUntil(lambda: session.model is not before, timeout=5000)
    assert session.architecture_error is None
    assert session.model.layers[0].out_channels == 8
    assert panel.table.item(0, 1).background().color() != _BAD_ROW


def test_a_failed_build_of_an_older_design_is_ignored(panel, session, qtbot, tmp_path):
    panel.open_architecture(_file(tmp_path, "bigger", OVER_BUDGET_BIG))
    panel.build_now()  # in a job: it fails a moment later…
    assert panel.builder.job is not None
    panel.choose_preset("MLP (784→100→10)")  # …after this design was built and installed
    panel.build_now()
    qtbot.waitUntil(lambda: panel.builder.job is None and not session.running_jobs(), timeout=10000)
    qtbot.wait(50)  # any queued failure has been delivered
    assert session.architecture_error is None
    assert [layer.name for layer in session.model.layers][-1] == "Dense"
    assert panel.table.item(0, 1).background().color() != _BAD_ROW


def test_files_past_the_layer_caps_are_refused_and_change_nothing(panel, session, tmp_path):
    specs_before, model_before = panel.specs, session.model
    for name, layer in (("dense", {"type": "Dense", "out_features": 10**9}),
                        ("filters", {"type": "Conv2D", "out_channels": 100_000, "kernel_size": 3}),
                        ("padding", {"type": "Conv2D", "out_channels": 8, "kernel_size": 3,
                                     "padding": 100_000})):
        layers = [layer, {"type": "Flatten"}, {"type": "Dense", "out_features": 10}]
        with pytest.raises(ValueError, match=f"{name}.json.*outside the allowed"):
            panel.open_architecture(_file(tmp_path, name, layers))
        assert panel.specs == specs_before and session.model is model_before
        assert session.architecture_error is None
