"""Small files that declare gigabytes (issue 12, item 2): every reader checks names,
declared shapes and sizes before it allocates, and fails with a DatasetError naming the
file. tracemalloc measures that nothing big was allocated on the way."""

import gzip
import io
import os
import pickle
import struct
import tarfile
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from cnnlab.data import DatasetError, load_cifar10, load_mnist
from cnnlab.data.cifar_formats import safe_unpickle
from tests.forge import npy, npz_with

from .builders import (
    cifar_batch,
    cifar_binary_bytes,
    cifar_python_bytes,
    idx_bytes,
    write_mnist_idx,
    write_tar,
)

MB = 1 << 20


class peak_memory:
    """``with peak_memory() as m: ...`` then ``m.peak`` (bytes allocated at the peak)."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# ------------------------------------------------------------------ IDX / MNIST
def test_idx_header_declaring_billions_of_values_allocates_nothing(tmp_path):
    write_mnist_idx(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4_000_000_000, 28, 28) + b"\0" * 100)
    with peak_memory() as m, pytest.raises(DatasetError, match="declares 4000000000x28x28 values") as info:
        load_mnist(tmp_path)
    assert m.peak < MB and str(path) in str(info.value)


@pytest.mark.parametrize("shape, message", [
    ((3, 32, 32), "images are 32x32 pixels; MNIST digits are 28x28"),
    ((70_001, 28, 28), None),  # more values than any IDX file this lab reads
    ((3, 784), "expected a 3-D uint8 IDX array"),
])
def test_mnist_images_must_look_like_mnist(tmp_path, shape, message):
    write_mnist_idx(tmp_path)
    header = bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + b"\0" * 10)
    with pytest.raises(DatasetError, match=message or "this lab reads at most"):
        load_mnist(tmp_path)


def test_gzip_idx_is_streamed_and_a_gzip_bomb_stops_at_the_declared_size(tmp_path):
    write_mnist_idx(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 28, 28)
    path.write_bytes(gzip.compress(header + bytes(5 * 784 + 40 * MB), compresslevel=6))
    assert path.stat().st_size < MB
    start = time.monotonic()
    with peak_memory() as m, pytest.raises(DatasetError, match="unexpected bytes after the 5x28x28 values"):
        load_mnist(tmp_path)
    assert m.peak < 4 * MB and time.monotonic() - start < 2


def test_gzip_idx_loading_peaks_near_the_data_size(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8_000, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 8_000).astype(np.uint8)
    for part in ("train", "t10k"):
        (tmp_path / f"{part}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(x), 1))
        (tmp_path / f"{part}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y), 1))
    with peak_memory() as m:
        (xtr, _), (xte, _) = load_mnist(tmp_path)
    data = xtr.nbytes + xte.nbytes + 2 * 8 * len(y)
    assert m.peak < 1.5 * data
    np.testing.assert_array_equal(xtr[:, 0], x)


# ------------------------------------------------------------------ npz datasets
def _good_entries():
    return {"x_train.npy": npy(np.zeros((2, 28, 28), np.uint8)), "y_train.npy": npy([1, 2]),
            "x_test.npy": npy(np.zeros((1, 28, 28), np.uint8)), "y_test.npy": npy([3])}


def test_npz_with_a_deflated_bomb_entry_is_refused_by_name(tmp_path):
    entries = {**_good_entries(), "extra.npy": npy(np.zeros(50 * MB, np.uint8))}
    path = npz_with(tmp_path / "bomb.npz", entries)
    with peak_memory() as m, pytest.raises(DatasetError, match="bomb.npz: unexpected entry 'extra'"):
        load_mnist(path)
    assert m.peak < MB


def test_npz_header_declaring_a_huge_shape_and_duplicates(tmp_path):
    header = repr({"descr": "|u1", "fortran_order": False, "shape": (10**12,)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    forged = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    path = npz_with(tmp_path / "huge.npz", {**_good_entries(), "x_test.npy": forged})
    expected = r"huge.npz: entry 'x_test' declares shape \(1000000000000,\)"
    with peak_memory() as m, pytest.raises(DatasetError, match=expected):
        load_mnist(path)
    assert m.peak < MB
    with zipfile.ZipFile(path := tmp_path / "dup.npz", "w") as zf:
        for name, data in _good_entries().items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning):
            zf.writestr("y_test.npy", npy([4]))
    with pytest.raises(DatasetError, match="'y_test.npy' appears more than once"):
        load_mnist(path)


def test_npz_object_arrays_and_bool_labels_speak_plainly(tmp_path):
    np.savez(tmp_path / "o.npz", x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.array([{}], object),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=[1])
    with pytest.raises(DatasetError, match="entry 'y_train' holds object values, not plain numbers") as info:
        load_mnist(tmp_path / "o.npz")
    assert "allow_pickle" not in str(info.value)
    np.savez(tmp_path / "b.npz", x_train=np.zeros((2, 28, 28), np.uint8), y_train=[True, False],
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=[1])
    with pytest.raises(DatasetError, match="labels are bool, expected whole numbers"):
        load_mnist(tmp_path / "b.npz")


# ------------------------------------------------------------------ CIFAR
def test_oversized_binary_batch_is_refused_before_reading(tmp_path):
    x, y = cifar_batch(2, 0)
    (tmp_path / "test_batch.bin").write_bytes(cifar_binary_bytes(x, y))
    big = tmp_path / "data_batch_1.bin"
    with open(big, "wb") as f:
        f.truncate(10_001 * 3073)  # sparse: costs no disk
    expected = "10,001 records; a CIFAR-10 batch holds at most"
    with peak_memory() as m, pytest.raises(DatasetError, match=expected):
        load_cifar10(tmp_path)
    assert m.peak < MB


def _reconstruct_pickle(shape, data: bytes, ndarray_call=False) -> bytes:
    """A protocol-2 pickle of an ndarray built by hand (forged shape vs data)."""
    body = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
    body += b"(K\x01" + pickle.dumps(shape, 2)[2:-1] + b"cnumpy\ndtype\nU\x02u1\x89\x88\x87R"
    body += b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
    body += b"T" + struct.pack("<i", len(data)) + data + b"tb."
    return body


def test_an_81_byte_pickle_cannot_declare_a_huge_array():
    raw = _reconstruct_pickle((1_000_000, 3072), b"")
    assert len(raw) < 200
    with peak_memory() as m, pytest.raises(DatasetError, match="3,072,000,000 values"):
        safe_unpickle(raw, "tiny")
    assert m.peak < MB


def test_a_pickle_whose_bytes_do_not_match_its_shape_never_yields_memory():
    with pytest.raises(DatasetError, match=r"needs 6,144 bytes but holds 10"):
        safe_unpickle(_reconstruct_pickle((2, 3072), b"0123456789"), "short")
    ok = safe_unpickle(_reconstruct_pickle((1, 4), b"abcd"), "ok")
    assert ok.tobytes() == b"abcd"
    with pytest.raises(DatasetError, match="a call to numpy.ndarray"):  # ndarray(shape): raw heap
        safe_unpickle(b"\x80\x02cnumpy\nndarray\n(K\x02M\x00\x0c\x86tR.", "heap")


def test_nested_tuple_keys_and_shared_containers_are_refused_fast():
    # ((t, t), (t, t))... 60 levels deep through memo references: a DAG whose hash (or
    # repr) takes forever; written by hand, since building it in Python would hang too
    raw = b"\x80\x02}q\x00)q\x01"
    for i in range(1, 61):
        raw += b"h" + bytes([i]) + b"h" + bytes([i]) + b"\x86q" + bytes([i + 1])
    raw += b"K\x01s."
    start = time.monotonic()
    with pytest.raises(DatasetError, match="container used twice"):
        safe_unpickle(raw, "keys")
    shared = [1, 2]
    with pytest.raises(DatasetError, match="container used twice"):
        safe_unpickle(pickle.dumps({"a": [shared] * 50}, 2), "shared")
    deep = [1]
    for _ in range(50):
        deep = [deep]
    with pytest.raises(DatasetError, match="nested more than"):
        safe_unpickle(pickle.dumps({"a": deep}, 2), "deep")
    assert time.monotonic() - start < 1


def test_tar_with_two_copies_of_a_batch_is_refused(tmp_path):
    x, y = cifar_batch(2, 0)
    raw = cifar_python_bytes(x, y)
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("a/data_batch_1", "b/data_batch_1", "a/test_batch"):
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(DatasetError, match="holds data_batch_1 twice"):
        load_cifar10(path)


def test_cifar_tar_loading_peaks_near_the_data_size(tmp_path):
    members = {}
    for key, n, seed in (("data_batch_1", 1500, 1), ("data_batch_2", 1500, 2), ("test_batch", 500, 3)):
        x, y = cifar_batch(n, seed)
        records = np.concatenate([y[:, None].astype(np.uint8), x.reshape(n, -1)], axis=1)
        members[f"cifar-10-batches-bin/{key}.bin"] = records.tobytes()
    path = write_tar(tmp_path / "cifar-10-binary.tar.gz", members)
    del members
    with peak_memory() as m:
        (xtr, ytr), (xte, _) = load_cifar10(path)
    assert xtr.shape == (3000, 3, 32, 32) and m.peak < 1.5 * (xtr.nbytes + xte.nbytes) + 2 * MB
    np.testing.assert_array_equal(xtr[1500:], cifar_batch(1500, 2)[0])


def test_cifar_python_folder_loading_peaks_near_the_data_size(tmp_path):
    for key, n, seed in (("data_batch_1", 3000, 1), ("data_batch_2", 2000, 2), ("test_batch", 1000, 3)):
        (tmp_path / key).write_bytes(cifar_python_bytes(*cifar_batch(n, seed)))
    with peak_memory() as m:
        (xtr, ytr), (xte, yte) = load_cifar10(tmp_path)
    assert xtr.shape == (5000, 3, 32, 32) and xte.shape == (1000, 3, 32, 32)
    np.testing.assert_array_equal(xtr[3000:], cifar_batch(2000, 2)[0])
    np.testing.assert_array_equal(ytr[:3000], cifar_batch(3000, 1)[1])
    assert m.peak < 1.5 * (xtr.nbytes + xte.nbytes) + 12 * MB  # + one batch file read whole


def test_sparse_files_are_not_read_whole(tmp_path):
    """A folder 'data_batch_1' of 2 GB (sparse) is refused by its size alone."""
    (tmp_path / "test_batch").write_bytes(cifar_python_bytes(*cifar_batch(1, 0)))
    with open(tmp_path / "data_batch_1", "wb") as f:
        f.truncate(2 * 1024 * MB)
    with peak_memory() as m, pytest.raises(DatasetError, match="bytes; a CIFAR-10 python batch has at most"):
        load_cifar10(tmp_path)
    assert m.peak < MB
    os.remove(tmp_path / "data_batch_1")
