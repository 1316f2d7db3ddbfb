"""Reading MNIST-style files: IDX (raw or gzip), ``.npz`` archives and MATLAB ``.mat``.

Every reader returns finished arrays or raises :class:`DatasetError` naming the file and
what is wrong with it; nothing is half-loaded. Images come back as uint8 ``(N, C, H, W)``,
labels as int64 ``(N,)``. CIFAR-10 files are in :mod:`cnnlab.data.cifar_formats`.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError

Pair = tuple[np.ndarray, np.ndarray]  # (images uint8 (N, C, H, W), labels int64 (N,))

# IDX type byte -> element dtype (big-endian, as the format specifies).
IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"
# train-images-idx3-ubyte, t10k-labels.idx1-ubyte (as some unzippers rename it), optional .gz
MNIST_IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$", re.IGNORECASE)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, gunzipped if it starts with the gzip magic number."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DatasetError(f"{path}: gzip data is truncated or corrupt ({exc})") from exc


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    """Decode IDX bytes (magic 0x0000TTDD: type TT, DD dimensions) into an array.

    Raises DatasetError (prefixed by ``name``) for a wrong magic number, an unknown
    type, a truncated file or trailing bytes.
    """
    if len(raw) < 4:
        raise DatasetError(f"{name}: only {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DatasetError(f"{name}: wrong magic number 0x{raw[:4].hex()} "
                           "(an IDX file starts 0x0000 then a type byte 08..0E) - not an IDX file?")
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"{name}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected:
        raise DatasetError(f"{name}: truncated: header promises {'x'.join(map(str, dims))} values "
                           f"({expected} bytes) but the file holds {len(raw)} bytes")
    if len(raw) > expected:
        raise DatasetError(f"{name}: {len(raw) - expected} unexpected bytes after the "
                           f"{'x'.join(map(str, dims))} values the header promises")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a native-endian array."""
    return parse_idx(read_bytes(path), str(path))


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
        raise DatasetError(f"{name}: labels range {int(y.min())}..{int(y.max())}, expected 0..{n_classes - 1}")
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


