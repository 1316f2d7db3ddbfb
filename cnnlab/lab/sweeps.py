"""Experiments that train many models: hyper-parameter grids, training-set-size curves and
the logistic-regression baseline (Experiments tab).

Each function trains with :class:`cnnlab.engine.trainer.Trainer`, reports through plain
callbacks with small frozen dataclasses, and honours ``should_stop()`` within one batch (it
is checked after every batch and stops the running trainer). ``build_model`` is a
zero-argument callable returning a fresh ``Sequential``; every run re-draws its weights with
``model.reset_parameters(seed)``, so all runs of a sweep start from the same weights and the
same ``seed`` reproduces a sweep exactly.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from cnnlab.engine.model import Sequential
from cnnlab.engine.trainer import Trainer, TrainingDiverged, evaluate, stratified_split
from cnnlab.files import write_atomically
from cnnlab.lab.concurrent_runs import concurrent_runs, run_all
from cnnlab.lab.training import TrainingConfig

#: hyper-parameters a grid can vary
SWEEP_PARAMS = ("lr", "l2", "l1", "batch_size", "momentum")


#: what a sweep trains with unless told otherwise: plain settings of the exercises
SWEEP_DEFAULTS = TrainingConfig(epochs=2, batch_size=64, lr=0.01, optimizer="sgd",
                                hyper={"momentum": 0.9}, val_fraction=0.2)


@dataclass(frozen=True)
class Progress:
    """Sent after every batch: ``run``/``runs`` (1-based) count the models of the experiment,
    ``epoch``/``batch`` are those of run ``run``; ``fraction`` of all batches of all runs is
    done (for a progress bar). ``training`` lists the runs (1-based) under way now (several
    train at once on a multi-core machine) and ``finished`` counts the runs done."""

    run: int
    runs: int
    epoch: int
    epochs: int
    batch: int
    batches: int
    fraction: float
    training: tuple[int, ...] = ()
    finished: int = 0


@dataclass(frozen=True)
class SweepRow:
    """One grid cell: the values ``a`` of ``param_a`` and ``b`` of ``param_b``, the last
    epoch's train/validation loss and accuracy, and the cell's wall time in seconds. A cell
    whose loss became NaN/Inf has ``diverged=True`` and NaN results."""

    a: float
    b: float
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    seconds: float
    param_a: str = "lr"
    param_b: str = "l2"
    diverged: bool = False


@dataclass(frozen=True)
class SweepResult:
    """The finished cells in grid order; ``stopped`` when ``should_stop`` cut it short."""

    rows: tuple[SweepRow, ...]
    stopped: bool


@dataclass(frozen=True)
class DataSizePoint:
    """Trained on ``n`` images (``fraction`` of the training set); scores on the test set."""

    fraction: float
    n: int
    test_acc: float
    test_loss: float
    train_acc: float
    seconds: float


@dataclass(frozen=True)
class DataSizeResult:
    """The finished points in ``fractions`` order; ``stopped`` when cut short."""

    points: tuple[DataSizePoint, ...]
    stopped: bool


# ----------------------------------------------------------------------------- one run

class _Run:
    """Trains one model with ``settings``, reporting ``report(done, batch_report)`` after
    every batch (``done``: the fraction of this run finished) and stopping the trainer as
    soon as ``should_stop()`` says so."""

    def __init__(self, build_model: Callable[[], Sequential], settings: TrainingConfig,
                 report, should_stop):
        self.model = build_model()
        self.model.reset_parameters(settings.seed)
        s = settings
        opt = s.make_optimizer(self.model)
        self.report, self.should_stop = report, should_stop
        self.trainer = Trainer(self.model, opt, epochs=s.epochs, batch_size=s.batch_size,
                               val_fraction=s.val_fraction, seed=s.seed, l2=s.l2, l1=s.l1,
                               on_batch=self._batch)

    def fit(self, *data):
        """``Trainer.fit(*data)``; afterwards the trainer lets go of this run (its batch
        callback is a bound method: a reference cycle would keep the model's buffers,
        hundreds of MB for LeNet-sized runs trained at once, until the next full GC)."""
        try:
            return self.trainer.fit(*data)
        finally:
            self.trainer.on_batch = None

    def _batch(self, report) -> None:
        batches_done = (report.epoch - 1) * report.batches + report.batch
        self.report(batches_done / (report.epochs * report.batches), report)
        if self.should_stop():
            self.trainer.stop()  # takes effect before the next batch


class _Progress:
    """Turns ``run_all``'s per-run updates into :class:`Progress` for ``on_progress``:
    ``fraction`` counts every run's finished share (several train at once)."""

    def __init__(self, runs: int, on_progress):
        self.done = [0.0] * runs
        self.on_progress = on_progress

    def __call__(self, i: int, done: float, report) -> None:
        self.done[i] = done
        if self.on_progress is not None:
            training = tuple(k + 1 for k, d in enumerate(self.done) if 0 < d < 1)
            self.on_progress(Progress(i + 1, len(self.done), report.epoch, report.epochs,
                                      report.batch, report.batches,
                                      sum(self.done) / len(self.done), training,
                                      sum(d >= 1 for d in self.done)))


