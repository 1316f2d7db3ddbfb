"""Reading CIFAR-10: the binary version and the (pickled) Python version.

Binary: each record is 1 label byte + 3,072 pixel bytes (1,024 R, then G, then B, each
32x32 row-major); a batch file is any whole number of 3,073-byte records.
Python: each batch is a Python-2 pickle of a dict ``{b"data": uint8 (N, 3072),
b"labels": [int, ...], ...}``. It is read with :class:`CifarUnpickler`, which admits only
the NumPy array-reconstruction names those files (or a Python 3 re-pickling) use, so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tarfile
import zlib
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError
from cnnlab.data.formats import Pair, check_pair

RECORD_BYTES = 1 + 3 * 32 * 32  # 3,073
_BIN_NAME = re.compile(r"^(data_batch_(\d+)|test_batch)\.bin$")
_PY_NAME = re.compile(r"^(data_batch_(\d+)|test_batch)$")

# What an ndarray's pickle refers to: numpy's array-rebuilding function (its module is
# numpy.core.multiarray in old pickles, numpy._core.multiarray in NumPy 2; pickle
# protocol 5 uses numeric._frombuffer instead), ndarray and dtype. Nothing else.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
_ALLOWED_GLOBALS = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _RECONSTRUCT for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _FROMBUFFER for core in ("core", "_core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class CifarUnpickler(pickle.Unpickler):
    """An unpickler that resolves only NumPy's ndarray/dtype reconstruction names.

    Anything else a pickle asks for (``os.system``, ``builtins.eval``, ...) raises
    ``pickle.UnpicklingError`` before it is ever looked up.
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR batch only holds NumPy arrays, lists and strings"
            ) from None


def safe_unpickle(data: bytes, name: str):
    """Unpickle CIFAR batch bytes (Python 2 pickles, str read as bytes) with :class:`CifarUnpickler`."""
    try:
        return CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DatasetError(f"{name}: unsafe or corrupt pickle: {exc}") from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise DatasetError(f"{name}: not a readable CIFAR pickle ({type(exc).__name__}: {exc})") from exc


def parse_binary_batch(data: bytes, name: str) -> Pair:
    """Decode a CIFAR-10 binary batch into (uint8 (N, 3, 32, 32), int64 (N,))."""
    if not data or len(data) % RECORD_BYTES:
        raise DatasetError(f"{name}: {len(data)} bytes is not a whole number of {RECORD_BYTES:,}-byte "
                           "CIFAR-10 records (truncated or not a CIFAR-10 binary file)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)  # (N, 3073)
    labels = records[:, 0]
    bad = np.flatnonzero(labels > 9)
    if len(bad):
        raise DatasetError(f"{name}: record {bad[0]} has label byte {labels[bad[0]]}, expected 0..9 "
                           "(a CIFAR-100 file, or not CIFAR-10 at all?)")
    return check_pair(records[:, 1:].reshape(-1, 3, 32, 32), labels, name)


def parse_python_batch(data: bytes, name: str) -> Pair:
    """Decode a CIFAR-10 Python batch (pickled dict) into (uint8 (N, 3, 32, 32), int64 (N,))."""
    batch = safe_unpickle(data, name)
    if not isinstance(batch, dict):
        raise DatasetError(f"{name}: expected a pickled dict, found {type(batch).__name__}")
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DatasetError(f"{name}: pickled dict lacks 'data' and 'labels' (keys: {sorted(map(str, batch))})")
    x, labels = batch["data"], batch["labels"]
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DatasetError(f"{name}: 'data' is {desc}, expected uint8 (N, 3072)")
    if not all(isinstance(v, (int, np.integer)) for v in labels):
        raise DatasetError(f"{name}: 'labels' must be whole numbers")
    return check_pair(x.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64), name)


def _join(batches: dict[str, tuple[str, bytes]], kind: str, where: str) -> tuple[Pair, Pair]:
    """Parse batches keyed ``data_batch_N``/``test_batch`` -> (file name, bytes) into train and test."""
    parse = parse_binary_batch if kind == "binary" else parse_python_batch
    train_keys = sorted((k for k in batches if k.startswith("data_batch_")),
                        key=lambda k: int(re.search(r"\d+", k).group()))
    if not train_keys or "test_batch" not in batches:
        raise DatasetError(f"{where}: CIFAR-10 {kind} needs data_batch_* and test_batch files; "
                           f"found {sorted(name for name, _ in batches.values()) or 'none'}")
    train = [parse(batches[k][1], batches[k][0]) for k in train_keys]
    test = parse(batches["test_batch"][1], batches["test_batch"][0])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), test


def _batch_kind(names: list[str]) -> tuple[str, dict[str, str]] | None:
    """Which version the names belong to: ("binary"|"python", {batch key: name})."""
    for kind, pattern in (("binary", _BIN_NAME), ("python", _PY_NAME)):
        hits = {m.group(1): n for n in names if (m := pattern.match(os.path.basename(n)))}
        if hits:
            return kind, hits
    return None


def read_cifar_tar(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read ``cifar-10-binary.tar.gz`` or ``cifar-10-python.tar.gz`` without extracting to disk."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            found = _batch_kind(members)
            if found is None:
                raise DatasetError(f"{path}: no CIFAR-10 batch files inside (expected data_batch_* and "
                                   "test_batch, as in cifar-10-binary.tar.gz or cifar-10-python.tar.gz)")
            kind, hits = found
            batches = {key: (f"{path}: {name}", tar.extractfile(members[name]).read())
                       for key, name in hits.items()}
    except DatasetError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: truncated or corrupt archive ({exc})") from exc
    return _join(batches, kind, str(path))


def read_cifar_folder(folder: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read extracted batch files from ``folder`` or its ``cifar-10-batches-*`` subfolder."""
    folder = Path(folder)
    for where in [folder, *sorted(d for d in folder.glob("cifar-10-batches-*") if d.is_dir())]:
        found = _batch_kind([p.name for p in where.iterdir() if p.is_file()])
        if found:
            kind, hits = found
            batches = {}
            for key, name in hits.items():
                try:
                    batches[key] = (str(where / name), (where / name).read_bytes())
                except OSError as exc:
                    raise DatasetError(f"{where / name}: cannot read ({exc.strerror or exc})") from exc
            return _join(batches, kind, str(where))
    tars = sorted(p for p in folder.iterdir() if p.name.startswith("cifar-10-") and ".tar" in p.name)
    if tars:
        return read_cifar_tar(tars[0])
    raise DatasetError(f"{folder}: no CIFAR-10 files found (expected data_batch_*.bin and test_batch.bin, "
                       "data_batch_* and test_batch, or a cifar-10-*.tar.gz)")


def read_cifar_path(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read CIFAR-10 from a tarball, one batch file (its folder is read) or a folder."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_cifar_folder(path)
    if _batch_kind([path.name]):
        return read_cifar_folder(path.parent)
    if tarfile.is_tarfile(path):
        return read_cifar_tar(path)
    raise DatasetError(f"{path}: not a CIFAR-10 file this lab reads (cifar-10-binary.tar.gz, "
                       "cifar-10-python.tar.gz, data_batch_*[.bin] or test_batch[.bin])")
