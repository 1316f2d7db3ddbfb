"""MATLAB .mat MNIST files: cnnlab's own level-5 reader, checked against files scipy writes."""

import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from cnnlab.data import DatasetError, load_mnist

from .builders import digits
from .test_formats_mnist import _check_loaded

scipy_io = pytest.importorskip("scipy.io")


@pytest.mark.parametrize("layout", ["flat", "flat_T", "cube", "cube_last"])
def test_mat_layouts(tmp_path, layout):
    (xtr, ytr), (xte, yte) = digits(6, 5), digits(3, 6)

    def arrange(x):
        return {"flat": x.reshape(len(x), -1), "flat_T": x.reshape(len(x), -1).T,
                "cube": x, "cube_last": x.transpose(1, 2, 0)}[layout]

    scipy_io.savemat(tmp_path / "m.mat", {"train_images": arrange(xtr),
                                          "train_labels": ytr[:, None].astype(float),
                                          "test_images": arrange(xte), "test_labels": yte[None, :]})
    _check_loaded(load_mnist(tmp_path / "m.mat"), dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte))


def test_mat_other_key_names_and_mldata_layout(tmp_path):
    (xtr, ytr), (xte, yte) = digits(4, 7), digits(2, 8)
    scipy_io.savemat(tmp_path / "k.mat", {"trainX": xtr, "trainY": ytr, "testX": xte, "testY": yte})
    _check_loaded(load_mnist(tmp_path / "k.mat"), dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte))
    x, y = np.zeros((70_000, 28, 28), np.uint8), np.arange(70_000) % 10  # fixed at 70,000 digits
    x[:, 3, 5] = np.arange(70_000) % 251
    scipy_io.savemat(tmp_path / "o.mat", {"data": x.reshape(70_000, -1).T, "label": y[None, :].astype(float)})
    (a, b), (c, d) = load_mnist(tmp_path / "o.mat")
    assert len(a) == 60_000 and len(c) == 10_000
    np.testing.assert_array_equal(c[:, 0], x[60_000:])
    np.testing.assert_array_equal(b, y[:60_000])


def test_mat_without_known_keys(tmp_path):
    scipy_io.savemat(tmp_path / "z.mat", {"images": np.zeros((2, 4, 4))})
    with pytest.raises(DatasetError, match=r"z.mat: no train/test .*variables: \['images'\]"):
        load_mnist(tmp_path / "z.mat")
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 20)
    with pytest.raises(DatasetError, match="bad.mat"):
        load_mnist(tmp_path / "bad.mat")


def _assignment_folder(folder, xtr, ytr, xte, yte, compress=False, scale=1.0):
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (("train_images", xtr.reshape(len(xtr), -1).T * scale),
                        ("train_labels", ytr[:, None]), ("test_images", xte.reshape(len(xte), -1).T * scale),
                        ("test_labels", yte[None, :].astype(float))):
        scipy_io.savemat(folder / f"{name}.mat", {name: value}, do_compression=compress)
    return folder


@pytest.mark.parametrize("compress", [False, True])
def test_the_assignment_folder_of_four_mat_files(tmp_path, compress):
    (xtr, ytr), (xte, yte) = digits(7, 3), digits(4, 4)
    folder = _assignment_folder(tmp_path / "hw", xtr, ytr, xte, yte, compress, scale=1 / 255)
    ref = dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    _check_loaded(load_mnist(folder), ref)
    _check_loaded(load_mnist(folder / "test_labels.mat"), ref)  # any one of the four stands for all


def test_the_assignment_folder_names_a_missing_file(tmp_path):
    (xtr, ytr), (xte, yte) = digits(3, 3), digits(2, 4)
    folder = _assignment_folder(tmp_path / "hw", xtr, ytr, xte, yte)
    (folder / "test_images.mat").unlink()
    with pytest.raises(DatasetError, match=r"but not \['test_images.mat'\]"):
        load_mnist(folder)


