"""Small dataset files built in tmp_path: IDX, CIFAR binary and Python-2-style CIFAR pickles."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import types
from pathlib import Path

import numpy as np

IDX_TYPE = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode an array in the IDX format (written independently of the reader)."""
    arr = np.asarray(arr)
    if arr.dtype.itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder(">"))
    header = bytes([0, 0, IDX_TYPE[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def digits(n: int, seed: int, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_mnist_idx(folder: Path, n_train=12, n_test=5, gz=False, sep="-") -> dict:
    """The four MNIST IDX files (names as published, or '.'-separated as some unzippers make)."""
    folder.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = digits(n_train, 1), digits(n_test, 2)
    for stem, arr in ((f"train-images{sep}idx3-ubyte", xtr), (f"train-labels{sep}idx1-ubyte", ytr),
                      (f"t10k-images{sep}idx3-ubyte", xte), (f"t10k-labels{sep}idx1-ubyte", yte)):
        raw = idx_bytes(arr)
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}


def cifar_batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


def cifar_binary_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """Records of 1 label byte + 3,072 pixel bytes, built with a plain loop."""
    out = bytearray()
    for image, label in zip(x, y):
        out.append(int(label))
        for channel in image:  # R plane, then G, then B, each row-major
            out += channel.tobytes()
    return bytes(out)


class Py2StylePickler(pickle._Pickler):
    """Writes pickles the way Python 2's cPickle wrote the CIFAR batches: every str as a
    byte string (SHORT_BINSTRING/BINSTRING) and globals as text ``GLOBAL`` opcodes naming
    ``numpy.core.multiarray``. Loaded with encoding='bytes', strings come back as bytes."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    def save_str(self, obj):
        self.save_bytes(obj.encode("latin-1"))

    def save_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode() + b"\n" + (name or obj.__qualname__).encode() + b"\n")
        self.memoize(obj)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str
    dispatch[type] = save_global
    dispatch[types.FunctionType] = save_global
    dispatch[types.BuiltinFunctionType] = save_global


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_python_bytes(x: np.ndarray, y: np.ndarray, label: str = "training batch 1 of 5") -> bytes:
    return py2_pickle({"batch_label": label, "labels": [int(v) for v in y],
                       "data": x.reshape(len(x), 3072), "filenames": [f"img_{i}.png" for i in range(len(x))]})


def write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# ------------------------------------------------------------------ full-size files
#: formats :func:`write_full_size` can write, with (train, test) image counts
FULL_SIZE_FORMATS = {"mnist-idx": (60_000, 10_000), "mnist-idx-gz": (60_000, 10_000),
                     "mnist-npz": (60_000, 10_000), "cifar-binary": (50_000, 10_000),
                     "cifar-binary-tar": (50_000, 10_000), "cifar-python": (50_000, 10_000)}


def write_full_size(folder: Path, fmt: str, seed: int = 0, scale: float = 1.0) -> tuple[Path, int]:
    """Write a dataset of the real datasets' size in format ``fmt`` (see
    :data:`FULL_SIZE_FORMATS`) into ``folder``; returns (what to pass to ``load_mnist`` /
    ``load_cifar10``, bytes of uint8 pixels it holds). ``scale`` < 1 writes fewer images
    (for quick runs). Pixels are random, written batch by batch (the writer itself stays
    small: about one batch of memory). Used by ``benchmarks/bench_memory.py``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_train, n_test = (max(1, int(n * scale)) for n in FULL_SIZE_FORMATS[fmt])
    rng = np.random.default_rng(seed)
    if fmt.startswith("mnist"):
        return _full_mnist(folder, fmt, n_train, n_test, rng), (n_train + n_test) * 784
    return _full_cifar(folder, fmt, n_train, n_test, rng), (n_train + n_test) * 3072


def _full_mnist(folder: Path, fmt: str, n_train: int, n_test: int, rng) -> Path:
    if fmt == "mnist-npz":
        arrays = {}
        for part, n in (("train", n_train), ("test", n_test)):
            arrays[f"x_{part}"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            arrays[f"y_{part}"] = rng.integers(0, 10, n, dtype=np.uint8)
        np.savez(folder / "mnist.npz", **arrays)
        return folder / "mnist.npz"
    gz = fmt.endswith("-gz")
    for part, n in (("train", n_train), ("t10k", n_test)):
        for kind, shape in (("images", (n, 28, 28)), ("labels", (n,))):
            top = 256 if kind == "images" else 10
            name = f"{part}-{kind}-idx{len(shape)}-ubyte" + (".gz" if gz else "")
            opener = gzip.open(folder / name, "wb", compresslevel=1) if gz else open(folder / name, "wb")
            with opener as f:
                f.write(bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape))
                for start in range(0, n, 10_000):
                    rows = min(10_000, n - start)
                    f.write(rng.integers(0, top, (rows, *shape[1:]), dtype=np.uint8).tobytes())
    return folder


def _cifar_batches(n_train: int, n_test: int):
    sizes = [min(10_000, n_train - s) for s in range(0, n_train, 10_000)]
    return [(f"data_batch_{i + 1}", n) for i, n in enumerate(sizes[:5])] + [("test_batch", n_test)]


def _full_cifar(folder: Path, fmt: str, n_train: int, n_test: int, rng) -> Path:
    target = folder / "cifar-10-batches-bin" if fmt != "cifar-python" else folder / "cifar-10-batches-py"
    target.mkdir(exist_ok=True)
    for key, n in _cifar_batches(n_train, n_test):
        records = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        if fmt == "cifar-python":
            batch = {"batch_label": key, "labels": [int(v) for v in records[:, 0]],
                     "data": np.ascontiguousarray(records[:, 1:]),
                     "filenames": [f"img_{i}.png" for i in range(n)]}
            (target / key).write_bytes(py2_pickle(batch))
        else:
            (target / f"{key}.bin").write_bytes(records.tobytes())
    if fmt != "cifar-binary-tar":
        return folder
    tar_path = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(tar_path, "w:gz", compresslevel=1) as tar:
        for p in sorted(target.iterdir()):
            tar.add(p, arcname=f"cifar-10-batches-bin/{p.name}")
            p.unlink()
    target.rmdir()
    return tar_path