def _finished(results: list) -> tuple:
    """The runs that finished, in run order."""
    return tuple(r for r in results if r is not None)


# ----------------------------------------------------------------------------- grid sweep

def _check_param(param, what: str) -> tuple[str, list]:
    try:
        name, values = param
        values = list(values)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (name, [values]), got {param!r}") from None
    if name not in SWEEP_PARAMS:
        raise ValueError(f"{what}: cannot sweep {name!r}; choose one of {', '.join(SWEEP_PARAMS)}")
    if not values:
        raise ValueError(f"{what}: no values given for {name}")
    if name == "batch_size":
        values = [int(v) for v in values]
    return name, values


def grid_sweep(build_model: Callable[[], Sequential], x, y,
               param_a=("lr", (0.001, 0.01, 0.1)), param_b=("l2", (0.0, 1e-4, 1e-3)), *,
               settings: TrainingConfig | None = None, x_val=None, y_val=None,
               on_row: Callable[[SweepRow], None] | None = None,
               on_progress: Callable[[Progress], None] | None = None,
               should_stop: Callable[[], bool] | None = None, workers: int | None = None,
               **overrides) -> SweepResult:
    """Train one model per ``(a, b)`` cell of the grid ``param_a × param_b``, rows in
    row-major order (``b`` varies fastest).

    x: ``(N, *input_shape)`` uint8 or float images; y: ``(N,)`` int labels. Each parameter
    is ``(name, values)`` with a name from ``SWEEP_PARAMS``. Everything else comes from
    ``settings`` (default :data:`SWEEP_DEFAULTS`), or keyword ``overrides`` of its fields
    (``epochs=3, seed=1``). Validation: ``(x_val, y_val)`` or a stratified
    ``settings.val_fraction`` split. ``on_row`` gets each finished row; a cell whose loss
    diverges is recorded with ``diverged=True``. Stopping drops the unfinished cells.
    ``workers`` cells train at once (default :func:`concurrent_runs`: every core when BLAS
    runs on one thread); the rows do not depend on it and arrive in grid order.
    """
    name_a, values_a = _check_param(param_a, "param_a")
    name_b, values_b = _check_param(param_b, "param_b")
    if name_a == name_b:
        raise ValueError(f"param_a and param_b must differ, both are {name_a!r}")
    base = _settings(settings, overrides)
    cells = [(a, b) for a in values_a for b in values_b]

    def cell(i: int):
        a, b = cells[i]
        cell_settings = _replace(base, **{name_a: a, name_b: b})

        def train(report, stop) -> SweepRow | None:
            run = _Run(build_model, cell_settings, report, stop)
            start = time.perf_counter()
            try:
                history = run.fit(x, y, x_val, y_val)
            except TrainingDiverged:
                nan = float("nan")
                return SweepRow(a, b, nan, nan, nan, nan, time.perf_counter() - start,
                                name_a, name_b, diverged=True)
            if len(history.train_loss) < cell_settings.epochs:  # stopped mid-cell
                return None
            return SweepRow(a, b, history.train_loss[-1], history.train_acc[-1],
                            history.val_loss[-1], history.val_acc[-1],
                            time.perf_counter() - start, name_a, name_b)
        return train

    results, stopped = run_all(
        [cell(i) for i in range(len(cells))], workers or concurrent_runs(len(cells)),
        on_update=_Progress(len(cells), on_progress), should_stop=should_stop,
        on_result=None if on_row is None else lambda _i, row: on_row(row))
    return SweepResult(_finished(results), stopped)


