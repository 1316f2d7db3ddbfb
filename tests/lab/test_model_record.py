"""A model's metadata remembers its training: name, epochs over all runs, last curves."""

import json

import pytest

from cnnlab.engine.trainer import History
from cnnlab.lab.drawing import model_base_name, model_state_line
from cnnlab.lab.model_record import name_from_meta, record_training, trained_name
from cnnlab.lab.presets import build_preset

SMALL = "Conv3x3×9 → MaxPool2 → Softmax"


def test_trained_name_counts_epochs_and_drops_the_old_state():
    assert trained_name("net (untrained)", 1) == "net (trained 1 epoch)"
    assert trained_name("net (trained 2 epochs)", 5) == "net (trained 5 epochs)"
    assert trained_name("net (untrained)", 0, partly=True) == "net (partly trained)"
    assert model_base_name("net (partly trained)") == "net"


def test_record_training_accumulates_and_is_json_safe():
    model = build_preset(SMALL)
    run = History(batch_loss=[2.0, 1.0], train_loss=[1.5, 1.0], train_acc=[0.4, 0.6],
                  val_loss=[None, None], val_acc=[None, None], epoch_seconds=[1.0, 1.1])
    name = record_training(model, "net (untrained)", run)
    assert name == "net (trained 2 epochs)" and model.meta["epochs_trained"] == 2
    name = record_training(model, name, run)
    assert name == "net (trained 4 epochs)"
    assert model.meta["history"]["val_acc"] == [None, None]
    json.dumps(model.get_config())  # goes into the file as JSON
    assert record_training(model, name, History()) == name  # nothing ran: nothing changes


def test_shipped_models_count_their_recorded_epochs():
    model = build_preset(SMALL)
    model.meta["training"] = {"epochs": 24}
    run = History(batch_loss=[1.0], train_loss=[1.0], train_acc=[0.5], val_loss=[None],
                  val_acc=[None], epoch_seconds=[1.0])
    assert record_training(model, "digits", run) == "digits (trained 25 epochs)"


def test_name_from_meta_falls_back_to_the_file():
    assert name_from_meta({"name": "net (trained 3 epochs)"}, "file") == "net (trained 3 epochs)"
    assert name_from_meta({}, "file") == name_from_meta({"name": " "}, "file") == "file"


def test_state_line_never_contradicts_itself():
    assert model_state_line("net (untrained)", "paused", 3, 5)[0] == \
        "training, epoch 3/5 (paused) · live weights"
    assert model_state_line("no model") == ("no model", True)
    assert model_state_line("net (partly trained)")[1] is False
    # a shipped model's name does not say how long it trained; its metadata does
    assert model_state_line("default digits", trained_epochs=24, path="/r/digits.npz") == \
        ("trained 24 epochs · loaded from digits.npz", False)


def test_recent_models_most_recent_first_once_each():
    from cnnlab.lab.model_record import RECENT_LIMIT, is_trained, recent_models

    paths = recent_models([], "/a.npz")
    paths = recent_models(paths, "/b.npz")
    assert recent_models(paths, "/a.npz") == ["/a.npz", "/b.npz"]
    many = [f"/{i}.npz" for i in range(20)]
    assert recent_models(many, "/new.npz")[:2] == ["/new.npz", "/0.npz"]
    assert len(recent_models(many)) == RECENT_LIMIT
    for bad in ("/a.npz", [1, 2], {"a": 1}):
        with pytest.raises(ValueError, match="list of file paths"):
            recent_models(bad)
    assert is_trained("default digits (98.5% on sample test)") and is_trained("x (partly trained)")
    assert not is_trained("small CNN (untrained)")
