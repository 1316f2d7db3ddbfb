"""MNIST files: IDX (raw and gzip), Keras npz, MATLAB .mat, and what goes wrong with them."""

import gzip
import sys

import numpy as np
import pytest

from cnnlab.data import DatasetError, load_mnist
from cnnlab.data.formats import parse_idx, read_idx

from .builders import digits, idx_bytes, write_mnist_idx


def _check_loaded(result, ref):
    (xtr, ytr), (xte, yte) = result
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64 and xtr.shape == (len(ref["x_train"]), 1, 28, 28)
    np.testing.assert_array_equal(xtr[:, 0], ref["x_train"])
    np.testing.assert_array_equal(ytr, ref["y_train"])
    np.testing.assert_array_equal(xte[:, 0], ref["x_test"])
    np.testing.assert_array_equal(yte, ref["y_test"])


@pytest.mark.parametrize("gz, sep", [(False, "-"), (True, "-"), (False, ".")])
def test_idx_folder(tmp_path, gz, sep):
    ref = write_mnist_idx(tmp_path / "mnist", gz=gz, sep=sep)
    _check_loaded(load_mnist(tmp_path / "mnist"), ref)
    _check_loaded(load_mnist(str(tmp_path)), ref)  # one level above also works
    one_file = next((tmp_path / "mnist").glob("t10k-labels*"))
    _check_loaded(load_mnist(one_file), ref)  # one IDX file stands for its folder


def test_idx_other_types_and_endianness(tmp_path):
    arr = np.arange(-3, 9, dtype=">i4").reshape(3, 4)
    out = parse_idx(idx_bytes(arr), "x")
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    (tmp_path / "f.gz").write_bytes(gzip.compress(idx_bytes(np.float32([1.5, -2]).astype(">f4"))))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.gz"), [1.5, -2])


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:-7], r"truncated: header promises 12x28x28 values"),
    (lambda b: b + b"\0\0", r"2 unexpected bytes"),
    (lambda b: b"\x08\x03" + b[2:], r"wrong magic number 0x0803"),
    (lambda b: b[:2] + b"\x07" + b[3:], r"wrong magic number"),
    (lambda b: b[:10], r"truncated IDX header"),
    (lambda b: b[:3], r"too short"),
])
def test_idx_errors_name_the_file(tmp_path, mutate, message):
    write_mnist_idx(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DatasetError, match=message) as info:
        load_mnist(tmp_path)
    assert str(path) in str(info.value)


def test_truncated_gzip(tmp_path):
    write_mnist_idx(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match="gzip data is truncated or corrupt") as info:
        load_mnist(tmp_path)
    assert str(path) in str(info.value)


def test_count_mismatch_and_bad_labels(tmp_path):
    write_mnist_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DatasetError, match="5 images but 4 labels"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(5, 12, np.uint8)))
    with pytest.raises(DatasetError, match=r"labels range 12\.\.12, expected 0\.\.9"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros((5, 1), np.uint8)))
    with pytest.raises(DatasetError, match="expected a 1-D label array"):
        load_mnist(tmp_path)


def test_missing_files_are_named(tmp_path):
    write_mnist_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"not \['t10k-labels'\]"):
        load_mnist(tmp_path)
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_mnist(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no MNIST files found"):
        load_mnist(empty)
    (empty / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="not an MNIST file"):
        load_mnist(empty / "notes.txt")


def test_keras_npz(tmp_path):
    (xtr, ytr), (xte, yte) = digits(6, 3), digits(4, 4)
    np.savez(tmp_path / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    _check_loaded(load_mnist(tmp_path / "mnist.npz"), dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte))
    _check_loaded(load_mnist(tmp_path), dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte))


def test_npz_with_pickled_objects_is_refused(tmp_path):
    xtr, ytr = digits(3, 3)
    np.savez(tmp_path / "evil.npz", x_train=np.array([object()], dtype=object), y_train=ytr,
             x_test=xtr, y_test=ytr)
    with pytest.raises(DatasetError, match="evil.npz"):
        load_mnist(tmp_path / "evil.npz")


def test_npz_missing_arrays_and_garbage(tmp_path):
    np.savez(tmp_path / "a.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match=r"missing arrays \['x_test', 'y_test', 'y_train'\]"):
        load_mnist(tmp_path / "a.npz")
    (tmp_path / "b.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="b.npz: not a readable .npz"):
        load_mnist(tmp_path / "b.npz")


def test_npz_float_images_in_unit_range_are_scaled(tmp_path):
    x = np.array([[[0.0, 1.0], [0.5, 0.2]]])
    np.savez(tmp_path / "f.npz", x_train=x, y_train=[1], x_test=x, y_test=[2])
    (xtr, ytr), _ = load_mnist(tmp_path / "f.npz")
    np.testing.assert_array_equal(xtr[0, 0], [[0, 255], [128, 51]])
    np.savez(tmp_path / "g.npz", x_train=x * 300, y_train=[1], x_test=x, y_test=[2])
    with pytest.raises(DatasetError, match=r"pixel values range 0\.\.300"):
        load_mnist(tmp_path / "g.npz")


def test_not_a_mat_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "m.mat").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # the reader needs no scipy
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(DatasetError, match="m.mat: not a MATLAB 5 .mat file"):
        load_mnist(tmp_path / "m.mat")
