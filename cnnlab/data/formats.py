"""Reading IDX files (raw or gzip) and ``.npz`` archives, and the checks all readers share.

Every reader returns finished arrays or raises :class:`DatasetError` naming the file and
what is wrong with it; nothing is half-loaded. Images come back as uint8 ``(N, C, H, W)``,
labels as int64 ``(N,)``. Finding and reading MNIST in its many forms is in
:mod:`cnnlab.data.mnist_files`, CIFAR-10 in :mod:`cnnlab.data.cifar_formats`.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import struct
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError
from cnnlab.data.streams import (
    DATASET_MAX_BYTES,
    IDX_MAX_VALUES,
    MNIST_MAX_IMAGES,
    MNIST_SIDE,
    expect_end,
    fill,
    open_maybe_gzip,
)
from cnnlab.engine.npz_reader import read_npz

Pair = tuple[np.ndarray, np.ndarray]  # (images uint8 (N, C, H, W), labels int64 (N,))

# IDX type byte -> element dtype (big-endian, as the format specifies).
IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
# train-images-idx3-ubyte, t10k-labels.idx1-ubyte (as some unzippers rename it), optional .gz
MNIST_IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$", re.IGNORECASE)
SPLIT_NPZ_NAMES = ("x_train", "y_train", "x_test", "y_test")
_NPZ_EXTRA_NAMES = ("class_names",)  # what our own samples add


def _idx_header(f, name: str) -> tuple[np.dtype, tuple[int, ...]]:
    """(element dtype, dimensions) from the IDX header at the start of ``f``."""
    magic = f.read(4)
    if len(magic) < 4:
        raise DatasetError(f"{name}: only {len(magic)} bytes, too short for an IDX header")
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise DatasetError(f"{name}: wrong magic number 0x{magic.hex()} "
                           "(an IDX file starts 0x0000 then a type byte 08..0E) - not an IDX file?")
    ndim = magic[3]
    if ndim == 0:
        raise DatasetError(f"{name}: truncated IDX header (0 dimensions)")
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DatasetError(f"{name}: truncated IDX header ({4 + len(raw)} bytes, {ndim} dimensions)")
    return IDX_DTYPES[magic[2]], struct.unpack(f">{ndim}I", raw)


def read_idx_stream(f, name: str, *, max_values: int = IDX_MAX_VALUES, check=None) -> np.ndarray:
    """Decode an IDX stream (magic 0x0000TTDD: type TT, DD dimensions) into a native-endian
    array, allocated once after the header is checked.

    ``check(dtype, dims)`` may return a reason to refuse the header. Raises DatasetError
    (prefixed by ``name``) for a wrong magic number, an unknown type, more than
    ``max_values`` values, a truncated file or trailing bytes.
    """
    dtype, dims = _idx_header(f, name)
    shown = "x".join(map(str, dims))
    count = int(np.prod(dims, dtype=object))
    if count > max_values:
        raise DatasetError(f"{name}: the header declares {shown} values ({count:,}); "
                           f"this lab reads at most {max_values:,} from one IDX file")
    reason = check(dtype, dims) if check is not None else None
    if reason:
        raise DatasetError(f"{name}: {reason}")
    _check_remaining(f, count * dtype.itemsize, name, shown)
    out = np.empty(dims, dtype=dtype)
    fill(f, out, name, f"header promises {shown} values")
    expect_end(f, name, f"{shown} values the header promises")
    return out if dtype.isnative else out.astype(dtype.newbyteorder("="))


def _check_remaining(f, nbytes: int, name: str, shown: str) -> None:
    """Before allocating: a file (or bytes) that can tell its length must hold the bytes
    its header promises. (A gzip stream cannot; it is filled and checked as it is read.)"""
    if isinstance(f, gzip.GzipFile) or not f.seekable():  # seeking a gzip stream decompresses it
        return
    try:
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
    except (OSError, AttributeError, ValueError):
        return
    left = end - here
    if left < nbytes:
        raise DatasetError(f"{name}: truncated: header promises {shown} values ({nbytes:,} "
                           f"bytes) but {left:,} follow it")
    if left > nbytes:
        raise DatasetError(f"{name}: {left - nbytes:,} unexpected bytes after the {shown} "
                           "values the header promises")


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    """Decode IDX bytes; see :func:`read_idx_stream`."""
    return read_idx_stream(io.BytesIO(raw), name)


def read_idx(path: str | os.PathLike, *, max_values: int = IDX_MAX_VALUES, check=None) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed, decompressed as it is read)."""
    with open_maybe_gzip(path) as f:
        return read_idx_stream(f, str(path), max_values=max_values, check=check)


