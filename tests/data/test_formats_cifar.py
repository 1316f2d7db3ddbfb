"""CIFAR-10 files: binary and Python versions, tarballs and folders, and the safe unpickler."""

import os
import pickle

import numpy as np
import pytest

from cnnlab.data import DatasetError, load_cifar10
from cnnlab.data.cifar_formats import parse_binary_batch, safe_unpickle
from cnnlab.data.cifar_pickle import PickleRefused, read_cifar_pickle

from .builders import cifar_batch, cifar_binary_bytes, cifar_python_bytes, py2_pickle, write_tar


@pytest.fixture
def batches():
    """Two small training batches and a test batch."""
    return [cifar_batch(3, 1), cifar_batch(2, 2)], cifar_batch(4, 3)


def _check(result, batches):
    train, test = batches
    (xtr, ytr), (xte, yte) = result
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64 and xtr.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(xtr, np.concatenate([x for x, _ in train]))
    np.testing.assert_array_equal(ytr, np.concatenate([y for _, y in train]))
    np.testing.assert_array_equal(xte, test[0])
    np.testing.assert_array_equal(yte, test[1])


def _binary_members(batches, prefix="cifar-10-batches-bin/"):
    train, test = batches
    members = {f"{prefix}data_batch_{i + 1}.bin": cifar_binary_bytes(*b) for i, b in enumerate(train)}
    members[f"{prefix}test_batch.bin"] = cifar_binary_bytes(*test)
    members[f"{prefix}batches.meta.txt"] = b"airplane\nautomobile\n"
    return members


def _python_members(batches, prefix="cifar-10-batches-py/"):
    train, test = batches
    members = {f"{prefix}data_batch_{i + 1}": cifar_python_bytes(*b) for i, b in enumerate(train)}
    members[f"{prefix}test_batch"] = cifar_python_bytes(*test, label="testing batch 1 of 1")
    members[f"{prefix}batches.meta"] = py2_pickle({"label_names": ["airplane"], "num_vis": 3072})
    return members


def test_binary_record_layout_matches_the_spec():
    x, y = cifar_batch(2, 0)
    raw = cifar_binary_bytes(x, y)
    assert len(raw) == 2 * 3073 and raw[0] == y[0] and raw[1:1025] == x[0, 0].tobytes()
    xs, ys = parse_binary_batch(raw, "b")
    np.testing.assert_array_equal(xs, x)


def test_binary_tarball(tmp_path, batches):
    tar = write_tar(tmp_path / "cifar-10-binary.tar.gz", _binary_members(batches))
    _check(load_cifar10(tar), batches)
    _check(load_cifar10(tmp_path), batches)  # folder holding the tarball


def test_binary_extracted_folder_and_single_file(tmp_path, batches):
    for name, data in _binary_members(batches).items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    _check(load_cifar10(tmp_path / "cifar-10-batches-bin"), batches)
    _check(load_cifar10(tmp_path), batches)
    _check(load_cifar10(tmp_path / "cifar-10-batches-bin" / "test_batch.bin"), batches)


def test_python_tarball_and_folder(tmp_path, batches):
    members = _python_members(batches)
    _check(load_cifar10(write_tar(tmp_path / "cifar-10-python.tar.gz", members)), batches)
    folder = tmp_path / "x"
    folder.mkdir()
    for name, data in members.items():
        (folder / os.path.basename(name)).write_bytes(data)
    _check(load_cifar10(folder), batches)


def test_real_py2_pickle_shape_is_understood():
    """The fixture writes pickles the way the real files are: str as bytes, numpy.core names."""
    x, y = cifar_batch(2, 0)
    raw = cifar_python_bytes(x, y)
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    batch = safe_unpickle(raw, "t")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"filenames"][0] == b"img_0.png"


