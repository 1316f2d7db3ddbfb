"""Reading CIFAR-10: the binary version and the (pickled) Python version.

Binary: each record is 1 label byte + 3,072 pixel bytes (1,024 R, then G, then B, each
32x32 row-major); a batch file is a whole number of 3,073-byte records, at most 10,000.
Python: each batch is a Python-2 pickle of a dict ``{b"data": uint8 (N, 3072),
b"labels": [int, ...], ...}``, read by :mod:`cnnlab.data.cifar_pickle` - a tiny
interpreter of just the opcodes such a file uses, so a crafted file can neither run code
nor make this lab allocate more than a real batch holds.

Loading streams: every batch's size is known from the folder or the tar headers before
anything is read, one uint8 array is allocated for the training set and one for the test
set, and each batch is decoded straight into its slot (peak: the data plus one batch).
"""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.data.cifar_pickle import PickleRefused, read_cifar_pickle
from cnnlab.data.errors import DatasetError
from cnnlab.data.formats import Pair, check_pair
from cnnlab.data.streams import CIFAR_BATCH_MAX_IMAGES, CIFAR_IMAGE_BYTES, report_read, short

RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES  # 3,073
_BIN_NAME = re.compile(r"^(data_batch_([1-5])|test_batch)\.bin$")
_PY_NAME = re.compile(r"^(data_batch_([1-5])|test_batch)$")
#: a real python batch is 31,035,704 bytes: 10,000 images plus labels and file names
PY_BATCH_MAX_BYTES = CIFAR_BATCH_MAX_IMAGES * CIFAR_IMAGE_BYTES + 2_000_000
_RECORDS_PER_CHUNK = 512


def safe_unpickle(data: bytes, name: str):
    """Interpret CIFAR batch pickle bytes (see :mod:`cnnlab.data.cifar_pickle`)."""
    try:
        return read_cifar_pickle(data)
    except PickleRefused as exc:
        raise DatasetError(f"{name}: unsafe or corrupt pickle: {exc}") from None


def _binary_into(f, count: int, name: str, x: np.ndarray, y: np.ndarray) -> None:
    """Decode ``count`` records from stream ``f`` into ``x`` (count, 3, 32, 32) and ``y``."""
    buf = np.empty((_RECORDS_PER_CHUNK, RECORD_BYTES), dtype=np.uint8)
    view = memoryview(buf.reshape(-1))
    done = 0
    while done < count:
        n = min(_RECORDS_PER_CHUNK, count - done)
        want, got = n * RECORD_BYTES, 0
        while got < want:
            k = f.readinto(view[got:want])
            if not k:
                raise DatasetError(f"{name}: truncated after {done * RECORD_BYTES + got:,} bytes")
            got += k
        labels = buf[:n, 0]
        bad = np.flatnonzero(labels > 9)
        if len(bad):
            raise DatasetError(f"{name}: record {done + bad[0]} has label byte {labels[bad[0]]}, "
                               "expected 0..9 (a CIFAR-100 file, or not CIFAR-10 at all?)")
        y[done:done + n] = labels
        x.reshape(len(x), -1)[done:done + n] = buf[:n, 1:]
        done += n
        report_read(want)


def _binary_count(size: int, name: str) -> int:
    if not size or size % RECORD_BYTES:
        raise DatasetError(f"{name}: {size} bytes is not a whole number of {RECORD_BYTES:,}-byte "
                           "CIFAR-10 records (truncated or not a CIFAR-10 binary file)")
    if size // RECORD_BYTES > CIFAR_BATCH_MAX_IMAGES:
        raise DatasetError(f"{name}: {size // RECORD_BYTES:,} records; a CIFAR-10 batch holds "
                           f"at most {CIFAR_BATCH_MAX_IMAGES:,}")
    return size // RECORD_BYTES


def parse_binary_batch(data: bytes, name: str) -> Pair:
    """Decode a CIFAR-10 binary batch into (uint8 (N, 3, 32, 32), int64 (N,))."""
    import io

    n = _binary_count(len(data), name)
    x, y = np.empty((n, 3, 32, 32), np.uint8), np.empty(n, np.uint8)
    _binary_into(io.BytesIO(data), n, name, x, y)
    return check_pair(x, y, name)