def read_bytes(path: str | os.PathLike, max_bytes: int = DATASET_MAX_BYTES) -> bytes:
    """A (small) file's bytes, gunzipped if it starts with the gzip magic number;
    DatasetError when there are more than ``max_bytes``."""
    with open_maybe_gzip(path) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DatasetError(f"{path}: larger than the {max_bytes:,} bytes this lab reads")
    return data


def check_pair(x: np.ndarray, y: np.ndarray, name: str, n_classes: int = 10) -> Pair:
    """Check images/labels agree and labels are class indices; return (uint8, int64) copies."""
    if x.ndim != 4:
        raise DatasetError(f"{name}: images have shape {x.shape}, expected (N, C, H, W)")
    if y.ndim != 1 or len(y) != len(x):
        raise DatasetError(f"{name}: {len(x)} images but labels have shape {y.shape}")
    if x.dtype != np.uint8:
        raise DatasetError(f"{name}: images are {x.dtype}, expected uint8 (0..255)")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise DatasetError(f"{name}: labels are {y.dtype}, expected whole numbers")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise DatasetError(f"{name}: labels range {int(y.min())}..{int(y.max())}, "
                           f"expected 0..{n_classes - 1}")
    x = np.ascontiguousarray(x, dtype=np.uint8)
    if not x.flags.writeable:  # e.g. a view of the file's bytes; callers own what they get
        x = x.copy()
    return x, np.asarray(y, dtype=np.int64).copy()


def as_nchw(x: np.ndarray, channels: int, name: str) -> np.ndarray:
    """(N, H, W) -> (N, 1, H, W) for grey images; (N, H, W, C) -> (N, C, H, W) channels-last."""
    if x.ndim == 3 and channels == 1:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] != channels and x.shape[3] == channels:
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 4 and x.shape[1] == channels:
        return x
    raise DatasetError(f"{name}: images have shape {x.shape}, expected (N, {channels}, H, W)")


