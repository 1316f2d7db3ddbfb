"""One training run as a session job: the trainer (built on the GUI thread, so Pause and
Stop work from the first moment) and the job function that feeds it, reporting batches,
epochs, diagnostics and weight snapshots. The session starts it as its training job."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnlab.app.jobs import JobContext
from cnnlab.engine.model import Sequential
from cnnlab.lab.training import TrainingConfig
from cnnlab.lab.training_diagnostics import TrainingDiagnostics


@dataclass(frozen=True)
class WeightsSnapshot:
    """A copy of the model taken between batches, safe to use on the GUI thread."""

    model: Sequential
    epoch: int
    batch: int


def training_run(model: Sequential, cfg: TrainingConfig, ds, snapshot_s: float,
                 diagnostics_s: float) -> tuple[object, Callable[[JobContext], object]]:
    """``(trainer, run)`` for training ``model`` on the dataset bundle ``ds`` with ``cfg``:
    ``run(ctx)`` is the job function. Weight copies go out every ``snapshot_s`` seconds,
    gradient diagnostics every ``diagnostics_s``. Raises ``ValueError`` for bad user data."""
    from cnnlab.engine.trainer import Trainer

    x_all, y_all = ds.x_train, ds.y_train
    extra = None
    if cfg.include_user_digits and ds.input_shape == (1, 28, 28):
        from cnnlab.data.user_digits import UserDigits

        extra = UserDigits(cfg.user_digits_path).arrays()  # DatasetError is a ValueError

    def training_data() -> tuple[np.ndarray, np.ndarray]:
        """The images to train on, drawn in the job (nothing O(dataset) on the GUI
        thread): a random subset fixed by the seed (the bundled sample is sorted by
        label, so its first N images would all be zeros), plus the user's digits."""
        x, y = x_all, y_all
        if cfg.subset and cfg.subset < len(x):
            keep = np.sort(np.random.default_rng(cfg.seed).permutation(len(x))[: cfg.subset])
            x, y = x[keep], y[keep]
        if extra is not None:
            x, y = np.concatenate([x, extra[0]]), np.concatenate([y, extra[1]])
        return x, y

    model.train()
    augment = None
    if cfg.augment:
        from cnnlab.engine.augment import random_shift

        augment = random_shift
    last_snapshot = [0.0]
    holder: dict[str, JobContext] = {}
    # gradient norms now and then, histograms of a fixed probe batch every epoch
    rng = np.random.default_rng(cfg.seed)
    probe = x_all[np.sort(rng.choice(len(x_all), min(64, len(x_all)), replace=False))]
    diagnostics = TrainingDiagnostics(model, probe=probe, interval_s=diagnostics_s)

    def on_batch(report) -> None:
        ctx = holder["ctx"]
        ctx.report(report)
        measured = diagnostics.after_step()
        if measured is not None:
            ctx.report(measured, force=True)
        now = time.perf_counter()
        if now - last_snapshot[0] >= snapshot_s:
            last_snapshot[0] = now
            ctx.report(WeightsSnapshot(model.copy(), report.epoch, report.batch), force=True)

    # Built here so Pause/Stop work from the first moment; fit() runs in the worker.
    trainer = Trainer(
        model, cfg.make_optimizer(model), cfg.make_loss(), epochs=cfg.epochs,
        batch_size=cfg.batch_size, metrics=cfg.metrics,
        val_fraction=cfg.val_fraction, seed=cfg.seed, l2=cfg.l2, l1=cfg.l1,
        augment=augment, on_batch=on_batch, on_gradients=diagnostics.before_step,
        on_epoch=lambda r: (holder["ctx"].report(r, force=True),
                            holder["ctx"].report(diagnostics.epoch_end(r.epoch), force=True)))

    def run(ctx: JobContext):
        holder["ctx"] = ctx
        ctx.report(diagnostics.epoch_end(0), force=True)
        return trainer.fit(*training_data())

    return trainer, run
