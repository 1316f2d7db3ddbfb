"""Trainer: learning, determinism, reports, pause/resume/stop, divergence, evaluate."""

import csv
import threading
import time

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential
from cnnlab.engine.optim import SGD, Adam
from cnnlab.engine.trainer import (
    BatchReport,
    EpochReport,
    History,
    Trainer,
    TrainingDiverged,
    evaluate,
    stratified_split,
)
from cnnlab.resources import resource_path


def small_cnn(seed=0, dropout=False, classes=3):
    layers = [L.Normalize(0.5, 1.0), L.Conv2D(1, 4, 3, padding=1, rng=seed), L.ReLU(),
              L.MaxPool2D(2), L.Flatten()]
    if dropout:
        layers.append(L.Dropout(0.3))
    layers.append(L.Dense(4 * 4 * 4, classes, rng=seed + 1))
    return Sequential(layers, (1, 8, 8))


def bar_images(n=120, seed=0):
    """A learnable task: class 0 = horizontal bar, 1 = vertical bar, 2 = diagonal, with
    noise; uint8 (n, 1, 8, 8) and int64 labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.integers(0, 60, size=(n, 1, 8, 8)).astype(np.uint8)
    pos = rng.integers(1, 7, size=n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, pos[i], :] = 255
        elif y[i] == 1:
            x[i, 0, :, pos[i]] = 255
        else:
            x[i, 0, np.arange(8), np.arange(8)] = 255
    return x, y.astype(np.int64)


def test_trainer_learns_bars_and_reports():
    x, y = bar_images()
    model = small_cnn()
    batches, epochs = [], []
    trainer = Trainer(model, Adam(model, lr=0.01), epochs=4, batch_size=16, val_fraction=0.25,
                      on_batch=batches.append, on_epoch=epochs.append)
    history = trainer.fit(x, y)
    assert not history.stopped
    n_train = 120 - 30  # stratified: 10 of each class held out
    per_epoch = -(-n_train // 16)
    assert len(batches) == 4 * per_epoch and len(history.batch_loss) == 4 * per_epoch
    assert all(isinstance(r, BatchReport) for r in batches)
    assert (batches[0].epoch, batches[0].batch, batches[0].batches, batches[0].epochs) == (1, 1, per_epoch, 4)
    assert batches[-1].epoch == 4 and batches[-1].batch == per_epoch
    assert all(r.samples_per_s > 0 for r in batches)
    assert [r.seconds for r in batches] == sorted(r.seconds for r in batches)
    assert [r.epoch for r in epochs] == [1, 2, 3, 4] and all(isinstance(r, EpochReport) for r in epochs)
    assert history.train_loss == [r.train_loss for r in epochs]
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 0.6 and epochs[-1].val_loss is not None
    assert len(history.epoch_seconds) == 4


def test_same_seed_same_result_and_other_seed_differs():
    x, y = bar_images()

    def run(seed):
        model = small_cnn(dropout=True)
        history = Trainer(model, SGD(model, 0.05, momentum=0.9), epochs=2, batch_size=10,
                          seed=seed, l2=1e-3).fit(x, y)
        return history, model.get_weights()

    (h1, w1), (h2, w2), (h3, w3) = run(5), run(5), run(6)
    assert h1.batch_loss == h2.batch_loss and h1.val_loss == h2.val_loss
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    assert h1.batch_loss != h3.batch_loss
    assert not all(np.array_equal(w1[k], w3[k]) for k in w1)  # another seed, other weights


def test_uint8_images_are_scaled_like_unit_floats():
    x, y = bar_images(60)
    results = []
    for data in (x, x.astype(np.float32) / 255):
        model = small_cnn()
        results.append(Trainer(model, SGD(model, 0.1), epochs=1, batch_size=20).fit(data, y))
    np.testing.assert_allclose(results[0].batch_loss, results[1].batch_loss, rtol=1e-4)


def test_explicit_validation_set_and_no_validation():
    x, y = bar_images(60)
    model = small_cnn()
    h = Trainer(model, SGD(model, 0.1), epochs=1, batch_size=60).fit(x, y, x[:9], y[:9])
    assert len(h.batch_loss) == 1  # all 60 used for training
    assert h.val_loss[0] == pytest.approx(evaluate(model, x[:9], y[:9])[0])
    h = Trainer(model, SGD(model, 0.1), epochs=1, val_fraction=0).fit(x, y)
    assert h.val_loss == [None] and h.val_acc == [None]


def test_stratified_split_is_deterministic_and_keeps_class_balance():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, val = stratified_split(y, 0.1, np.random.default_rng(0))
    assert np.bincount(y[val]).tolist() == [1, 2, 3, 4]
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    again = stratified_split(y, 0.1, np.random.default_rng(0))
    assert np.array_equal(again[1], val)


def test_augment_gets_float_batches_and_the_seeded_rng():
    x, y = bar_images(40)
    seen = []

    def augment(batch, rng):
        seen.append((batch.dtype, batch.max() <= 1.0, isinstance(rng, np.random.Generator)))
        return batch[:, :, :, ::-1].copy()

    model = small_cnn()
    Trainer(model, SGD(model, 0.1), epochs=1, batch_size=20, val_fraction=0,
            augment=augment).fit(x, y)
    assert seen == [(np.float32, True, True)] * 2


def test_l2_shrinks_the_weights():
    x, y = bar_images(60)
    norms = []
    for l2 in (0.0, 0.5):
        model = small_cnn()
        Trainer(model, SGD(model, 0.05), epochs=3, batch_size=20, l2=l2).fit(x, y)
        norms.append(np.linalg.norm(model.layers[-1].params["W"]))
    assert norms[1] < 0.8 * norms[0]


def test_nan_loss_raises_training_diverged():
    x, y = bar_images(60)
    model = small_cnn()
    trainer = Trainer(model, SGD(model, lr=1e30), epochs=3, batch_size=10)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+ \(learning rate 1e\+30\)") as info:
        trainer.fit(x, y)
    assert isinstance(info.value, ValueError) and info.value.lr == 1e30
    assert not np.isfinite(info.value.loss)


def test_bad_labels_and_shapes_are_reported():
    x, y = bar_images(30)
    model = small_cnn()
    trainer = Trainer(model, SGD(model, 0.1))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        trainer.fit(x, y + 1)
    with pytest.raises(ValueError, match=r"takes \(N, 1, 8, 8\) inputs, got \(30, 8, 8\)"):
        trainer.fit(x[:, 0], y)
    with pytest.raises(ValueError, match="30 images but 29 labels"):
        trainer.fit(x, y[:29])
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Trainer(model, SGD(model, 0.1), batch_size=0)


class Gate:
    """Holds the training thread inside its first on_batch until released."""

    def __init__(self):
        self.reports = []
        self.arrived, self.release = threading.Event(), threading.Event()

    def on_batch(self, report):
        self.reports.append(report)
        if len(self.reports) == 1:
            self.arrived.set()
            assert self.release.wait(10)


def start_fit(trainer, x, y):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("history", trainer.fit(x, y)))
    thread.start()
    return thread, result


def test_pause_and_resume_from_another_thread():
    x, y = bar_images(60)
    model = small_cnn()
    gate = Gate()
    trainer = Trainer(model, SGD(model, 0.1), epochs=1, batch_size=10, val_fraction=0,
                      on_batch=gate.on_batch)
    thread, result = start_fit(trainer, x, y)
    assert gate.arrived.wait(10)
    trainer.pause()
    assert trainer.paused
    gate.release.set()
    time.sleep(0.2)  # long enough for several batches were it not paused
    assert len(gate.reports) == 1 and thread.is_alive()
    trainer.resume()
    thread.join(10)
    assert not thread.is_alive() and not trainer.paused
    assert len(gate.reports) == 6 and not result["history"].stopped


def test_epoch_time_leaves_out_time_paused():
    x, y = bar_images(60)
    model = small_cnn()
    gate = Gate()
    trainer = Trainer(model, SGD(model, 0.1), epochs=1, batch_size=10, val_fraction=0,
                      on_batch=gate.on_batch)
    began = time.perf_counter()
    thread, result = start_fit(trainer, x, y)
    assert gate.arrived.wait(10)
    trainer.pause()
    gate.release.set()
    time.sleep(1.0)  # paused, mid-epoch
    trainer.resume()
    thread.join(10)
    wall = time.perf_counter() - began
    seconds = result["history"].epoch_seconds[0]
    assert 0 < seconds <= wall - 0.9


def test_stop_ends_between_batches_and_releases_a_pause():
    x, y = bar_images(60)
    model = small_cnn()
    gate = Gate()
    trainer = Trainer(model, SGD(model, 0.1), epochs=5, batch_size=10, on_batch=gate.on_batch)
    thread, result = start_fit(trainer, x, y)
    assert gate.arrived.wait(10)
    trainer.pause()
    gate.release.set()
    trainer.stop()
    thread.join(10)
    assert not thread.is_alive()
    history = result["history"]
    assert history.stopped and trainer.stopped and len(history.batch_loss) == 1
    assert history.train_loss == []  # the interrupted epoch is not reported


def test_history_to_csv_and_as_dict(tmp_path):
    history = History(batch_loss=[1.0, 0.5], batch_acc=[0.1, 0.2], train_loss=[0.75],
                      train_acc=[0.15], val_loss=[None], val_acc=[None], epoch_seconds=[1.5])
    path = tmp_path / "history.csv"
    history.to_csv(path)
    rows = list(csv.reader(path.open()))
    assert rows == [["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"],
                    ["1", "0.75", "0.15", "", "", "1.5"]]
    assert history.as_dict()["batch_loss"] == [1.0, 0.5] and history.as_dict()["stopped"] is False
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_evaluate_matches_a_direct_computation():
    x, y = bar_images(50)
    model = small_cnn(dropout=True).train()
    loss, acc = evaluate(model, x, y, batch_size=7)
    logits = model.eval().forward(x.astype(np.float32) / 255)
    assert loss == pytest.approx(SoftmaxCrossEntropy().forward(logits, y), rel=1e-5)
    assert acc == pytest.approx(np.mean(logits.argmax(1) == y))


MNIST_SAMPLE = resource_path("mnist_sample.npz")


@pytest.mark.skipif(not MNIST_SAMPLE.is_file(), reason="resources/mnist_sample.npz is absent")
def test_small_cnn_learns_real_digits():
    from cnnlab.data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist("sample")
    x, y = x_train[::10], y_train[::10]  # 400 digits, all classes
    model = Sequential([L.Normalize(0.5, 1.0), L.Conv2D(1, 8, 3, padding=1, rng=0), L.ReLU(),
                        L.MaxPool2D(2), L.Flatten(), L.Dense(8 * 14 * 14, 10, rng=1)],
                       (1, 28, 28))
    before = evaluate(model, x_test[:300], y_test[:300])
    history = Trainer(model, Adam(model, lr=3e-3), epochs=4, batch_size=32, seed=0).fit(x, y)
    after = evaluate(model, x_test[:300], y_test[:300])
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert after[0] < before[0]
    assert after[1] > 0.8  # chance is 0.1; ~0.9 in practice


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_keeps_the_model_dtype(dtype):
    x, y = bar_images(40)
    model = Sequential(small_cnn().layers, (1, 8, 8), dtype=dtype)
    Trainer(model, Adam(model, lr=0.01, weight_decay=0.01), epochs=1, batch_size=20, l1=1e-3,
            l2=1e-3).fit(x, y)
    arrays = [a for layer in model for a in (*layer.params.values(), *layer.grads.values())]
    assert arrays and all(a.dtype == dtype for a in arrays)


def test_precision_metric_keras_style_in_reports_history_and_csv(tmp_path):
    from cnnlab.engine.metrics import macro_precision

    x, y = bar_images(90)
    model = small_cnn()
    reports = []
    trainer = Trainer(model, SGD(model, 0.1), epochs=2, batch_size=10, val_fraction=0.3,
                      metrics=["accuracy", "precision"], on_epoch=reports.append)
    history = trainer.fit(x, y)
    assert len(history.train_precision) == len(history.val_precision) == 2
    assert [r.train_precision for r in reports] == history.train_precision
    # validation precision: the trained model's predictions on the same split, recomputed
    train_idx, val_idx = stratified_split(y, 0.3, np.random.default_rng(0))
    assert history.val_precision[-1] == pytest.approx(
        macro_precision(y[val_idx], model.predict(x[val_idx])))
    assert 0 <= history.train_precision[0] <= 1
    history.to_csv(tmp_path / "h.csv")
    rows = list(csv.reader(open(tmp_path / "h.csv")))
    assert rows[0][-2:] == ["train_precision", "val_precision"]
    assert float(rows[2][-1]) == pytest.approx(history.val_precision[1])
    plain = Trainer(small_cnn(), SGD(small_cnn(), 0.1), epochs=1, val_fraction=0).fit(x, y)
    assert plain.train_precision == [] and plain.val_precision == []
    with pytest.raises(ValueError, match="unknown metric 'recall'"):
        Trainer(model, SGD(model, 0.1), metrics=["accuracy", "recall"])


def test_a_summed_loss_trains_like_the_homework_and_reports_per_image():
    # reduction="sum": the gradient is N times the mean's, so lr/N gives the same steps
    x, y = bar_images(60)
    runs = []
    for reduction, lr in (("mean", 0.1), ("sum", 0.1 / 8)):  # 48 training images: 6 × 8
        model = small_cnn()
        trainer = Trainer(model, SGD(model, lr), SoftmaxCrossEntropy(reduction), epochs=1,
                          batch_size=8, val_fraction=0.2)
        runs.append((trainer.fit(x, y), model.get_weights()))
    (h_mean, w_mean), (h_sum, w_sum) = runs
    for k in w_mean:
        np.testing.assert_allclose(w_sum[k], w_mean[k], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h_sum.batch_loss, h_mean.batch_loss, rtol=1e-4)  # per image
    assert h_sum.val_loss[0] == pytest.approx(h_mean.val_loss[0], rel=1e-4)
