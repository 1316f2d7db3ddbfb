"""Hyper-parameter grids, data-size curves and the logistic baseline, on small MNIST data."""

import csv
import math
import threading

import numpy as np
import pytest

from cnnlab.engine.layers import Dense, Flatten, ReLU
from cnnlab.engine.model import Sequential
from cnnlab.lab.baseline import linear_softmax, logistic_baseline
from cnnlab.lab.sweeps import (
    SweepRow,
    _nested_subset,
    data_size_curve,
    grid_sweep,
    rows_to_csv,
)
from cnnlab.lab.training import TrainingConfig


@pytest.fixture(scope="module")
def mnist():
    from cnnlab.data import load_mnist

    (x, y), (xt, yt) = load_mnist("sample")
    rng = np.random.default_rng(0)
    tr = rng.permutation(len(y))[:400]
    te = rng.permutation(len(yt))[:300]
    return x, y, xt, yt, tr, te


def _mlp():
    return Sequential([Flatten(), Dense(784, 16), ReLU(), Dense(16, 10)], (1, 28, 28))


def _results(rows):
    return [(r.a, r.b, r.train_loss, r.train_acc, r.val_loss, r.val_acc, r.diverged) for r in rows]


def test_grid_has_one_row_per_cell_and_is_reproducible(mnist):
    x, y, _, _, tr, _ = mnist
    seen_rows, progress = [], []
    kwargs = dict(param_a=("lr", [0.01, 0.1]), param_b=("batch_size", [32, 100, 200]),
                  epochs=1, seed=3)
    result = grid_sweep(_mlp, x[tr], y[tr], on_row=seen_rows.append,
                        on_progress=progress.append, **kwargs)
    assert not result.stopped
    assert [(r.a, r.b) for r in result.rows] == [(a, b) for a in (0.01, 0.1) for b in (32, 100, 200)]
    assert list(result.rows) == seen_rows
    assert all(r.param_a == "lr" and r.param_b == "batch_size" and r.seconds > 0 for r in result.rows)
    assert all(0 <= r.val_acc <= 1 and math.isfinite(r.train_loss) for r in result.rows)
    # the batch size really changes: a cell with batch 32 has ceil(320 / 32) = 10 batches
    assert {p.batches for p in progress if p.run == 1} == {10}
    assert {p.batches for p in progress if p.run == 3} == {2}
    assert progress[-1].fraction == pytest.approx(1.0) and progress[-1].runs == 6
    assert all(b.fraction >= a.fraction for a, b in zip(progress, progress[1:]))
    again = grid_sweep(_mlp, x[tr], y[tr], **kwargs)
    assert _results(again.rows) == _results(result.rows)
    other_seed = grid_sweep(_mlp, x[tr], y[tr], **{**kwargs, "seed": 4})
    assert _results(other_seed.rows) != _results(result.rows)
    # different settings give different results: the cells are really trained differently
    assert len({r.train_loss for r in result.rows}) == 6


def test_l2_and_settings_object(mnist):
    x, y, _, _, tr, _ = mnist
    settings = TrainingConfig(epochs=1, batch_size=50, optimizer="adam", lr=0.01, seed=1,
                              val_fraction=0.2)
    result = grid_sweep(_mlp, x[tr], y[tr], ("l2", [0.0, 0.5]), ("batch_size", [50]),
                        settings=settings)
    weak, strong = result.rows
    assert (weak.a, strong.a) == (0.0, 0.5)
    assert strong.train_acc < weak.train_acc  # a huge penalty hurts the fit
    with pytest.raises(ValueError, match="cannot sweep"):
        grid_sweep(_mlp, x[tr], y[tr], ("dropout", [0.1]), ("lr", [0.1]))
    with pytest.raises(ValueError, match="must differ"):
        grid_sweep(_mlp, x[tr], y[tr], ("lr", [0.1]), ("lr", [0.2]))
    with pytest.raises(TypeError, match="unknown training setting"):
        grid_sweep(_mlp, x[tr], y[tr], ("lr", [0.1]), ("l2", [0.0]), epoch=1)
    with pytest.raises(ValueError, match="optimizer"):
        TrainingConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="momentum"):  # Adam has no momentum to sweep
        grid_sweep(_mlp, x[tr], y[tr], ("lr", [0.1]), ("momentum", [0.0]), settings=settings)