def test_compressed_single_file_and_wrong_sizes(tmp_path):
    (xtr, ytr), (xte, yte) = digits(5, 1), digits(2, 2)
    scipy_io.savemat(tmp_path / "c.mat", {"trainX": xtr, "trainY": ytr, "testX": xte, "testY": yte},
                     do_compression=True)
    _check_loaded(load_mnist(tmp_path / "c.mat"), dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte))
    scipy_io.savemat(tmp_path / "s.mat", {"trainX": np.zeros((3, 32, 32)), "trainY": [1, 2, 3],
                                          "testX": xte, "testY": yte})
    with pytest.raises(DatasetError, match=r"images have shape \(3, 32, 32\), expected 3 digits of 28x28"):
        load_mnist(tmp_path / "s.mat")


def _mat_header(order=b"IM") -> bytes:
    return b"MATLAB 5.0 MAT-file, forged".ljust(116) + b"\0" * 8 + b"\x00\x01" + order


def _matrix_element(name: bytes, dims, data_type: int, nbytes: int, payload: bytes = b"") -> bytes:
    sub = struct.pack("<II", 6, 8) + struct.pack("<II", 6, 0)  # flags: class double
    sub += struct.pack("<II", 5, 4 * len(dims)) + struct.pack(f"<{len(dims)}i", *dims)
    sub += b"\0" * ((-4 * len(dims)) % 8)
    sub += struct.pack("<II", 1, len(name)) + name + b"\0" * ((-len(name)) % 8)
    sub += struct.pack("<II", data_type, nbytes) + payload
    return struct.pack("<II", 14, len(sub)) + sub


def test_forged_mat_dimensions_allocate_nothing(tmp_path):
    path = tmp_path / "f.mat"
    path.write_bytes(_mat_header() + _matrix_element(b"trainX", (784, 2_000_000_000), 9, 0))
    tracemalloc.start()
    with pytest.raises(DatasetError, match="f.mat: variable 'trainX' declares 784x2000000000 values"):
        load_mnist(path)
    assert tracemalloc.get_traced_memory()[1] < 1 << 20
    tracemalloc.stop()
    path.write_bytes(_mat_header() + _matrix_element(b"trainX", (784, 10), 9, 16, b"\0" * 16))
    with pytest.raises(DatasetError, match="declares 784x10 values but holds 16 bytes"):
        load_mnist(path)


def test_a_compressed_bomb_is_inflated_only_as_far_as_declared(tmp_path):
    element = _matrix_element(b"trainX", (784, 3), 9, 784 * 3 * 8, b"\0" * (784 * 3 * 8 + (60 << 20)))
    packed = zlib.compress(element, 6)
    path = tmp_path / "bomb.mat"
    path.write_bytes(_mat_header() + struct.pack("<II", 15, len(packed)) + packed)
    tracemalloc.start()
    with pytest.raises(DatasetError, match="no train/test image and label arrays"):
        load_mnist(path)
    assert tracemalloc.get_traced_memory()[1] < 4 << 20
    tracemalloc.stop()


def test_truncated_and_hdf5_mat_files(tmp_path):
    (xtr, ytr), (xte, yte) = digits(5, 1), digits(2, 2)
    scipy_io.savemat(tmp_path / "t.mat", {"trainX": xtr, "trainY": ytr, "testX": xte, "testY": yte})
    raw = (tmp_path / "t.mat").read_bytes()
    (tmp_path / "t.mat").write_bytes(raw[: len(raw) - 500])
    with pytest.raises(DatasetError, match="t.mat: truncated"):
        load_mnist(tmp_path / "t.mat")
    (tmp_path / "h.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(128, b"\0"))
    with pytest.raises(DatasetError, match=r"h.mat: MATLAB v7.3 \(HDF5\) files are not supported"):
        load_mnist(tmp_path / "h.mat")
