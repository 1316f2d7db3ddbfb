"""MATLAB .mat MNIST files: cnnlab's own level-5 reader, checked against files scipy writes."""

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

    scipy_io.savemat(tmp_path / "m.mat", {"train_images": arrange(xtr), "train_labels": ytr[:, None].astype(float),
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