@pytest.mark.parametrize("payload", [
    b"cos\nsystem\n(S'echo pwned'\ntR.",                       # protocol 0: os.system("...")
    pickle.dumps(eval, protocol=2),                             # builtins.eval itself
    b"\x80\x02cposix\nsystem\nq\x00U\x04trueq\x01\x85q\x02Rq\x03.",
])
def test_crafted_pickle_is_refused(tmp_path, payload, monkeypatch):
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(DatasetError, match=r"unsafe or corrupt pickle: refused to load"):
        safe_unpickle(payload, "evil")
    (tmp_path / "data_batch_1").write_bytes(payload)
    (tmp_path / "test_batch").write_bytes(payload)
    with pytest.raises(DatasetError, match="data_batch_1: unsafe"):
        load_cifar10(tmp_path)
    assert called == []


def test_unpickler_refuses_everything_but_numpy_reconstruction():
    with pytest.raises(PickleRefused, match="refused to load builtins.getattr"):
        read_cifar_pickle(b"\x80\x02cbuiltins\ngetattr\n.")
    with pytest.raises(PickleRefused, match="a call to numpy.ndarray with unexpected arguments"):
        read_cifar_pickle(b"\x80\x02cnumpy\nndarray\nK\x05\x85R.")  # ndarray(5): raw memory


@pytest.mark.parametrize("obj, message", [
    ([1, 2], "expected a pickled dict"),
    ({"labels": [1]}, "lacks 'data' and 'labels'"),
    ({"data": np.zeros((1, 3072), np.float32), "labels": [1]}, r"'data' is float32 \(1, 3072\)"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [1]}, "2 images but labels have shape"),
    ({"data": np.zeros((2, 3, 32, 32), np.uint8), "labels": [1, 2]}, r"'data' is uint8 \(2, 3, 32, 32\)"),
    ({"data": np.zeros((1, 3072), np.uint8), "labels": ["x"]}, "whole numbers"),
    ({"data": np.zeros((1, 3072), np.uint8), "labels": [True]}, "whole numbers"),
    ({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}, r"labels range 10\.\.10"),
])
def test_python_batch_content_errors(tmp_path, obj, message):
    (tmp_path / "data_batch_1").write_bytes(py2_pickle(obj))
    (tmp_path / "test_batch").write_bytes(cifar_python_bytes(*cifar_batch(1, 0)))
    with pytest.raises(DatasetError, match=message):
        load_cifar10(tmp_path)


def test_binary_errors(tmp_path, batches):
    members = _binary_members(batches, prefix="")
    for name, data in members.items():
        (tmp_path / name).write_bytes(data)
    path = tmp_path / "data_batch_2.bin"
    path.write_bytes(members["data_batch_2.bin"][:-100])
    with pytest.raises(DatasetError, match=r"data_batch_2.bin: 6046 bytes is not a whole number of 3,073"):
        load_cifar10(tmp_path)
    bad = bytearray(members["data_batch_2.bin"])
    bad[3073] = 57
    path.write_bytes(bytes(bad))
    with pytest.raises(DatasetError, match="record 1 has label byte 57"):
        load_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").unlink()
    with pytest.raises(DatasetError, match="needs data_batch_\\* and test_batch"):
        load_cifar10(tmp_path)


def test_truncated_tarball(tmp_path, batches):
    tar = write_tar(tmp_path / "cifar-10-binary.tar.gz", _binary_members(batches))
    tar.write_bytes(tar.read_bytes()[:-300])
    with pytest.raises(DatasetError, match="cifar-10-binary.tar.gz: truncated or corrupt"):
        load_cifar10(tar)


def test_unrelated_files(tmp_path):
    write_tar(tmp_path / "other.tar.gz", {"readme.txt": b"hello"})
    with pytest.raises(DatasetError, match="no CIFAR-10 batch files inside"):
        load_cifar10(tmp_path / "other.tar.gz")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DatasetError, match="not a CIFAR-10 file"):
        load_cifar10(tmp_path / "x.txt")
    with pytest.raises(DatasetError, match="no CIFAR-10 files found"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_batches_re_pickled_by_python3_numpy2_are_read(tmp_path, protocol):
    x, y = cifar_batch(3, 4)
    batch = {b"data": x.reshape(3, 3072), b"labels": [int(v) for v in y]}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=protocol))
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    (xtr, ytr), (xte, _) = load_cifar10(tmp_path)
    np.testing.assert_array_equal(xtr, x)
    np.testing.assert_array_equal(ytr, y)
    assert xte.flags.writeable and xtr.flags.writeable
