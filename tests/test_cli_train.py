"""``cnnlab train``: a loadable model and history, reproducible, the app's results, Ctrl-C."""

import csv
import json
import os
import signal

import numpy as np
import pytest

from cnnlab.__main__ import main
from cnnlab.cli.train import EpochProgress, clock
from cnnlab.engine.model import load
from cnnlab.lab.presets import build_preset

SMALL = "Conv3x3×9 → MaxPool2 → Softmax"  # a conv net that trains an epoch of the sample in ~1 s


def _train(tmp_path, name, *extra):
    out = tmp_path / f"{name}.npz"
    history = tmp_path / f"{name}.csv"
    code = main(["train", "conv3x3x9", "--epochs", "1", "--out", str(out), "--history", str(history),
                 *extra])
    return code, out, history


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_one_epoch_on_the_sample_writes_a_loadable_model_and_history(tmp_path, capsys):
    code, out, history = _train(tmp_path, "a", "--seed", "3", "--augment", "--weight-decay", "1e-4")
    assert code == 0
    model = load(out)
    assert model.input_shape == (1, 28, 28) and model[0].name == "Conv2D"
    training = model.meta["training"]
    assert training["epochs_done"] == 1 and training["seed"] == 3 and training["augment"] is True
    assert training["weight_decay"] == 1e-4 and training["optimizer"] == "adam"
    assert model.meta["name"] == SMALL and 0.5 < model.meta["test_accuracy"] <= 1
    rows = _rows(history)
    assert len(rows) == 1 and rows[0]["epoch"] == "1" and 0 < float(rows[0]["val_acc"]) <= 1
    captured = capsys.readouterr()
    assert "epoch 1/1 — loss" in captured.out  # the Keras-like line
    assert "57/57" in captured.err and "img/s" in captured.err and "ETA" in captured.err
    assert "saved the model" in captured.out


def test_the_same_seed_gives_identical_weights(tmp_path):
    _, first, _ = _train(tmp_path, "first", "--seed", "5")
    _, second, _ = _train(tmp_path, "second", "--seed", "5")
    _, other, _ = _train(tmp_path, "other", "--seed", "6")
    a, b, c = (load(p).get_weights() for p in (first, second, other))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_the_app_trains_to_exactly_the_same_weights(tmp_path, qtbot):
    from cnnlab.app.session import Session, TrainingConfig, load_dataset

    _, out, _ = _train(tmp_path, "cli", "--seed", "7")
    session = Session()
    try:
        session.set_dataset(load_dataset("mnist", "sample"))
        session.set_model(build_preset(SMALL, seed=7), SMALL)
        with qtbot.waitSignal(session.training_finished, timeout=60000):
            session.start_training(TrainingConfig(epochs=1, batch_size=64, lr=1e-3, optimizer="adam",
                                                  seed=7))
        app_weights = session.model.get_weights()
    finally:
        assert session.shutdown(timeout_ms=5000)
    cli_weights = load(out).get_weights()
    assert all(np.array_equal(app_weights[k], cli_weights[k]) for k in cli_weights)


def test_ctrl_c_stops_after_the_batch_and_still_saves(tmp_path, monkeypatch, capsys):
    original = EpochProgress.batch

    def interrupt_at_batch_3(self, report):
        original(self, report)
        if report.batch == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal sends

    monkeypatch.setattr(EpochProgress, "batch", interrupt_at_batch_3)
    before = signal.getsignal(signal.SIGINT)
    code = main(["train", "linear", "--epochs", "2", "--out", str(tmp_path / "m.npz"),
                 "--history", str(tmp_path / "h.csv")])
    assert code == 0
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    model = load(tmp_path / "m.npz")
    assert model.meta["training"]["epochs_done"] == 0
    assert np.abs(model[1].params["W"]).sum() > 0  # trained 3 batches from zero weights
    assert _rows(tmp_path / "h.csv") == []
    err = capsys.readouterr().err
    assert "stopping after this batch" in err and "stopped after 0 complete epochs and 3 batches" in err


def test_continue_from_a_model_file_and_from_an_architecture(tmp_path, capsys):
    _, out, _ = _train(tmp_path, "start", "--seed", "1")
    assert main(["train", str(out), "--epochs", "1", "--out", str(tmp_path / "more.npz")]) == 0
    assert "continuing" in capsys.readouterr().out
    arch = tmp_path / "net.json"
    arch.write_text(json.dumps({"input_shape": [1, 28, 28], "layers": [
        {"type": "Flatten"}, {"type": "Dense", "out_features": 10}]}))
    assert main(["train", str(arch), "--epochs", "1", "--optimizer", "sgd", "--lr", "0.05",
                 "--out", str(tmp_path / "arch.npz")]) == 0
    model = load(tmp_path / "arch.npz")
    assert [layer.name for layer in model.layers] == ["Flatten", "Dense"]
    assert model.meta["training"]["optimizer"] == "sgd" and model.meta["training"]["lr"] == 0.05


def test_clear_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    out = str(tmp_path / "m.npz")
    assert main(["train", "no-such-net", "--out", out]) == 1
    assert "is not a file or a preset" in capsys.readouterr().err
    assert main(["train", "conv", "--out", out]) == 1
    assert "matches several presets" in capsys.readouterr().err
    assert main(["train", "linear", "--data", "mnist:full", "--out", out]) == 1
    assert "not downloaded yet" in capsys.readouterr().err
    assert main(["train", "linear", "--data", "cifar10", "--out", out]) == 1
    assert "CIFAR-10 sample images are (3, 32, 32)" in capsys.readouterr().err
    assert main(["train", "linear", "--data", "imagenet", "--out", out]) == 1
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
    assert main(["train", "linear", "--out", str(tmp_path / "no" / "m.npz")]) == 1
    assert "does not exist" in capsys.readouterr().err  # said before any training
    with pytest.raises(SystemExit):
        main(["train", "linear"])  # --out is required
    assert "--out" in capsys.readouterr().err


def test_clock():
    assert clock(0) == "0:00" and clock(75.2) == "1:15" and clock(7389) == "2:03:09"
