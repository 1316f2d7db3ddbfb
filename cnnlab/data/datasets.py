"""The one entry point for data: ``load_mnist`` and ``load_cifar10``, plus a split helper."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError
from cnnlab.data.formats import Pair, find_mnist_idx, read_mnist_idx, read_split_npz
from cnnlab.data.mnist_files import read_mnist_path
from cnnlab.resources import resource_path

MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
SAMPLE_FILES = {"mnist": "mnist_sample.npz", "cifar10": "cifar10_sample.npz"}

Source = str | os.PathLike
ProgressCallback = Callable[[int, int | None], None]


def sample_path(dataset: str) -> Path:
    """The bundled sample ``.npz`` of ``"mnist"`` or ``"cifar10"``."""
    return resource_path(SAMPLE_FILES[dataset])


def _load_sample(dataset: str, channels: int) -> tuple[Pair, Pair]:
    path = sample_path(dataset)
    if not path.is_file():
        raise DatasetError(f"{path}: the bundled {dataset} sample is missing "
                           "(rebuild it with: python tools/build_samples.py)")
    return read_split_npz(path, channels=channels)


def _load_full(dataset: str, cache_dir, download: bool, progress, cancel) -> Path:
    """The cache folder of ``dataset`` with every file present, downloading if allowed."""
    from cnnlab.data.download import cached_dataset_dir, download_dataset, missing_files, verify_dataset

    folder = cached_dataset_dir(dataset, cache_dir)
    damaged = verify_dataset(dataset, cache_dir)  # checksums before first use (remembered)
    missing = missing_files(dataset, cache_dir)
    if missing:
        if not download:
            names = ", ".join(f.filename for f in missing)
            why = "".join(f"\n  {line}" for line in damaged)
            raise DatasetError(f"{folder}: full {dataset} is not downloaded yet (missing {names}). "
                               f"Run 'python -m cnnlab data download {dataset}' or pass download=True."
                               + why)
        download_dataset(dataset, cache_dir=cache_dir, progress=progress, cancel=cancel)
    return folder


def load_mnist(source: Source = "sample", *, download: bool = False, cache_dir: Source | None = None,
               progress: ProgressCallback | None = None, cancel=None) -> tuple[Pair, Pair]:
    """MNIST digits as ``(x_train, y_train), (x_test, y_test)``.

    ``source``: ``"sample"`` (bundled: 4,000 train / 1,000 test real MNIST digits),
    ``"full"`` (60,000 / 10,000 from the download cache; fetched first when
    ``download=True``, with ``progress(bytes_done, total)`` and ``cancel`` as in
    :func:`cnnlab.data.download.download_file`), or a path to IDX files (raw or .gz),
    Keras' ``mnist.npz``, a ``.mat`` file, or a folder holding them.

    Images are uint8 ``(N, 1, 28, 28)``, 0 = background; labels int64 ``(N,)`` in 0..9.
    Raises DatasetError (naming the file) for anything missing, unreadable or inconsistent,
    and when "full" is not cached and ``download`` is False or the download fails.
    """
    if isinstance(source, str) and source == "sample":
        return _load_sample("mnist", channels=1)
    if isinstance(source, str) and source == "full":
        folder = _load_full("mnist", cache_dir, download, progress, cancel)
        return read_mnist_idx(find_mnist_idx(folder))
    return read_mnist_path(source)


def load_cifar10(source: Source = "sample", *, download: bool = False, cache_dir: Source | None = None,
                 progress: ProgressCallback | None = None, cancel=None) -> tuple[Pair, Pair]:
    """CIFAR-10 photos as ``(x_train, y_train), (x_test, y_test)``; names in ``CIFAR10_CLASSES``.

    ``source``: ``"sample"`` (bundled: the first 20 images of the CIFAR-10 test batch,
    10 as "train" and 10 as "test" - enough to look at and blur, not to train on),
    ``"full"`` (50,000 / 10,000 from the download cache, see :func:`load_mnist`), or a path
    to ``cifar-10-binary.tar.gz``, ``cifar-10-python.tar.gz``, their extracted batch files
    or a folder holding them.

    Images are uint8 ``(N, 3, 32, 32)`` RGB; labels int64 ``(N,)`` in 0..9.
    Raises DatasetError as :func:`load_mnist` does.
    """
    from cnnlab.data.cifar_formats import read_cifar_path

    if isinstance(source, str) and source == "sample":
        return _load_sample("cifar10", channels=3)
    if isinstance(source, str) and source == "full":
        folder = _load_full("cifar10", cache_dir, download, progress, cancel)
        return read_cifar_path(folder / "cifar-10-binary.tar.gz")
    return read_cifar_path(source)


def train_val_split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int = 0,
                    stratify: bool = True) -> tuple[Pair, Pair]:
    """Split ``(x, y)`` into ``(x_train, y_train), (x_val, y_val)``, deterministically by ``seed``.

    With ``stratify`` each class gives ``round(count * val_fraction)`` of its samples to
    validation, so both parts keep the class proportions; otherwise
    ``round(N * val_fraction)`` samples are drawn at random. Both parts keep the original
    order of the samples. ``x`` is any array with N first; ``y`` is (N,) integer labels.
    """
    y = np.asarray(y)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1), got {val_fraction}")
    if len(x) != len(y) or y.ndim != 1:
        raise ValueError(f"train_val_split: {len(x)} samples but labels have shape {y.shape}")
    rng = np.random.default_rng(seed)
    if stratify:
        picked = [rng.permutation(np.flatnonzero(y == c))[: int(round(np.sum(y == c) * val_fraction))]
                  for c in np.unique(y)]
        val_idx = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    else:
        val_idx = rng.permutation(len(y))[: int(round(len(y) * val_fraction))]
    is_val = np.zeros(len(y), dtype=bool)
    is_val[val_idx] = True
    return (x[~is_val], y[~is_val]), (x[is_val], y[is_val])
