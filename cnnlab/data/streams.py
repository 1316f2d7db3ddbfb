"""Reading dataset files as streams, into arrays allocated once, within stated limits.

Dataset files declare their sizes (an IDX header, a tar member, a MATLAB dimension
list); a few bytes can declare gigabytes. Readers here check a declared size against what
the format can legitimately hold *before* allocating, then fill one preallocated array
chunk by chunk, so loading costs the data plus a chunk, not the file plus the data.
"""

from __future__ import annotations

import contextvars
import gzip
import os
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

# What the real datasets hold, and so the most a file of each kind may declare.
MNIST_MAX_IMAGES = 70_000
MNIST_SIDE = 28
CIFAR_IMAGE_BYTES = 3 * 32 * 32
CIFAR_BATCH_MAX_IMAGES = 10_000
CIFAR_MAX_IMAGES = 60_000
CIFAR_MAX_BATCHES = 6
#: an IDX file of any other content may hold at most this many values (70,000 x 28 x 28)
IDX_MAX_VALUES = MNIST_MAX_IMAGES * MNIST_SIDE * MNIST_SIDE
#: the most bytes a dataset file's arrays may take once read (CIFAR-10 as float64 fits)
DATASET_MAX_BYTES = 2 * 1024**3

#: everything a reader can raise for a damaged file, turned into DatasetError by callers
READ_ERRORS = (OSError, EOFError, zlib.error, ValueError)


def short(exc: BaseException) -> str:
    """The first line of an exception's text, at most 200 characters."""
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


@contextmanager
def open_maybe_gzip(path: str | os.PathLike):
    """A binary file object of ``path``'s content, decompressed on the fly when it starts
    with the gzip magic number. OSError-free: problems become DatasetError naming it."""
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with raw:
        gz = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        try:
            yield stream
        except DatasetError:
            raise
        except (OSError, EOFError, zlib.error) as exc:
            what = "gzip data is truncated or corrupt" if gz else "cannot read"
            raise DatasetError(f"{path}: {what} ({short(exc)})") from None


def read_exact(f, n: int, name: str, what: str = "data") -> bytes:
    """Exactly ``n`` bytes from ``f`` (n is small: headers), or DatasetError 'truncated'."""
    data = f.read(n)
    if len(data) != n:
        raise DatasetError(f"{name}: truncated: the file ends inside its {what}")
    return data


#: bytes-read callback of the running load in this thread (see :func:`reading_progress`)
_reading: contextvars.ContextVar = contextvars.ContextVar("cnnlab_reading", default=None)


@contextmanager
def reading_progress(callback):
    """While the block runs, every chunk a dataset reader decodes in this thread is reported
    as ``callback(n_bytes)``. The callback may raise (e.g. to cancel the load): the reader
    stops at once and nothing half-read is returned."""
    token = _reading.set(callback)
    try:
        yield
    finally:
        _reading.reset(token)


def report_read(n: int) -> None:
    """Tell the running load's callback (if any) that ``n`` more bytes were decoded."""
    callback = _reading.get()
    if callback is not None:
        callback(n)


def fill(f, out: np.ndarray, name: str, what: str = "data") -> np.ndarray:
    """Fill the C-contiguous array ``out`` from ``f`` in chunks; DatasetError if ``f``
    ends first. Returns ``out``."""
    view = memoryview(out.reshape(-1).view(np.uint8)) if out.size else memoryview(b"")
    done = 0
    while done < len(view):
        n = f.readinto(view[done:done + CHUNK_BYTES])
        if not n:
            raise DatasetError(f"{name}: truncated: {what} promises {len(view):,} bytes but "
                               f"the file holds only {done:,}")
        done += n
        report_read(n)
    return out


def expect_end(f, name: str, what: str) -> None:
    """DatasetError when ``f`` has bytes left after what its header promised."""
    extra = len(f.read(CHUNK_BYTES))
    if extra:
        more = "" if extra < CHUNK_BYTES else " or more"
        raise DatasetError(f"{name}: {extra:,}{more} unexpected bytes after the {what}")