def read_split_npz(path: str | os.PathLike, channels: int) -> tuple[Pair, Pair]:
    """Read an ``.npz`` with ``x_train, y_train, x_test, y_test`` (Keras' mnist.npz, our samples).

    Images may be (N, H, W) for grey, (N, C, H, W) or (N, H, W, C). Pickled members are refused.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
            if missing:
                raise DatasetError(f"{path}: missing arrays {sorted(missing)} (has {sorted(npz.files)})")
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"{path}: not a readable .npz archive ({exc})") from exc
    return tuple(
        check_pair(as_nchw(to_uint8_images(arrays[f"x_{part}"], f"{path} x_{part}"), channels, f"{path} x_{part}"),
                   np.ravel(arrays[f"y_{part}"]) if arrays[f"y_{part}"].ndim == 2 else arrays[f"y_{part}"],
                   f"{path} ({part})")
        for part in ("train", "test")
    )


def find_mnist_idx(folder: str | os.PathLike) -> dict[str, Path] | None:
    """The four MNIST IDX files in ``folder`` or one level below, keyed ``train-images`` etc.

    Returns None when none is found; raises DatasetError when only some are there.
    Uncompressed files win over ``.gz`` when both exist.
    """
    folder = Path(folder)
    candidates = [p for p in sorted(folder.iterdir()) if p.is_file()]
    candidates += [p for d in sorted(folder.iterdir()) if d.is_dir() for p in sorted(d.iterdir()) if p.is_file()]
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


def read_mnist_idx(files: dict[str, Path]) -> tuple[Pair, Pair]:
    """Read the four IDX files found by :func:`find_mnist_idx`."""
    result = []
    for part in ("train", "t10k"):
        images, labels = read_idx(files[f"{part}-images"]), read_idx(files[f"{part}-labels"])
        name = f"{files[f'{part}-images']} / {files[f'{part}-labels'].name}"
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DatasetError(f"{files[f'{part}-images']}: expected a 3-D uint8 IDX array "
                               f"(N, H, W), got {images.dtype} {images.shape}")
        if labels.ndim != 1:
            raise DatasetError(f"{files[f'{part}-labels']}: expected a 1-D label array, got {labels.shape}")
        if len(images) != len(labels):
            raise DatasetError(f"{name}: {len(images)} images but {len(labels)} labels")
        result.append(check_pair(images[:, None], labels, name))
    return result[0], result[1]


# Key pairs seen in MATLAB MNIST files, tried in order.
_MAT_KEYS = [("train_images", "train_labels", "test_images", "test_labels"),
             ("trainX", "trainY", "testX", "testY"),
             ("train_x", "train_y", "test_x", "test_y"),
             ("x_train", "y_train", "x_test", "y_test")]


def _mat_images(x: np.ndarray, n: int, name: str) -> np.ndarray:
    """MATLAB image arrays come as (N, 784), (784, N), (N, 28, 28) or (28, 28, N)."""
    if x.ndim == 2:
        if x.shape[0] != n and x.shape[1] == n:
            x = x.T
        side = int(round(np.sqrt(x.shape[1])))
        if x.shape[0] != n or side * side != x.shape[1]:
            raise DatasetError(f"{name}: images have shape {x.shape}, not {n} square images")
        return x.reshape(n, side, side)
    if x.ndim == 3:
        if x.shape[0] != n and x.shape[2] == n:
            x = x.transpose(2, 0, 1)
        if x.shape[0] != n:
            raise DatasetError(f"{name}: images have shape {x.shape} but there are {n} labels")
        return x
    raise DatasetError(f"{name}: images have shape {x.shape}, expected 2 or 3 dimensions")


def read_mnist_mat(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read a MATLAB ``.mat`` file (v4-v7.2) holding ``train_images``/``train_labels``-style arrays.

    Also reads the old mldata ``mnist-original.mat`` (``data`` (784, 70000), ``label``):
    the first 60,000 are the training set. Needs scipy.
    """
    path = Path(path)
    try:
        import scipy.io
    except ImportError as exc:
        raise DatasetError(f"{path}: reading MATLAB .mat files needs the 'scipy' package, "
                           "which is not installed (pip install scipy)") from exc
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError as exc:  # v7.3 files are HDF5
        raise DatasetError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; "
                           "re-save with save(..., '-v7')") from exc
    except Exception as exc:  # scipy's parser raises many types (MatReadError, IndexError, ...)
        raise DatasetError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc
    if "data" in mat and "label" in mat:
        labels = np.ravel(mat["label"])
        images = _mat_images(np.asarray(mat["data"]), len(labels), str(path))
        if len(labels) != 70_000:
            raise DatasetError(f"{path}: 'data'/'label' layout expected 70,000 digits, found {len(labels)}")
        images = to_uint8_images(images, str(path))[:, None]
        return (check_pair(images[:60_000], labels[:60_000], f"{path} (train)"),
                check_pair(images[60_000:], labels[60_000:], f"{path} (test)"))
    for keys in _MAT_KEYS:
        if all(k in mat for k in keys):
            parts = []
            for xk, yk in (keys[:2], keys[2:]):
                labels = np.ravel(mat[yk])
                name = f"{path} {xk}/{yk}"
                images = to_uint8_images(_mat_images(np.asarray(mat[xk]), len(labels), name), name)
                parts.append(check_pair(images[:, None], labels, name))
            return parts[0], parts[1]
    found = sorted(k for k in mat if not k.startswith("__"))
    raise DatasetError(f"{path}: no train/test image and label arrays found (variables: {found}; "
                       "expected e.g. train_images, train_labels, test_images, test_labels)")


def read_mnist_path(path: str | os.PathLike) -> tuple[Pair, Pair]:
    """Read MNIST from a file (``.npz``, ``.mat``, one of the IDX files) or a folder holding them."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return read_split_npz(path, channels=1)
        if suffix == ".mat":
            return read_mnist_mat(path)
        if MNIST_IDX_NAME.match(path.name):
            path = path.parent  # one IDX file stands for its set of four
        else:
            raise DatasetError(f"{path}: not an MNIST file this lab reads "
                               "(IDX files like train-images-idx3-ubyte[.gz], mnist.npz, or .mat)")
    files = find_mnist_idx(path)
    if files is not None:
        return read_mnist_idx(files)
    for pattern, reader in (("*.npz", lambda p: read_split_npz(p, channels=1)), ("*.mat", read_mnist_mat)):
        matches = sorted(path.glob(pattern))
        if len(matches) == 1:
            return reader(matches[0])
    raise DatasetError(f"{path}: no MNIST files found (looked for the four IDX files, "
                       "one mnist.npz or one .mat file)")
