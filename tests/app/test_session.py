"""The session trains in a worker thread, reports through signals and shuts down cleanly."""

import numpy as np
import pytest

from cnnlab.app.session import Session, load_dataset
from cnnlab.lab.presets import build_preset
from cnnlab.lab.training import TrainingConfig
from tests.app.conftest import SMALL


def test_dataset_bundle_describes_itself():
    ds = load_dataset("mnist", "sample")
    assert ds.input_shape == (1, 28, 28) and ds.n_classes == 10
    assert ds.describe() == "MNIST sample · 4,000 train / 1,000 test"
    with pytest.raises(ValueError, match="unknown dataset kind"):
        load_dataset("imagenet")


def test_training_reports_batches_epochs_and_weights(qtbot, session):
    batches, epochs, snapshots = [], [], []
    session.batch_reported.connect(batches.append)
    session.epoch_reported.connect(epochs.append)
    # what each snapshot held when it arrived (copied now, compared after training)
    seen = []
    session.weights_updated.connect(lambda snap: (snapshots.append(snap),
                                                  seen.append(snap.model.get_weights())))
    before = session.model.get_weights()
    cfg = TrainingConfig(epochs=2, batch_size=32, lr=0.01, subset=320, val_fraction=0.25)
    with qtbot.waitSignal(session.training_finished, timeout=60000) as done:
        session.start_training(cfg)
        assert session.state == "running"
    history = done.args[0]
    assert session.state == "idle"
    assert [e.epoch for e in epochs] == [1, 2]
    # the run's settings go with the model (a saved or exported model shows them)
    record = session.model.meta["training"]
    assert (record["optimizer"], record["lr"], record["epochs_done"]) == ("adam", 0.01, 2)
    assert record["data"] == session.dataset.name
    assert batches and batches[-1].epochs == 2
    assert len(history.train_loss) == 2 and history.val_acc[-1] is not None
    assert snapshots, "the canvas and filter views need weight snapshots"
    after = session.model.get_weights()
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    # A snapshot is a copy: the training that went on after it was taken did not change it,
    # and it shares no memory with the live model.
    first = snapshots[0]
    assert (first.epoch, first.batch) < (2, batches[-1].batch)
    now = first.model.get_weights()
    assert all(np.array_equal(now[k], seen[0][k]) for k in now)
    assert any(not np.array_equal(now[k], after[k]) for k in now)
    live = [p for layer in session.model.layers for p in layer.params.values()]
    held = [p for layer in first.model.layers for p in layer.params.values()]
    assert not any(np.shares_memory(a, b) for a in live for b in held)


def test_second_training_is_refused_while_one_runs(qtbot, session):
    session.start_training(TrainingConfig(epochs=50, batch_size=16, subset=512))
    with pytest.raises(RuntimeError, match="while training"):
        session.start_training(TrainingConfig())
    with pytest.raises(RuntimeError):
        session.set_model(build_preset(SMALL), "other")
    qtbot.waitSignal(session.batch_reported, timeout=30000).wait()  # at least one step done
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        session.stop()
    assert session.history.stopped
    assert session.model_name.endswith("(partly trained)")  # weights changed, no epoch ended


def test_pause_and_resume(qtbot, session):
    states = []
    session.training_state_changed.connect(states.append)
    with qtbot.waitSignal(session.batch_reported, timeout=30000):
        session.start_training(TrainingConfig(epochs=50, batch_size=16, subset=512))
    session.pause()
    assert session.state == "paused"
    counted = []
    session.batch_reported.connect(counted.append)
    qtbot.wait(300)
    n = len(counted)
    qtbot.wait(300)
    assert len(counted) == n, "no batches while paused"
    session.resume()
    qtbot.waitUntil(lambda: len(counted) > n, timeout=30000)
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        session.stop()
    assert states[:3] == ["running", "paused", "running"] and states[-1] == "idle"