def test_cancel_stops_within_one_batch(mnist):
    x, y, _, _, tr, _ = mnist
    batches = []

    def should_stop():
        return len(batches) >= 13

    result = grid_sweep(_mlp, x[tr], y[tr], ("lr", [0.01, 0.02]), ("l2", [0.0, 1e-3]),
                        epochs=2, batch_size=32, on_progress=batches.append,
                        should_stop=should_stop, workers=1)
    # 320 training images / 32 = 10 batches per epoch, 20 per cell: cell 1 was not finished
    assert result.stopped and result.rows == ()
    assert len(batches) == 13
    # a stop on a cell's last batch keeps that finished cell and runs no other
    batches.clear()
    result = grid_sweep(_mlp, x[tr], y[tr], ("lr", [0.01, 0.02]), ("l2", [0.0]), epochs=1,
                        batch_size=32, on_progress=batches.append,
                        should_stop=lambda: len(batches) >= 10, workers=1)
    assert result.stopped and len(result.rows) == 1 and len(batches) == 10


def test_diverging_cell_is_recorded_and_the_sweep_goes_on(mnist):
    x, y, _, _, tr, _ = mnist
    result = grid_sweep(_mlp, x[tr], y[tr], ("lr", [1e30, 0.05]), ("l2", [0.0]), epochs=1,
                        momentum=0.0)
    bad, good = result.rows
    assert bad.diverged and math.isnan(bad.train_loss)
    assert not good.diverged and math.isfinite(good.train_loss) and good.val_acc is not None


def test_rows_to_csv_is_atomic_and_readable(tmp_path):
    rows = [SweepRow(0.1, 32, 0.5, 0.8, 0.6, 0.75, 1.25, "lr", "batch_size"),
            SweepRow(1.0, 32, float("nan"), float("nan"), None, None, 0.5, "lr", "batch_size", True)]
    path = tmp_path / "sweep.csv"
    path.write_text("old")
    rows_to_csv(rows, path)
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["lr", "batch_size", "train_loss", "train_acc", "val_loss", "val_acc",
                        "seconds", "diverged"]
    assert table[1] == ["0.1", "32", "0.5", "0.8", "0.6", "0.75", "1.250", "0"]
    assert table[2][4:6] == ["", ""] and table[2][-1] == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]  # no temp file left


def test_nested_stratified_subsets():
    y = np.repeat(np.arange(5), [40, 30, 20, 10, 3])
    small, large = _nested_subset(y, 0.2, seed=1), _nested_subset(y, 0.5, seed=1)
    assert set(small) <= set(large)
    assert np.bincount(y[small]).tolist() == [8, 6, 4, 2, 1]  # every class, at least one
    assert np.bincount(y[large]).tolist() == [20, 15, 10, 5, 2]
    assert len(_nested_subset(y, 1.0, seed=1)) == len(y)


def test_data_size_curve(mnist):
    x, y, xt, yt, tr, te = mnist
    points = []
    result = data_size_curve(_mlp, x[tr], y[tr], xt[te], yt[te], (0.1, 0.5, 1.0), epochs=3,
                             batch_size=20, lr=0.05, on_point=points.append)
    assert not result.stopped and list(result.points) == points
    assert [p.fraction for p in points] == [0.1, 0.5, 1.0]
    assert [p.n for p in points] == [len(_nested_subset(y[tr], f, 0)) for f in (0.1, 0.5)] + [400]
    assert 35 <= points[0].n <= 45
    assert points[-1].test_acc > 0.6 and points[-1].test_acc > points[0].test_acc
    with pytest.raises(ValueError, match="fractions"):
        data_size_curve(_mlp, x[tr], y[tr], xt[te], yt[te], (0.0, 0.5))
    stopped = data_size_curve(_mlp, x[tr], y[tr], xt[te], yt[te], (0.5, 1.0), epochs=1,
                              should_stop=lambda: True)
    assert stopped.stopped and stopped.points == ()


def test_logistic_baseline_is_well_above_chance(mnist):
    x, y, xt, yt, _, te = mnist
    sub = np.random.default_rng(1).permutation(len(y))[:1000]
    epochs = []
    result = logistic_baseline(x[sub], y[sub], xt[te], yt[te], on_epoch=epochs.append)
    assert result.converged and not result.stopped
    assert result.test_acc > 0.8 and result.train_acc > result.test_acc - 0.05
    assert result.epochs == len(epochs) < 500
    layers = result.model.layers
    assert isinstance(layers[0], Flatten) and layers[1].params["W"].shape == (784, 10)
    cancelled = logistic_baseline(x[sub], y[sub], xt[te], yt[te], should_stop=lambda: True)
    assert cancelled.stopped and not cancelled.converged and cancelled.epochs <= 1