def to_uint8_images(x: np.ndarray, name: str) -> np.ndarray:
    """Accept uint8, whole numbers 0..255, or floats in [0, 1] (scaled to 0..255)."""
    if x.dtype == np.uint8:
        return x
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DatasetError(f"{name}: images are {x.dtype}, expected numbers 0..255")
    if x.size and not np.all(np.isfinite(x)):
        raise DatasetError(f"{name}: images contain NaN or infinite values")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if np.issubdtype(x.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        return np.round(x * 255.0).astype(np.uint8)
    if lo < 0 or hi > 255:
        raise DatasetError(f"{name}: pixel values range {lo:g}..{hi:g}, expected 0..255 or 0..1")
    return np.round(x).astype(np.uint8)


def _split_npz_entry(name: str, shape: tuple, dtype: np.dtype) -> str | None:
    if name in _NPZ_EXTRA_NAMES:
        return None if dtype.kind == "U" and len(shape) == 1 and shape[0] <= 1000 else \
            f"class_names is {dtype} {shape}, expected a short list of names"
    if dtype.kind not in "biuf":
        return f"{name} holds {dtype} values, expected numbers"
    if name.startswith("y") and (len(shape) > 2 or (len(shape) == 2 and 1 not in shape)):
        return f"{name} has shape {shape}, expected one label per image"
    return None


def read_split_npz(path: str | os.PathLike, channels: int) -> tuple[Pair, Pair]:
    """Read an ``.npz`` with ``x_train, y_train, x_test, y_test`` (Keras' mnist.npz, our samples).

    Images may be (N, H, W) for grey, (N, C, H, W) or (N, H, W, C). Names, shapes and sizes
    are checked before anything is decompressed; pickled members are refused.
    """
    path = Path(path)

    def names_ok(names: list[str]) -> str | None:
        missing = sorted(set(SPLIT_NPZ_NAMES) - set(names))
        return f"missing arrays {missing} (has {sorted(names)[:8]})" if missing else None

    try:
        arrays = read_npz(path, accept=lambda n: n in SPLIT_NPZ_NAMES + _NPZ_EXTRA_NAMES,
                          max_bytes=DATASET_MAX_BYTES, error=DatasetError,
                          check=_split_npz_entry, check_names=names_ok)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    parts = []
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        x = as_nchw(to_uint8_images(x, f"{path} x_{part}"), channels, f"{path} x_{part}")
        parts.append(check_pair(x, np.ravel(y) if y.ndim == 2 else y, f"{path} ({part})"))
    return parts[0], parts[1]


def find_mnist_idx(folder: str | os.PathLike) -> dict[str, Path] | None:
    """The four MNIST IDX files in ``folder`` or one level below, keyed ``train-images`` etc.

    Returns None when none is found; raises DatasetError when only some are there.
    Uncompressed files win over ``.gz`` when both exist.
    """
    folder = Path(folder)
    candidates = [p for p in sorted(folder.iterdir()) if p.is_file()]
    candidates += [p for d in sorted(folder.iterdir()) if d.is_dir()
                   for p in sorted(d.iterdir()) if p.is_file()]
    found: dict[str, Path] = {}
    for p in candidates:
        m = MNIST_IDX_NAME.match(p.name)
        if m:
            key = f"{m.group(1).lower()}-{m.group(2).lower()}"
            if key not in found or (found[key].suffix == ".gz" and p.suffix != ".gz"):
                found[key] = p
    if not found:
        return None
    missing = {"train-images", "train-labels", "t10k-images", "t10k-labels"} - set(found)
    if missing:
        raise DatasetError(f"{folder}: found {sorted(found)} IDX files but not {sorted(missing)}")
    return found


def _mnist_images_header(dtype: np.dtype, dims: tuple) -> str | None:
    if dtype != np.uint8 or len(dims) != 3:
        return f"expected a 3-D uint8 IDX array (N, 28, 28), got {dtype} {'x'.join(map(str, dims))}"
    if dims[1:] != (MNIST_SIDE, MNIST_SIDE):
        return (f"images are {dims[1]}x{dims[2]} pixels; MNIST digits are "
                f"{MNIST_SIDE}x{MNIST_SIDE}")
    if dims[0] > MNIST_MAX_IMAGES:
        return f"declares {dims[0]:,} images; MNIST has at most {MNIST_MAX_IMAGES:,}"
    return None


def _mnist_labels_header(dtype: np.dtype, dims: tuple) -> str | None:
    if len(dims) != 1:
        return f"expected a 1-D label array, got {'x'.join(map(str, dims))}"
    if dtype.kind not in "iu":
        return f"labels are {dtype}, expected whole numbers"
    if dims[0] > MNIST_MAX_IMAGES:
        return f"declares {dims[0]:,} labels; MNIST has at most {MNIST_MAX_IMAGES:,}"
    return None


def read_mnist_idx(files: dict[str, Path]) -> tuple[Pair, Pair]:
    """Read the four IDX files found by :func:`find_mnist_idx`, each streamed into one
    array allocated after its header passed the MNIST checks (28x28, at most 70,000)."""
    result = []
    for part in ("train", "t10k"):
        images = read_idx(files[f"{part}-images"], check=_mnist_images_header)
        labels = read_idx(files[f"{part}-labels"], check=_mnist_labels_header)
        name = f"{files[f'{part}-images']} / {files[f'{part}-labels'].name}"
        if len(images) != len(labels):
            raise DatasetError(f"{name}: {len(images)} images but {len(labels)} labels")
        result.append(check_pair(images[:, None], labels, name))
    return result[0], result[1]
