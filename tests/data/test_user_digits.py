"""The user's corrected drawings, stored atomically."""

import os

import numpy as np
import pytest

from cnnlab.data import DatasetError, load_mnist
from cnnlab.data.user_digits import UserDigits, default_user_digits_path


def test_add_len_arrays_and_reopen(tmp_path):
    path = tmp_path / "sub" / "mine.npz"
    digits = UserDigits(path)
    assert len(digits) == 0 and not path.exists()
    img = np.zeros((28, 28), np.float32)
    img[5:20, 12:15] = 1.0
    img[4, 12] = 0.5
    digits.add(img, 1)
    digits.add(np.full((1, 28, 28), 7, np.uint8), np.int64(7))
    assert len(digits) == 2
    x, y = digits.arrays()
    assert x.shape == (2, 1, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert list(y) == [1, 7] and x[0, 0, 10, 13] == 255 and x[0, 0, 4, 12] == 128 and x[1].max() == 7
    x[:] = 0  # a copy
    reopened = UserDigits(path)
    assert len(reopened) == 2 and np.array_equal(reopened.arrays()[1], [1, 7])
    assert reopened.arrays()[0][0, 0, 10, 13] == 255


def test_export_is_loadable_with_load_mnist(tmp_path):
    digits = UserDigits(tmp_path / "u.npz")
    digits.add(np.eye(28, dtype=np.float32), 3)
    out = digits.export(tmp_path / "export.npz")
    (xtr, ytr), (xte, yte) = load_mnist(out)
    assert xtr.shape == (1, 1, 28, 28) and list(ytr) == [3] and len(xte) == 0 and len(yte) == 0
    assert np.array_equal(xtr[0, 0], np.eye(28, dtype=np.uint8) * 255)


def test_bad_input_is_refused_and_nothing_is_saved(tmp_path):
    digits = UserDigits(tmp_path / "u.npz")
    for image, label, msg in [(np.zeros((28, 27)), 1, "28x28"), (np.zeros((28, 28)), 10, "0..9"),
                              (np.zeros((28, 28)), True, "0..9"), (np.full((28, 28), 2.0), 1, r"\[0, 1\]"),
                              (np.zeros((28, 28)), 1.5, "0..9")]:
        with pytest.raises(ValueError, match=msg):
            digits.add(image, label)
    assert len(digits) == 0 and not (tmp_path / "u.npz").exists()


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "u.npz"
    digits = UserDigits(path)
    digits.add(np.zeros((28, 28), np.uint8), 0)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        digits.add(np.ones((28, 28), np.uint8), 1)
    assert path.read_bytes() == before and len(digits) == 1  # old file intact, memory unchanged
    assert [p.name for p in tmp_path.iterdir()] == ["u.npz"]  # no temp file left behind


def test_clear(tmp_path):
    digits = UserDigits(tmp_path / "u.npz")
    digits.add(np.zeros((28, 28), np.uint8), 4)
    digits.clear()
    assert len(digits) == 0 and len(UserDigits(tmp_path / "u.npz")) == 0


def test_damaged_file_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "u.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="u.npz"):
        UserDigits(path)
    assert path.read_bytes() == b"garbage"


def test_default_location_follows_cnnlab_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    assert default_user_digits_path() == tmp_path / "user_digits.npz"
    assert UserDigits().path == tmp_path / "user_digits.npz"