def test_diverging_training_fails_with_a_message(qtbot, session):
    with qtbot.waitSignal(session.training_failed, timeout=60000) as failed:
        session.start_training(TrainingConfig(epochs=3, batch_size=32, lr=1e6, optimizer="sgd",
                                              subset=640))
    assert "nan" in failed.args[0].lower() or "inf" in failed.args[0].lower()
    assert session.state == "idle"
    session.set_model(build_preset(SMALL), "fresh")  # still usable


def test_mismatched_model_and_dataset_is_refused(qtbot, session):
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar")
    with pytest.raises(ValueError, match="inputs of shape"):
        session.start_training(TrainingConfig())
    session.set_architecture_error("Conv2D #1: kernel too big")
    with pytest.raises(ValueError, match="fix the network"):
        session.start_training(TrainingConfig())


def test_shutdown_mid_training_is_quick(qtbot):
    import time

    s = Session()
    s.set_dataset(load_dataset("mnist", "sample"))
    s.set_model(build_preset("LeNet-like (32-64 conv, 128 dense)"), "lenet")
    with qtbot.waitSignal(s.batch_reported, timeout=30000):
        s.start_training(TrainingConfig(epochs=100, batch_size=64))
    t0 = time.perf_counter()
    assert s.shutdown(timeout_ms=5000)
    assert time.perf_counter() - t0 < 5


def test_optimizer_choice():
    model = build_preset(SMALL)
    sgd = TrainingConfig(optimizer="sgd", lr=0.05, hyper={"momentum": 0.0}).make_optimizer(model)
    assert type(sgd).__name__ == "SGD" and sgd.lr == 0.05 and sgd.momentum == 0.0
    adam = TrainingConfig(optimizer="Adam").make_optimizer(model)
    assert type(adam).__name__ == "Adam" and adam.beta2 == 0.999
    with pytest.raises(ValueError, match="unknown optimizer"):
        TrainingConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="no hyper-parameter 'momentum'"):
        TrainingConfig(optimizer="adam", hyper={"momentum": 0.9})


def test_save_and_load_model_round_trip(qtbot, session, tmp_path):
    path = tmp_path / "m.npz"
    session.save_model(path)
    weights = session.model.get_weights()
    session.load_model(path)
    assert session.model_path == path
    loaded = session.model.get_weights()
    assert all(np.array_equal(weights[k], loaded[k]) for k in weights)


def test_saved_model_keeps_its_training_state_and_history(qtbot, session, tmp_path):
    cfg = TrainingConfig(epochs=1, batch_size=32, subset=256, val_fraction=0.25)
    with qtbot.waitSignal(session.training_finished, timeout=60000):
        session.start_training(cfg)
    assert session.model_name == f"{SMALL} (trained 1 epoch)"
    path = tmp_path / "renamed_file.npz"
    session.save_model(path)
    with qtbot.waitSignal(session.training_finished, timeout=60000):
        session.start_training(cfg)  # training goes on from the saved weights
    assert session.model_name == f"{SMALL} (trained 2 epochs)"
    fresh = Session()
    fresh.load_model(path)
    assert fresh.model_name == f"{SMALL} (trained 1 epoch)"  # not the file's name
    history = fresh.model.meta["history"]
    assert fresh.model.meta["epochs_trained"] == 1
    assert len(history["train_loss"]) == 1 and history["val_acc"][0] is not None
    assert not history["stopped"]


def test_corrected_drawings_join_the_training_set(qtbot, session, tmp_path):
    from cnnlab.data.user_digits import UserDigits

    path = tmp_path / "mine.npz"
    mine = UserDigits(path)
    for label in (3, 5, 7):
        mine.add(np.zeros((28, 28), dtype=np.float32), label)
    reports = []
    session.batch_reported.connect(reports.append)
    base = TrainingConfig(epochs=1, batch_size=32, subset=64, val_fraction=0.0)
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        session.start_training(base)
    assert reports[-1].batches == 2
    reports.clear()
    with qtbot.waitSignal(session.training_finished, timeout=30000):
        session.start_training(base.with_(include_user_digits=True, user_digits_path=str(path)))
    assert reports[-1].batches == 3  # 64 + 3 images
