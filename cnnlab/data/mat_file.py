"""A small reader for MATLAB level-5 ``.mat`` files (what ``save`` writes up to -v7).

Only numeric, real, full matrices are read; other variables (cells, structs, text,
sparse) are skipped. Written from the published format ("MAT-File Format", MathWorks):

- a 128-byte header: text, subsystem offset, version 0x0100 and the endian mark ``IM``/``MI``;
- then data elements, each an 8-byte tag ``(type, nbytes)`` (or a 4-byte "small" tag with
  the data packed beside it) padded to 8 bytes; ``miCOMPRESSED`` (15) holds one element
  deflated with zlib; ``miMATRIX`` (14) holds flags, dimensions, a name and the values,
  stored column-major and possibly in a smaller type than the array's class.

Nothing is trusted: dimensions are checked against ``max_values`` before allocating,
the value bytes must match the dimensions exactly, and compressed elements are inflated
as a stream, never beyond what they declare. Every problem is a DatasetError.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from cnnlab.data.errors import DatasetError
from cnnlab.data.streams import CHUNK_BYTES, short

MI_MATRIX, MI_COMPRESSED = 14, 15
# MAT data types -> NumPy element types (byte order applied per file)
MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8",
            12: "i8", 13: "u8"}
NUMERIC_CLASSES = set(range(6, 16))  # mxDOUBLE .. mxUINT64
MAX_NAME = 64


class _Stream:
    """Read exactly n bytes from a file region, inflating it when compressed."""

    def __init__(self, f, nbytes: int, compressed: bool, name: str):
        self.f, self.left, self.name = f, nbytes, name
        self.inflater = zlib.decompressobj() if compressed else None
        self.pending = b""

    def _raw(self, n: int) -> bytes:
        data = self.f.read(min(n, self.left))
        self.left -= len(data)
        return data

    def read(self, n: int) -> bytes:
        if self.inflater is None:
            data = self._raw(n)
        else:
            parts, have = [self.pending], len(self.pending)
            while have < n:
                chunk = self.inflater.unconsumed_tail or self._raw(CHUNK_BYTES)
                if not chunk:
                    break
                try:
                    out = self.inflater.decompress(chunk, n - have)
                except zlib.error as exc:
                    raise DatasetError(f"{self.name}: damaged compressed data ({short(exc)})") from None
                parts.append(out)
                have += len(out)
                if self.inflater.eof:
                    break
            data = b"".join(parts)
            data, self.pending = data[:n], data[n:]
        if len(data) != n:
            raise DatasetError(f"{self.name}: truncated: a variable ends early")
        return data

    def readinto(self, view: memoryview) -> None:
        done = 0
        while done < len(view):
            n = min(CHUNK_BYTES, len(view) - done)
            view[done:done + n] = self.read(n)
            done += n


def _tag(stream, order: str) -> tuple[int, int, bytes | None]:
    """(type, nbytes, small-element data or None)."""
    head = stream.read(8)
    first, second = struct.unpack(order + "II", head)
    if first >> 16:  # small data element: type and size in 4 bytes, data in the next 4
        return first & 0xFFFF, first >> 16, head[4:4 + (first >> 16)]
    return first, second, None


def _sub(stream, order: str, name: str, cap: int) -> tuple[int, bytes]:
    kind, nbytes, small = _tag(stream, order)
    if small is not None:
        return kind, small
    if nbytes > cap:
        raise DatasetError(f"{name}: a variable header declares {nbytes:,} bytes")
    data = stream.read(nbytes)
    stream.read((-nbytes) % 8)
    return kind, data


def _matrix(stream, order: str, name: str, max_values: int, wanted):
    """(variable name, array or None when skipped) for one miMATRIX body."""
    _, flags = _sub(stream, order, name, 64)
    if len(flags) < 8:
        raise DatasetError(f"{name}: damaged array flags")
    flag_word = struct.unpack(order + "I", flags[:4])[0]
    cls, is_complex = flag_word & 0xFF, bool(flag_word & 0x800)
    kind, dims_raw = _sub(stream, order, name, 4 * 32)
    if kind != 5 or len(dims_raw) % 4 or not dims_raw:
        raise DatasetError(f"{name}: damaged dimensions")
    dims = struct.unpack(f"{order}{len(dims_raw) // 4}i", dims_raw)
    if any(d < 0 for d in dims):
        raise DatasetError(f"{name}: negative dimensions {dims}")
    _, raw_name = _sub(stream, order, name, MAX_NAME)
    var = raw_name.decode("latin-1")
    if cls not in NUMERIC_CLASSES or is_complex or (wanted is not None and var not in wanted):
        return var, None
    count = math.prod(dims)
    if count > max_values:
        raise DatasetError(f"{name}: variable {var!r} declares {'x'.join(map(str, dims))} values "
                           f"({count:,}); at most {max_values:,} are read")
    dkind, nbytes, small = _tag(stream, order)
    if dkind not in MI_TYPES:
        raise DatasetError(f"{name}: variable {var!r} has unknown value type {dkind}")
    dtype = np.dtype(MI_TYPES[dkind]).newbyteorder(order)
    if nbytes != count * dtype.itemsize:
        raise DatasetError(f"{name}: variable {var!r} declares {'x'.join(map(str, dims))} "
                           f"values but holds {nbytes:,} bytes of {dtype.name}")
    out = np.empty(count, dtype=dtype)
    if small is not None:
        out.view(np.uint8)[:] = np.frombuffer(small[:nbytes], np.uint8)
    elif count:
        stream.readinto(memoryview(out.view(np.uint8)))
    # column-major on disk: the transpose is a view (no copy), so a (784, N) image matrix
    # read back as (N, 784) by the caller is C-contiguous without ever being copied
    out = out.reshape(dims[::-1]).transpose()
    return var, out.astype(dtype.newbyteorder("="), copy=False)


def read_mat(path: str | os.PathLike, wanted: set[str] | None = None, *,
             max_values: int, seen: list[str] | None = None) -> dict[str, np.ndarray]:
    """The numeric matrices of a level-5 ``.mat`` file by name (only ``wanted`` ones when
    given), each with at most ``max_values`` values. ``seen`` collects every variable name."""
    path = Path(path)
    name = str(path)
    try:
        with open(path, "rb") as f:
            header = f.read(128)
            if len(header) < 128 or not header.startswith(b"MATLAB"):
                raise DatasetError(f"{name}: not a MATLAB 5 .mat file (no 'MATLAB' header)")
            if header.startswith(b"MATLAB 7.3") or header[126:128] not in (b"IM", b"MI"):
                raise DatasetError(f"{name}: MATLAB v7.3 (HDF5) files are not supported; "
                                   "re-save with save(..., '-v7')")
            order = "<" if header[126:128] == b"IM" else ">"
            size = os.fstat(f.fileno()).st_size
            found: dict[str, np.ndarray] = {}
            while f.tell() + 8 <= size:
                kind, nbytes = struct.unpack(order + "II", f.read(8))
                start = f.tell()
                if nbytes > size - start:
                    raise DatasetError(f"{name}: truncated: an element declares {nbytes:,} bytes "
                                       f"but {size - start:,} remain")
                if kind in (MI_MATRIX, MI_COMPRESSED):
                    stream = _Stream(f, nbytes, kind == MI_COMPRESSED, name)
                    if kind == MI_COMPRESSED:
                        inner, _, _ = _tag(stream, order)
                        if inner != MI_MATRIX:
                            f.seek(start + nbytes)
                            continue
                    var, arr = _matrix(stream, order, name, max_values, wanted)
                    if seen is not None:
                        seen.append(var)
                    if arr is not None:
                        if var in found:
                            raise DatasetError(f"{name}: variable {var!r} appears twice")
                        found[var] = arr
                f.seek(start + nbytes + (0 if kind == MI_COMPRESSED else (-nbytes) % 8))
            return found
    except DatasetError:
        raise
    except (OSError, struct.error, ValueError, EOFError) as exc:
        raise DatasetError(f"{name}: not a readable MATLAB file ({short(exc)})") from None
