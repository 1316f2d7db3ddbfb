"""MNIST wherever it is: the four IDX files, one ``.npz``, one ``.mat``, or the classic
assignment's four MATLAB files (``train_images.mat``, ``train_labels.mat``,
``test_images.mat``, ``test_labels.mat``, each holding the variable of its name: images
``(784, N)``, labels ``(N, 1)`` or ``(1, N)``).

Every MNIST source must give 28x28 digits, at most 70,000 of them, labels 0..9.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError
from cnnlab.data.formats import (
    MNIST_IDX_NAME,
    Pair,
    check_pair,
    find_mnist_idx,
    read_mnist_idx,
    read_split_npz,
    to_uint8_images,
)
from cnnlab.data.mat_file import read_mat
from cnnlab.data.streams import MNIST_MAX_IMAGES, MNIST_SIDE

# Variable names seen in MATLAB MNIST files, tried in order.
MAT_KEYS = [("train_images", "train_labels", "test_images", "test_labels"),
            ("trainX", "trainY", "testX", "testY"),
            ("train_x", "train_y", "test_x", "test_y"),
            ("x_train", "y_train", "x_test", "y_test")]
#: the classic assignment's folder: one file per variable
MAT_FOLDER_FILES = tuple(f"{key}.mat" for key in MAT_KEYS[0])
_MAX_VALUES = MNIST_MAX_IMAGES * MNIST_SIDE * MNIST_SIDE
_PIXELS = MNIST_SIDE * MNIST_SIDE


def _mat_images(x: np.ndarray, n: int, name: str) -> np.ndarray:
    """MATLAB image arrays come as (N, 784), (784, N), (N, 28, 28) or (28, 28, N)."""
    if x.ndim == 2:
        if x.shape[0] != n and x.shape[1] == n:
            x = x.T
        if x.shape[0] != n or x.shape[1] != _PIXELS:
            raise DatasetError(f"{name}: images have shape {x.shape}, expected {n} digits of "
                               f"{_PIXELS} pixels (784 x N or N x 784)")
        return x.reshape(n, MNIST_SIDE, MNIST_SIDE)
    if x.ndim == 3:
        if x.shape[0] != n and x.shape[2] == n:
            x = x.transpose(2, 0, 1)
        if x.shape != (n, MNIST_SIDE, MNIST_SIDE):
            raise DatasetError(f"{name}: images have shape {x.shape}, expected {n} digits "
                               f"of {MNIST_SIDE}x{MNIST_SIDE}")
        return x
    raise DatasetError(f"{name}: images have shape {x.shape}, expected 2 or 3 dimensions")


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    if y.ndim > 2 or (y.ndim == 2 and 1 not in y.shape):
        raise DatasetError(f"{name}: labels have shape {y.shape}, expected (N, 1) or (1, N)")
    return np.ravel(y)


def _pair(images: np.ndarray, labels: np.ndarray, name: str) -> Pair:
    labels = _labels(labels, name)
    x = to_uint8_images(_mat_images(images, len(labels), name), name)
    return check_pair(x[:, None], labels, name)


def read_mnist_mat(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read a MATLAB ``.mat`` file (level 5, up to -v7) holding ``train_images``/
    ``train_labels``-style variables, or the old mldata ``mnist-original.mat``
    (``data`` (784, 70000), ``label``: the first 60,000 are the training set)."""
    path = Path(path)
    wanted = {k for keys in MAT_KEYS for k in keys} | {"data", "label"}
    seen: list[str] = []
    mat = read_mat(path, wanted, max_values=_MAX_VALUES, seen=seen)
    if "data" in mat and "label" in mat:
        labels = _labels(mat["label"], str(path))
        if len(labels) != 70_000:
            raise DatasetError(f"{path}: 'data'/'label' layout expected 70,000 digits, found {len(labels)}")
        images = to_uint8_images(_mat_images(mat["data"], len(labels), str(path)), str(path))[:, None]
        return (check_pair(images[:60_000], labels[:60_000], f"{path} (train)"),
                check_pair(images[60_000:], labels[60_000:], f"{path} (test)"))
    for keys in MAT_KEYS:
        if all(k in mat for k in keys):
            return (_pair(mat[keys[0]], mat[keys[1]], f"{path} {keys[0]}/{keys[1]}"),
                    _pair(mat[keys[2]], mat[keys[3]], f"{path} {keys[2]}/{keys[3]}"))
    found = sorted(seen)[:20]
    raise DatasetError(f"{path}: no train/test image and label arrays found (variables: {found}; "
                       "expected e.g. train_images, train_labels, test_images, test_labels)")


def find_mat_folder(folder: Path) -> dict[str, Path] | None:
    """The classic assignment's four ``.mat`` files in ``folder`` keyed by variable name;
    None when none is there, DatasetError when only some are."""
    found = {p.stem: p for p in folder.glob("*.mat") if p.name in MAT_FOLDER_FILES}
    if not found:
        return None
    missing = sorted(set(MAT_KEYS[0]) - set(found))
    if missing:
        raise DatasetError(f"{folder}: found {sorted(p.name for p in found.values())} but not "
                           f"{[m + '.mat' for m in missing]}")
    return found


def read_mnist_mat_folder(files: dict[str, Path]) -> tuple[Pair, Pair]:
    """Read the four one-variable files found by :func:`find_mat_folder`."""
    arrays = {}
    for key, path in files.items():
        mat = read_mat(path, {key}, max_values=_MAX_VALUES)
        if key not in mat:
            raise DatasetError(f"{path}: holds no numeric variable named {key!r}")
        arrays[key] = mat[key]
    tr_i, tr_l, te_i, te_l = MAT_KEYS[0]
    return (_pair(arrays[tr_i], arrays[tr_l], f"{files[tr_i]} / {files[tr_l].name}"),
            _pair(arrays[te_i], arrays[te_l], f"{files[te_i]} / {files[te_l].name}"))


def read_mnist_path(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read MNIST from a file (``.npz``, ``.mat``, one of the IDX files or of the four
    assignment ``.mat`` files) or a folder holding them."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file():
        suffix = path.suffix.lower()
        if path.name in MAT_FOLDER_FILES or MNIST_IDX_NAME.match(path.name):
            path = path.parent  # one file stands for its set of four
        elif suffix == ".npz":
            return read_split_npz(path, channels=1)
        elif suffix == ".mat":
            return read_mnist_mat(path)
        else:
            raise DatasetError(f"{path}: not an MNIST file this lab reads "
                               "(IDX files like train-images-idx3-ubyte[.gz], mnist.npz, or .mat)")
    files = find_mnist_idx(path)
    if files is not None:
        return read_mnist_idx(files)
    mat_files = find_mat_folder(path)
    if mat_files is not None:
        return read_mnist_mat_folder(mat_files)
    for pattern, reader in (("*.npz", lambda p: read_split_npz(p, channels=1)), ("*.mat", read_mnist_mat)):
        matches = sorted(path.glob(pattern))
        if len(matches) == 1:
            return reader(matches[0])
    raise DatasetError(f"{path}: no MNIST files found (looked for the four IDX files, "
                       "the four train_/test_ .mat files, one mnist.npz or one .mat file)")
