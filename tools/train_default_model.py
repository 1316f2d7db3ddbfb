"""Train the default digit model shipped in ``resources/models/digits.npz``.

    python tools/train_default_model.py --out resources/models/digits.npz
    python tools/train_default_model.py --epochs 30 --seed 0 --out /tmp/digits.npz

What it does (cnnlab's own engine only, no other framework):

* data: the bundled MNIST sample (``cnnlab.data.load_mnist("sample")``), all 4,000 training
  digits for training; the 1,000 held-out test digits are used once, after training, for the
  accuracy stored in the model's metadata (no choice here is made by looking at them);
* network: the "LeNet-like" preset (conv 5×5×32 pad 2 → ReLU → pool → conv 5×5×64 pad 2 →
  ReLU → pool → dense 3136→128 → ReLU → dense 128→10);
* augmentation: every training batch gets a random small rotation (±12°), scaling (0.85–1.15)
  and shift (±2.5 px) per image (``cnnlab.engine.augment.random_affine``), so the net copes
  with digits drawn on the canvas, which are never placed exactly like MNIST's;
* Adam, batch 64, learning rate 1e-3 with a cosine decay to 2% of it over the epochs, a
  fixed seed (same seed → same weights).

It prints one line per epoch and writes the model atomically (``Sequential.save``) with
``meta``: name, dataset, test_accuracy, class names and the training settings.
On 2 CPU cores shared with other work, 24 epochs took about 8 minutes with
``OMP_NUM_THREADS=1`` (a multi-threaded BLAS fighting other processes for the cores is
several times slower; on an idle machine leave it unset).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable from a plain checkout, without installing cnnlab

from cnnlab.data import MNIST_CLASSES, load_mnist, to_float  # noqa: E402
from cnnlab.engine.augment import random_affine  # noqa: E402
from cnnlab.engine.optim import Adam  # noqa: E402
from cnnlab.engine.trainer import Trainer, evaluate  # noqa: E402
from cnnlab.lab.presets import build_preset  # noqa: E402

PRESET = "LeNet-like (32-64 conv, 128 dense)"
AUGMENT = {"max_rotate_deg": 12.0, "scale": (0.85, 1.15), "max_shift": 2.5}
FINAL_LR_FRACTION = 0.02


def cosine_lr(base_lr: float, epoch: int, epochs: int) -> float:
    """Learning rate for 0-based ``epoch``: ``base_lr`` decaying along half a cosine to
    ``FINAL_LR_FRACTION * base_lr`` at the last epoch."""
    if epochs <= 1:
        return base_lr
    t = epoch / (epochs - 1)
    low = FINAL_LR_FRACTION * base_lr
    return low + 0.5 * (base_lr - low) * (1.0 + math.cos(math.pi * t))


def train(epochs: int = 24, seed: int = 0, lr: float = 1e-3, batch_size: int = 64,
          subset: int | None = None, log=print):
    """Train the default digit model; returns ``(model, test_accuracy)``.

    ``subset`` keeps N random training digits (for quick checks of this script).
    """
    (x_train, y_train), (x_test, y_test) = load_mnist("sample")  # uint8 (N, 1, 28, 28)
    if subset:  # a random subset: the sample is sorted by label
        keep = np.random.default_rng(seed).permutation(len(x_train))[:subset]
        x_train, y_train = x_train[keep], y_train[keep]
    x = to_float(x_train)  # float32 in [0, 1]: the augmentation works on floats
    model = build_preset(PRESET, seed=seed)
    optimizer = Adam(model, lr=lr)
    start = time.perf_counter()

    def on_epoch(report) -> None:
        log(f"epoch {report.epoch:2d}/{report.epochs} — loss {report.train_loss:.4f} — "
            f"acc {report.train_acc:.4f} — lr {optimizer.lr:.2e} — {report.seconds:.1f} s "
            f"(total {time.perf_counter() - start:.0f} s)")
        optimizer.lr = cosine_lr(lr, report.epoch, epochs)  # for the next epoch

    trainer = Trainer(model, optimizer, epochs=epochs, batch_size=batch_size, val_fraction=0.0,
                      seed=seed, augment=functools.partial(random_affine, **AUGMENT),
                      on_epoch=on_epoch)
    log(f"training {PRESET} on {len(x)} MNIST sample digits for {epochs} epochs (seed {seed})")
    trainer.fit(x, y_train)
    model.eval()
    _loss, acc = evaluate(model, to_float(x_test), y_test)
    log(f"test accuracy on the {len(x_test)} held-out sample digits: {100 * acc:.2f}%")
    model.meta = {
        "name": "default digits",
        "dataset": "MNIST sample (resources/mnist_sample.npz): "
                   f"{len(x)} train digits, tested on {len(x_test)} held-out digits",
        "test_accuracy": round(float(acc), 4),
        "class_names": list(MNIST_CLASSES),
        "preset": PRESET,
        "training": {"script": "tools/train_default_model.py", "epochs": epochs, "seed": seed,
                     "optimizer": "adam", "lr": lr, "lr_schedule": "cosine to 2%",
                     "batch_size": batch_size, "augment": "random_affine",
                     "augment_settings": {k: list(v) if isinstance(v, tuple) else v
                                          for k, v in AUGMENT.items()},
                     "seconds": round(time.perf_counter() - start, 1)},
    }
    return model, float(acc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "models" / "digits.npz",
                        help="where to write the model (.npz); default: %(default)s")
    parser.add_argument("--epochs", type=int, default=24, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial Adam learning rate")
    parser.add_argument("--subset", type=int, default=None,
                        help="train on N random digits only (quick check)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    model, _acc = train(epochs=args.epochs, seed=args.seed, lr=args.lr, subset=args.subset)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