def _python_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (N, 3072) read-only view of ``data``, labels int64 (N,)) of a pickled batch."""
    batch = safe_unpickle(data, name)
    if not isinstance(batch, dict):
        raise DatasetError(f"{name}: expected a pickled dict, found {type(batch).__name__}")
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        keys = sorted(k[:30] for k in batch)[:10]
        raise DatasetError(f"{name}: pickled dict lacks 'data' and 'labels' (keys: {keys})")
    x, labels = batch["data"], batch["labels"]
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DatasetError(f"{name}: 'data' is {desc}, expected uint8 (N, 3072)")
    if isinstance(labels, np.ndarray):
        labels = labels.tolist() if labels.ndim == 1 and labels.dtype.kind in "iu" else None
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise DatasetError(f"{name}: 'labels' must be a list of whole numbers")
    if len(labels) != len(x):
        raise DatasetError(f"{name}: {len(x)} images but labels have shape ({len(labels)},)")
    y = np.asarray(labels, dtype=np.int64)
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DatasetError(f"{name}: labels range {y.min()}..{y.max()}, expected 0..9")
    return x, y


def parse_python_batch(data: bytes, name: str) -> Pair:
    """Decode a CIFAR-10 Python batch (pickled dict) into (uint8 (N, 3, 32, 32), int64 (N,))."""
    x, y = _python_batch(data, name)
    return check_pair(x.reshape(-1, 3, 32, 32).copy(), y, name)


@dataclass
class _Batch:
    """One batch file: where it is, how big, and its slot in the output arrays."""

    key: str  # data_batch_N or test_batch
    name: str  # for messages
    size: int
    open: object  # () -> binary stream
    capacity: int = 0
    offset: int = 0
    count: int = 0


def _load(batches: dict[str, _Batch], kind: str, where: str, order: list[str] | None = None
          ) -> tuple[Pair, Pair]:
    """Decode every batch into one train and one test array (see the module docstring).
    ``order``: the keys in the order they are cheapest to read (archive order)."""
    train_keys = sorted((k for k in batches if k.startswith("data_batch_")), key=lambda k: int(k[11:]))
    if not train_keys or "test_batch" not in batches:
        raise DatasetError(f"{where}: CIFAR-10 {kind} needs data_batch_* and test_batch files; "
                           f"found {sorted(b.name for b in batches.values()) or 'none'}")
    for b in batches.values():
        if kind == "binary":
            b.capacity = _binary_count(b.size, b.name)
        elif b.size > PY_BATCH_MAX_BYTES:
            raise DatasetError(f"{b.name}: {b.size:,} bytes; a CIFAR-10 python batch has at "
                               f"most {PY_BATCH_MAX_BYTES:,}")
        else:
            b.capacity = min(b.size // CIFAR_IMAGE_BYTES, CIFAR_BATCH_MAX_IMAGES)
    outputs = {}
    for part, keys in (("train", train_keys), ("test", ["test_batch"])):
        offset = 0
        for k in keys:
            batches[k].offset, offset = offset, offset + batches[k].capacity
        outputs[part] = (np.empty((offset, 3, 32, 32), np.uint8), np.empty(offset, np.uint8))
    for key in order or [*train_keys, "test_batch"]:
        b = batches[key]
        x, y = outputs["test" if key == "test_batch" else "train"]
        with b.open() as f:
            if kind == "binary":
                _binary_into(f, b.capacity, b.name, x[b.offset:], y[b.offset:])
                b.count = b.capacity
            else:
                data = f.read(b.size)  # size checked above; read() of more would allocate more
                if len(data) != b.size or f.read(1):
                    raise DatasetError(f"{b.name}: changed size while being read")
                px, labels = _python_batch(data, b.name)
                b.count = len(px)
                x.reshape(len(x), -1)[b.offset:b.offset + b.count] = px
                y[b.offset:b.offset + b.count] = labels
                report_read(px.nbytes)
                del data, px
    result = []
    for part, keys in (("train", train_keys), ("test", ["test_batch"])):
        x, y = outputs[part]
        n = 0
        for k in keys:  # close the gaps left by capacities larger than the batches
            b = batches[k]
            if b.offset != n:
                x[n:n + b.count] = x[b.offset:b.offset + b.count]
                y[n:n + b.count] = y[b.offset:b.offset + b.count]
            n += b.count
        result.append(check_pair(x[:n], y[:n], where))
    return result[0], result[1]


def _batch_kind(names: list[str], where: str = "") -> tuple[str, dict[str, str]] | None:
    """Which version the names belong to: ("binary"|"python", {batch key: name})."""
    for kind, pattern in (("binary", _BIN_NAME), ("python", _PY_NAME)):
        hits: dict[str, str] = {}
        for n in names:
            m = pattern.match(os.path.basename(n))
            if m:
                if m.group(1) in hits:
                    raise DatasetError(f"{where}: holds {m.group(1)} twice ({hits[m.group(1)]}, {n})")
                hits[m.group(1)] = n
        if hits:
            return kind, hits
    return None


def read_cifar_tar(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read ``cifar-10-binary.tar.gz`` or ``cifar-10-python.tar.gz`` without extracting to
    disk: member sizes from the headers, then each member decompressed into its slot."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            found = _batch_kind([m.name for m in members], str(path))
            if found is None:
                raise DatasetError(f"{path}: no CIFAR-10 batch files inside (expected data_batch_* "
                                   "and test_batch, as in cifar-10-binary.tar.gz or cifar-10-python.tar.gz)")
            kind, hits = found
            by_name = {m.name: m for m in members}
            batches = {key: _Batch(key, f"{path}: {name}", by_name[name].size,
                                   lambda m=by_name[name]: tar.extractfile(m))
                       for key, name in hits.items()}
            order = sorted(batches, key=lambda k: by_name[hits[k]].offset_data)
            return _load(batches, kind, str(path), order)
    except DatasetError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: truncated or corrupt archive ({short(exc)})") from None


def read_cifar_folder(folder: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read extracted batch files from ``folder`` or its ``cifar-10-batches-*`` subfolder."""
    folder = Path(folder)
    for where in [folder, *sorted(d for d in folder.glob("cifar-10-batches-*") if d.is_dir())]:
        found = _batch_kind([p.name for p in where.iterdir() if p.is_file()], str(where))
        if found:
            kind, hits = found
            batches = {}
            for key, name in hits.items():
                file = where / name
                try:
                    size = file.stat().st_size
                except OSError as exc:
                    raise DatasetError(f"{file}: cannot read ({exc.strerror or exc})") from None
                batches[key] = _Batch(key, str(file), size, lambda f=file: open(f, "rb"))
            try:
                return _load(batches, kind, str(where))
            except OSError as exc:
                raise DatasetError(f"{where}: cannot read a batch ({short(exc)})") from None
    tars = sorted(p for p in folder.iterdir() if p.name.startswith("cifar-10-") and ".tar" in p.name)
    if tars:
        return read_cifar_tar(tars[0])
    raise DatasetError(f"{folder}: no CIFAR-10 files found (expected data_batch_*.bin and "
                       "test_batch.bin, data_batch_* and test_batch, or a cifar-10-*.tar.gz)")


def read_cifar_path(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read CIFAR-10 from a tarball, one batch file (its folder is read) or a folder."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_cifar_folder(path)
    if _batch_kind([path.name]):
        return read_cifar_folder(path.parent)
    try:
        is_tar = tarfile.is_tarfile(path)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: truncated or corrupt archive ({short(exc)})") from None
    if is_tar:
        return read_cifar_tar(path)
    raise DatasetError(f"{path}: not a CIFAR-10 file this lab reads (cifar-10-binary.tar.gz, "
                       "cifar-10-python.tar.gz, data_batch_*[.bin] or test_batch[.bin])")