def _settings(settings: TrainingConfig | None, overrides: dict) -> TrainingConfig:
    base = settings or SWEEP_DEFAULTS
    known = {f.name for f in fields(TrainingConfig)} | set(base.optimizer_hyper())
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
    return _replace(base, **overrides)


def _replace(settings: TrainingConfig, **changes) -> TrainingConfig:
    """``settings`` with fields or optimizer hyper-parameters (``momentum``) changed."""
    return settings.with_(**changes)


def rows_to_csv(rows: Sequence[SweepRow], path) -> None:
    """Write sweep rows as CSV (header from the parameter names, e.g.
    ``lr,l2,train_loss,train_acc,val_loss,val_acc,seconds,diverged``), atomically."""
    name_a = rows[0].param_a if rows else "a"
    name_b = rows[0].param_b if rows else "b"
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([name_a, name_b, "train_loss", "train_acc", "val_loss", "val_acc",
                     "seconds", "diverged"])
    for r in rows:
        writer.writerow([r.a, r.b, r.train_loss, r.train_acc,
                         "" if r.val_loss is None else r.val_loss,
                         "" if r.val_acc is None else r.val_acc, f"{r.seconds:.3f}",
                         int(r.diverged)])
    data = text.getvalue().encode("utf-8")
    write_atomically(path, lambda f: f.write(data))


# ----------------------------------------------------------------------------- data size

def data_size_curve(build_model: Callable[[], Sequential], x, y, x_test, y_test,
                    fractions: Sequence[float] = (0.1, 0.2, 0.5, 1.0), *,
                    settings: TrainingConfig | None = None,
                    on_point: Callable[[DataSizePoint], None] | None = None,
                    on_progress: Callable[[Progress], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, workers: int | None = None,
                    **overrides) -> DataSizeResult:
    """Train on growing stratified subsets of ``(x, y)`` and score each model on
    ``(x_test, y_test)``.

    Each subset takes ``round(fraction · count)`` images of every class (at least one), chosen
    by ``settings.seed``; smaller subsets are contained in larger ones. Every run has the same
    epochs and hyper-parameters (so smaller sets also mean fewer steps) and no validation
    split. Returns the points in the order of ``fractions``; ``workers`` as in
    :func:`grid_sweep`.
    """
    base = _replace(_settings(settings, overrides), val_fraction=0.0)
    fractions = [float(f) for f in fractions]
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise ValueError(f"fractions must be in (0, 1], got {fractions or 'none'}")
    y = np.asarray(y)

    def point(fraction: float):
        def train(report, stop) -> DataSizePoint | None:
            idx = _nested_subset(y, fraction, base.seed)
            run = _Run(build_model, base, report, stop)
            start = time.perf_counter()
            history = run.fit(x[idx], y[idx])
            if len(history.train_loss) < base.epochs:  # stopped mid-run
                return None
            test_loss, test_acc = evaluate(run.model, x_test, y_test)
            return DataSizePoint(fraction, len(idx), test_acc, test_loss, history.train_acc[-1],
                                 time.perf_counter() - start)
        return train

    results, stopped = run_all(
        [point(f) for f in fractions], workers or concurrent_runs(len(fractions)),
        on_update=_Progress(len(fractions), on_progress), should_stop=should_stop,
        on_result=None if on_point is None else lambda _i, p: on_point(p))
    return DataSizeResult(_finished(results), stopped)


def _nested_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``fraction`` of every class (at least one each). The same seed
    draws the same per-class order, so a smaller fraction takes a prefix of a larger one."""
    if fraction >= 1.0:
        return np.arange(len(y))
    # stratified_split's "validation" part is exactly a per-class prefix of a seeded shuffle.
    _, subset = stratified_split(y, fraction, np.random.default_rng(seed))
    missing = [c for c in np.unique(y) if not np.any(y[subset] == c)]
    if missing:  # a class too small for this fraction still gets one image
        extra = [np.flatnonzero(y == c)[0] for c in missing]
        subset = np.sort(np.concatenate([subset, extra]))
    return subset


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``n`` of the samples labelled ``y`` ``(N,)``, stratified by
    class and drawn by ``seed`` (datasets sorted by class, like the bundled MNIST sample,
    make a plain prefix ``x[:n]`` hold only the first few classes)."""
    if n >= len(y):
        return np.arange(len(y))
    _, idx = stratified_split(y, n / len(y), np.random.default_rng(seed))
    return idx
