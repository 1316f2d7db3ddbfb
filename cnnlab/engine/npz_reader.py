"""Reading ``.npz`` archives without trusting them.

``np.load`` decompresses a member before anyone can look at its name, and believes the
shape a ``.npy`` header declares. A 19 MB file can hold a 4 GiB deflated entry, or a
header promising ``(10**12,)`` values. :func:`read_npz` checks everything it can before
reading any payload:

1. the zip directory: every entry is ``<name>.npy``, no name twice, no encryption, each
   name accepted by the caller;
2. each ``.npy`` header: a plain numeric (or unicode text) dtype, the declared shape, and
   that the entry's declared size is exactly header + shape x itemsize;
3. the sum of the declared sizes against a byte budget.

Only then is each array allocated and filled chunk by chunk from the decompressing
stream (which stops at the declared size and checks the CRC). No pickles, ever.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: dtype kinds an array entry may have: bool, ints, floats, and unicode text (a JSON config)
ALLOWED_KINDS = "biufU"
CHUNK_BYTES = 1 << 20
MAX_HEADER_BYTES = 10_000  # NumPy's own limit for .npy headers


def _header(f, name: str, fail) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the start of ``f``."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, TypeError, SyntaxError, EOFError, OSError, KeyError) as exc:
        raise fail(f"entry {name!r} is not a NumPy array ({_first_line(exc)})") from None
    if dtype.hasobject or dtype.kind not in ALLOWED_KINDS or dtype.fields is not None:
        raise fail(f"entry {name!r} holds {dtype} values, not plain numbers")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise fail(f"entry {name!r} declares an invalid shape {shape}")
    return tuple(shape), bool(fortran), dtype


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def read_npz(path: str | os.PathLike, *, accept: Callable[[str], bool], max_bytes: int,
             error: type[Exception] = ValueError,
             check: Callable[[str, tuple, np.dtype], str | None] | None = None,
             check_names: Callable[[list[str]], str | None] | None = None,
             ) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` at ``path`` keyed by name (without ``.npy``).

    ``check_names(names)`` may refuse the archive from its list of names (e.g. a missing
    entry); ``accept(name)`` says which names may appear (any other is an error, before
    anything is decompressed); ``check(name, shape, dtype)`` may return a reason to refuse an entry
    from its header alone; ``max_bytes`` caps the total declared array bytes. Every
    problem raises ``error`` with a message starting with the path and never mentioning
    NumPy internals. Raises ``FileNotFoundError`` when ``path`` is missing.
    """
    path = Path(path)

    def fail(message: str) -> Exception:
        return error(f"{path}: {message}")

    try:
        with zipfile.ZipFile(path) as zf:
            if check_names is not None:
                names = [i.filename.removesuffix(".npy") for i in zf.infolist()]
                reason = check_names(names)
                if reason:
                    raise fail(reason)
            return _read_entries(zf, accept, check, max_bytes, fail)
    except FileNotFoundError:
        raise
    except zipfile.BadZipFile as exc:
        raise fail(f"not a readable .npz archive ({_first_line(exc)})") from None
    except (OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise fail(f"unreadable archive ({_first_line(exc)})") from None


def _read_entries(zf: zipfile.ZipFile, accept, check, max_bytes: int, fail) -> dict[str, np.ndarray]:
    infos = zf.infolist()
    twice = sorted(n for n, c in Counter(i.filename for i in infos).items() if c > 1)
    if twice:
        raise fail(f"the entry {twice[0]!r} appears more than once (a tampered archive)")
    plan = []
    for info in infos:
        if not info.filename.endswith(".npy") or info.is_dir():
            raise fail(f"unexpected entry {info.filename!r} (an .npz holds only .npy arrays)")
        name = info.filename[:-4]
        if not accept(name):
            raise fail(f"unexpected entry {name!r}")
        if info.flag_bits & 0x1:
            raise fail(f"entry {name!r} is encrypted")
        plan.append((name, info))
    total = sum(info.file_size for _, info in plan)
    if total > max_bytes:
        raise fail(f"its arrays would take {total:,} bytes, more than the {max_bytes:,} allowed")
    headers = {}
    for name, info in plan:  # every header before any payload
        with zf.open(info) as f:
            shape, fortran, dtype = _header(f, name, fail)
            header_len = f.tell() if hasattr(f, "tell") else None
        nbytes = math.prod(shape) * dtype.itemsize
        if header_len is None or info.file_size != header_len + nbytes:
            raise fail(f"entry {name!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) "
                       f"but holds {info.file_size - (header_len or 0):,} bytes")
        reason = check(name, shape, dtype) if check is not None else None
        if reason:
            raise fail(reason)
        headers[name] = (shape, fortran, dtype)
    return {name: _read_payload(zf, info, *headers[name], fail) for name, info in plan}


def _read_payload(zf, info, shape, fortran, dtype, fail) -> np.ndarray:
    name = info.filename[:-4]
    out = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    view = memoryview(out.reshape(-1).view(np.uint8)) if out.size else memoryview(b"")
    with zf.open(info) as f:
        _header(f, name, fail)  # skip it again (already checked)
        filled = 0
        while filled < len(view):
            n = f.readinto(view[filled:filled + CHUNK_BYTES])
            if not n:
                raise fail(f"entry {name!r} is truncated")
            filled += n
        if f.read(1):
            raise fail(f"entry {name!r} has bytes after its array")
    return out.T if fortran else out
