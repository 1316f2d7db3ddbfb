"""Property tests: whatever bytes a dataset file holds - random, or a real file with bytes
flipped, cut or inserted - every reader either returns arrays or raises DatasetError, and
never allocates more than a small budget on the way (measured with tracemalloc)."""

import gzip
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.data import DatasetError, load_cifar10, load_mnist
from cnnlab.data.cifar_formats import parse_binary_batch, parse_python_batch, safe_unpickle
from cnnlab.data.formats import parse_idx
from tests.forge import within_budget

from .builders import cifar_batch, cifar_binary_bytes, cifar_python_bytes, digits, idx_bytes, write_tar

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def mutated(valid: bytes):
    """A strategy: ``valid`` with up to 6 bytes replaced, optionally cut or extended."""
    edits = st.lists(st.tuples(st.integers(0, max(0, len(valid) - 1)), st.integers(0, 255)),
                     max_size=6)
    cut = st.one_of(st.none(), st.integers(0, len(valid)))
    tail = st.binary(max_size=16)

    def apply(args):
        changes, end, extra = args
        out = bytearray(valid)
        for pos, value in changes:
            if out:
                out[pos] = value
        return bytes(out[:end] if end is not None else out) + extra

    return st.tuples(edits, cut, tail).map(apply)


def only_dataset_errors(call, names: str):
    """Run ``call``: it may succeed or raise a DatasetError whose message names the file
    (``names``), within the memory budget. Returns the result (None after an error)."""
    result, error = within_budget(call, DatasetError)
    if error is not None:
        assert names in str(error), f"{error!s} does not name {names!r}"
    return result


def check_dataset(ds) -> None:
    """A dataset that loaded: images and labels of matching lengths."""
    if ds is not None:
        (x_train, y_train), (x_test, y_test) = ds
        assert len(x_train) == len(y_train) and len(x_test) == len(y_test)


IDX = idx_bytes(digits(3, 0)[0])
CIFAR_BIN = cifar_binary_bytes(*cifar_batch(2, 0))
CIFAR_PY2 = cifar_python_bytes(*cifar_batch(2, 0))
CIFAR_PY5 = __import__("pickle").dumps({b"data": cifar_batch(2, 1)[0].reshape(2, -1), b"labels": [1, 2]}, 5)


@FAST
@given(st.one_of(st.binary(max_size=300), mutated(IDX)))
def test_idx_reader(raw):
    result = only_dataset_errors(lambda: parse_idx(raw, "forged.idx"), "forged.idx")
    assert result is None or isinstance(result, np.ndarray)


@FAST
@given(st.one_of(st.binary(max_size=300), mutated(gzip.compress(IDX))))
def test_gzip_idx_files(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("idx")
    good = {"train-labels-idx1-ubyte": idx_bytes(np.arange(3, dtype=np.uint8)),
            "t10k-images-idx3-ubyte": IDX, "t10k-labels-idx1-ubyte": idx_bytes(np.arange(3, dtype=np.uint8))}
    for name, data in good.items():
        (folder / name).write_bytes(data)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(raw)
    check_dataset(only_dataset_errors(lambda: load_mnist(folder), "train-images-idx3-ubyte"))


@FAST
@given(st.one_of(st.binary(max_size=7000), mutated(CIFAR_BIN)))
def test_cifar_binary_reader(raw):
    result = only_dataset_errors(lambda: parse_binary_batch(raw, "forged.bin"), "forged.bin")
    assert result is None or len(result[0]) == len(result[1])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=400), mutated(CIFAR_PY2), mutated(CIFAR_PY5)))
def test_cifar_pickle_reader(raw):
    result = only_dataset_errors(lambda: parse_python_batch(raw, "forged_batch"), "forged_batch")
    assert result is None or len(result[0]) == len(result[1])


@FAST
@given(st.lists(st.sampled_from([0x80, 0x02, 0x28, 0x29, 0x5D, 0x7D, 0x4B, 0x01, 0x85, 0x86,
                                 0x87, 0x61, 0x65, 0x73, 0x75, 0x71, 0x68, 0x94, 0x2E, 0x74,
                                 0x52, 0x62, 0x4E, 0x88, 0x43, 0x00]), max_size=200))
def test_cifar_pickle_opcode_soup(ops):
    """Random sequences of the very opcodes a batch uses (stack games, memo references)."""
    only_dataset_errors(lambda: safe_unpickle(bytes(ops), "opcode-soup"), "opcode-soup")


def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=np.zeros((2, 28, 28), np.uint8), y_train=[1, 2],
                        x_test=np.zeros((1, 28, 28), np.uint8), y_test=[3])
    return buf.getvalue()


@FAST
@given(st.one_of(st.binary(max_size=500), mutated(_npz_bytes())))
def test_npz_dataset_reader(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    path.write_bytes(raw)
    check_dataset(only_dataset_errors(lambda: load_mnist(path), "m.npz"))


def _tar_bytes(tmp_path) -> bytes:
    members = {"cifar-10-batches-bin/data_batch_1.bin": CIFAR_BIN,
               "cifar-10-batches-bin/test_batch.bin": CIFAR_BIN}
    return write_tar(tmp_path / "t.tar.gz", members).read_bytes()


@pytest.fixture(scope="module")
def tar_bytes(tmp_path_factory):
    return _tar_bytes(tmp_path_factory.mktemp("tar"))


def test_cifar_tar_reader(tmp_path_factory, tar_bytes):
    @FAST
    @given(mutated(tar_bytes))
    def check(raw):
        path = tmp_path_factory.mktemp("tar") / "cifar-10-binary.tar.gz"
        path.write_bytes(raw)
        check_dataset(only_dataset_errors(lambda: load_cifar10(path), "cifar-10-binary.tar.gz"))

    check()


def test_mat_reader(tmp_path_factory):
    scipy_io = pytest.importorskip("scipy.io")
    (xtr, ytr), (xte, yte) = digits(2, 1), digits(1, 2)
    folder = tmp_path_factory.mktemp("mat")
    valid = {}
    for compress in (False, True):
        buf = io.BytesIO()
        scipy_io.savemat(buf, {"trainX": xtr, "trainY": ytr, "testX": xte, "testY": yte},
                         do_compression=compress)
        valid[compress] = buf.getvalue()

    @FAST
    @given(st.one_of(st.binary(max_size=400), mutated(valid[False]), mutated(valid[True])))
    def check(raw):
        path = folder / "m.mat"
        path.write_bytes(raw)
        check_dataset(only_dataset_errors(lambda: load_mnist(path), "m.mat"))

    check()
