"""``cnnlab train``: the app's Trainer from the terminal, with a progress bar per epoch.

Ctrl-C asks the trainer to stop after the current batch (as the app's Stop does); the model
and the history are then saved as usual. A second Ctrl-C aborts without saving.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from cnnlab.cli.sources import check_fits, load_dataset, model_from_spec
from cnnlab.engine.optim import OPTIMIZERS, make_optimizer
from cnnlab.engine.trainer import Trainer, TrainingDiverged, evaluate
from cnnlab.lab.training_monitor import epoch_line


def clock(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; hours when needed (``"2:03:09"``)."""
    s = int(round(max(seconds, 0.0)))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class EpochProgress:
    """The progress bar of one epoch on ``stream`` (redrawn in place on a terminal, a line
    every quarter of an epoch otherwise) and the Keras-like line after each epoch on ``out``."""

    def __init__(self, stream=None, out=None, width: int = 24):
        self.stream, self.out, self.width = stream or sys.stderr, out or sys.stdout, width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._epoch_start = 0.0  # trainer seconds at the end of the previous epoch
        self._loss = self._acc = 0.0
        self._shown_quarter = -1

    def batch(self, r) -> None:
        if r.batch == 1:
            self._loss = self._acc = 0.0
            self._shown_quarter = -1
        self._loss += r.loss
        self._acc += r.acc
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw < 0.1 and r.batch != r.batches:
                return
        else:
            quarter = 4 * r.batch // r.batches
            if quarter == self._shown_quarter or quarter == 0:
                return
            self._shown_quarter = quarter
        self._last_draw = now
        per_batch = (r.seconds - self._epoch_start) / r.batch
        filled = int(round(self.width * r.batch / r.batches))
        line = (f"epoch {r.epoch}/{r.epochs} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{r.batch}/{r.batches} · {r.samples_per_s:,.0f} img/s · "
                f"ETA {clock(per_batch * (r.batches - r.batch))} · loss {self._loss / r.batch:.4f} · "
                f"acc {self._acc / r.batch:.4f}")
        self.stream.write(("\r" + line + "\033[K") if self.tty else line + "\n")
        self.stream.flush()

    def epoch(self, report) -> None:
        self._epoch_start += report.seconds
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(epoch_line(report), file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A message on a line of its own (not inside the bar)."""
        self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.stream.flush()


@contextmanager
def stop_on_interrupt(trainer, progress: EpochProgress):
    """While training: the first Ctrl-C stops after the current batch, a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer.stopped:
            raise KeyboardInterrupt
        trainer.stop()
        progress.note("stopping after this batch; the model will still be saved "
                      "(Ctrl-C again aborts without saving)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def add_arguments(p) -> None:
    p.add_argument("spec", metavar="SPEC",
                   help="a preset name (see `cnnlab presets`), an architecture .json, or a model "
                        "file (.npz/.onnx) to continue training")
    p.add_argument("--data", default="mnist", metavar="DATA",
                   help="mnist (default: the bundled sample), mnist:full, cifar10, cifar10:full, "
                        "KIND:PATH or PATH")
    p.add_argument("--epochs", type=int, default=3, help="epochs to train (default 3)")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    p.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS), help="default adam")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the optimizer's, 1e-3 for adam)")
    p.add_argument("--weight-decay", type=float, default=0.0, metavar="λ",
                   help="adds λ·w to every gradient, as PyTorch's weight_decay (default 0)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training images held out for validation (default 0.1)")
    p.add_argument("--augment", action="store_true", help="random shifts of up to 2 pixels")
    p.add_argument("--seed", type=int, default=0,
                   help="drives the initial weights, split, shuffling and augmentation (default 0)")
    p.add_argument("--download", action="store_true", help="download a full dataset if needed")
    p.add_argument("--out", required=True, metavar="MODEL.npz", help="where to save the model")
    p.add_argument("--history", metavar="HISTORY.csv", help="save the epoch history as CSV")


def settings_of(args, dataset_name: str) -> dict:
    """The training settings recorded in the model's ``meta["training"]`` (and shown in an
    exported ``model.py``)."""
    lr = args.lr if args.lr is not None else OPTIMIZERS[args.optimizer].defaults()["lr"]
    return {"data": dataset_name, "optimizer": args.optimizer, "lr": lr,
            "weight_decay": args.weight_decay, "epochs": args.epochs, "batch_size": args.batch_size,
            "val_fraction": args.val_fraction, "seed": args.seed, "augment": bool(args.augment)}


def _check_writable(*paths) -> None:
    """Refuse before training, not after, when a result could not be written."""
    for path in filter(None, paths):
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
        if Path(path).is_dir():
            raise IsADirectoryError(f"cannot write {path}: it is a folder")


def run(args) -> int:
    _check_writable(args.out, args.history)
    model, name, continued = model_from_spec(args.spec, args.seed)
    dataset = load_dataset(args.data, model.input_shape, download=args.download)
    check_fits(model, dataset)
    settings = settings_of(args, dataset.name)
    hyper = {"lr": settings["lr"]}
    if args.weight_decay:
        hyper["weight_decay"] = args.weight_decay
    optimizer = make_optimizer(args.optimizer, model.layers, **hyper)
    augment = None
    if args.augment:
        from cnnlab.engine.augment import random_shift

        augment = random_shift
    progress = EpochProgress()
    trainer = Trainer(model, optimizer, epochs=args.epochs, batch_size=args.batch_size,
                      val_fraction=args.val_fraction, seed=args.seed, augment=augment,
                      on_batch=progress.batch, on_epoch=progress.epoch)
    epochs = f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}"
    print(f"{'continuing' if continued else 'training'} {name} ({model.n_params:,} parameters) on "
          f"{dataset.name}: {len(dataset.x_train):,} images, {epochs}, {args.optimizer} lr "
          f"{settings['lr']:g}", flush=True)
    try:
        with stop_on_interrupt(trainer, progress):
            history = trainer.fit(dataset.x_train, dataset.y_train)
    except TrainingDiverged as exc:
        progress.note(f"error: {exc}; nothing was saved")
        return 1
    except KeyboardInterrupt:
        progress.note("aborted; nothing was saved")
        return 130
    done = len(history.train_loss)
    model.meta = {**(model.meta or {}), "name": name, "training": {**settings, "epochs_done": done}}
    model.meta.pop("test_accuracy", None)  # a continued model's old score no longer applies
    try:
        test_loss, test_acc = evaluate(model, dataset.x_test, dataset.y_test)
        model.meta["test_accuracy"] = test_acc
    except KeyboardInterrupt:
        test_loss = None
        progress.note("test evaluation skipped")
    model.eval()
    model.save(args.out)
    if args.history:
        history.to_csv(args.history)
    if history.stopped:
        progress.note(f"stopped after {done} complete epoch{'s' if done != 1 else ''} "
                      f"and {len(history.batch_loss)} batches in all")
    if test_loss is not None:
        print(f"test ({len(dataset.x_test):,} images): loss {test_loss:.4f} — acc {test_acc:.4f}")
    print(f"saved the model to {args.out}" + (f" and the history to {args.history}" if args.history else ""))
    return 0