def test_linear_softmax_shape():
    model = linear_softmax((3, 4, 4), 5)
    assert model.output_shape == (5,) and model.n_params == 48 * 5 + 5
    assert not np.any(model.layers[1].params["W"])


# ------------------------------------------------------------- several runs at once

def test_cells_trained_at_once_give_the_same_rows_in_grid_order(mnist):
    x, y, xt, yt, tr, te = mnist
    grid = dict(param_a=("lr", [0.01, 0.1]), param_b=("l2", [0.0, 1e-3, 1e-2]), epochs=1,
                batch_size=32)
    seen, progress = [], []
    one = grid_sweep(_mlp, x[tr], y[tr], workers=1, **grid)
    three = grid_sweep(_mlp, x[tr], y[tr], workers=3, on_row=seen.append,
                       on_progress=progress.append, **grid)
    assert not three.stopped
    assert _results(three.rows) == _results(one.rows)  # bit for bit, in grid order
    assert seen == list(three.rows)  # handed on in grid order too
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # who is training: the reporting cell until its last batch; finished cells counted
    assert all(p.run in p.training for p in progress if (p.epoch, p.batch) != (p.epochs, p.batches))
    assert all(set(p.training) <= set(range(1, 7)) and len(p.training) <= 3 for p in progress)
    finished = [p.finished for p in progress]
    assert finished == sorted(finished) and progress[-1].finished == 6 and progress[-1].training == ()
    points1 = data_size_curve(_mlp, x[tr], y[tr], xt[te], yt[te], (0.25, 0.5, 1.0), epochs=1,
                              workers=1)
    points2 = data_size_curve(_mlp, x[tr], y[tr], xt[te], yt[te], (0.25, 0.5, 1.0), epochs=1,
                              workers=2)
    assert [(p.n, p.test_acc, p.test_loss) for p in points2.points] == \
        [(p.n, p.test_acc, p.test_loss) for p in points1.points]


def test_cells_trained_at_once_stop_within_one_batch_each(mnist):
    x, y, _, _, tr, _ = mnist
    stop = threading.Event()
    after_stop = []

    class Counting(Dense):
        def forward(self, a):
            if stop.is_set() and self.training:
                after_stop.append(threading.current_thread().name)
            return super().forward(a)

    def model():
        return Sequential([Flatten(), Counting(784, 16), ReLU(), Dense(16, 10)], (1, 28, 28))

    def on_progress(p):
        if p.fraction > 0.1:
            stop.set()

    result = grid_sweep(model, x[tr], y[tr], ("lr", [0.01, 0.02]), ("l2", [0.0, 1e-3]),
                        epochs=3, batch_size=8, workers=2, on_progress=on_progress,
                        should_stop=stop.is_set)
    assert result.stopped and len(result.rows) < 4
    assert len(after_stop) <= 2  # at most the batch each running cell was in


def test_an_error_in_one_run_stops_the_others_and_is_raised():
    from cnnlab.lab.concurrent_runs import run_all

    started = []

    def task(i):
        def run(report, stop):
            started.append(i)
            if i == 0:
                raise RuntimeError("run 0 broke")
            while not stop():  # the others run until told to stop
                threading.Event().wait(0.01)
            return None
        return run

    with pytest.raises(RuntimeError, match="run 0 broke"):
        run_all([task(i) for i in range(4)], 2)
    assert len(started) <= 3  # runs queued after the failure never start


def test_trained_models_are_freed_without_waiting_for_the_garbage_collector(mnist):
    import gc
    import weakref

    x, y, xt, yt, tr, te = mnist
    built = []

    def model():
        m = _mlp()
        built.append(weakref.ref(m))
        return m

    gc.collect()
    gc.disable()  # only reference counting: a cycle would keep the models (and buffers)
    try:
        grid_sweep(model, x[tr], y[tr], ("lr", [0.01]), ("l2", [0.0, 1e-3]), epochs=1, workers=2)
        data_size_curve(model, x[tr], y[tr], xt[te], yt[te], (0.5, 1.0), epochs=1, workers=1)
        assert len(built) == 4 and all(ref() is None for ref in built)
    finally:
        gc.enable()
