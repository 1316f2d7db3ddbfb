"""The bundled samples and the one entry point (load_mnist / load_cifar10 "sample")."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

import cnnlab.data as data
from cnnlab.data import CIFAR10_CLASSES, MNIST_CLASSES, DatasetError, load_cifar10, load_mnist

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def test_mnist_sample_shapes_dtypes_and_split():
    (x_train, y_train), (x_test, y_test) = load_mnist("sample")
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    # stratified fixed split: 400 / 100 of every digit, ordered by digit
    assert np.array_equal(np.bincount(y_train), [400] * 10)
    assert np.array_equal(np.bincount(y_test), [100] * 10)
    assert np.all(np.diff(y_train) >= 0) and np.all(np.diff(y_test) >= 0)
    # real digits: background 0, strong ink, no image repeated between train and test
    assert np.mean(x_train == 0) > 0.7 and x_train.max() == 255
    assert x_train[:, :, 0, :].max() == 0  # the top row is background in every digit
    flat_train = {im.tobytes() for im in x_train}
    assert not any(im.tobytes() in flat_train for im in x_test)


def test_cifar_sample_is_real_cifar_test_images():
    (x_train, y_train), (x_test, y_test) = load_cifar10("sample")
    assert x_train.shape == (10, 3, 32, 32) and x_test.shape == (10, 3, 32, 32)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    # The first 20 labels of the official CIFAR-10 test batch.
    assert list(np.concatenate([y_train, y_test])) == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1,
                                                       0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    assert x_train.std() > 30  # photos, not blank frames


def test_class_names():
    assert list(CIFAR10_CLASSES) == ["airplane", "automobile", "bird", "cat", "deer",
                                     "dog", "frog", "horse", "ship", "truck"]
    assert list(MNIST_CLASSES) == [str(d) for d in range(10)]
    with np.load(RESOURCES / "cifar10_sample.npz") as z:
        assert list(z["class_names"]) == list(CIFAR10_CLASSES)


def test_each_call_returns_fresh_writable_arrays():
    (a, _), _ = load_mnist("sample")
    a[:] = 7
    (b, _), _ = load_mnist("sample")
    assert not np.shares_memory(a, b)
    assert b[0, 0, 0, 0] == 0


def test_provenance_lists_the_real_checksums():
    text = (RESOURCES / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in ("mnist_sample.npz", "cifar10_sample.npz"):
        digest = hashlib.sha256((RESOURCES / name).read_bytes()).hexdigest()
        assert re.search(rf"{name}.*{digest}", text), f"PROVENANCE.md has a stale SHA-256 for {name}"


def test_missing_sample_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_RESOURCES", str(tmp_path))
    with pytest.raises(DatasetError, match=r"mnist_sample\.npz.*build_samples"):
        load_mnist("sample")


def test_public_names_exist():
    for name in ("load_mnist", "load_cifar10", "DatasetError", "CIFAR10_CLASSES", "MNIST_CLASSES",
                 "train_val_split", "to_float", "mnist_from_drawing"):
        assert hasattr(data, name)
    assert issubclass(DatasetError, ValueError)
