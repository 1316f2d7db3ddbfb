"""Writing ``.npz`` archives atomically and byte-for-byte reproducibly.

``numpy.savez_compressed`` stamps each member with the current time, so two runs of the
same build give different bytes (and different SHA-256s in PROVENANCE.md). Here every
member gets a fixed timestamp, and the archive is written to a temporary file in the
target folder and moved into place with ``os.replace`` so a crash never leaves half a file.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from cnnlab.files import write_bytes_atomically

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip header can hold


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``
    (creating the folder); see :func:`cnnlab.files.write_atomically`."""
    return write_bytes_atomically(path, data)


def npz_bytes(arrays: dict[str, np.ndarray], compress: bool = True) -> bytes:
    """The bytes of an ``.npz`` holding ``arrays`` (readable by ``np.load``, no pickles).

    Object arrays are refused: they would need ``allow_pickle=True`` to read back.
    """
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, value in arrays.items():
            arr = np.asanyarray(value)
            if arr.dtype.hasobject:
                raise ValueError(f"npz member {name!r}: object arrays cannot be saved without pickling")
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], compress: bool = True) -> Path:
    """Save ``arrays`` as an ``.npz`` at ``path``, atomically and reproducibly."""
    return atomic_write_bytes(path, npz_bytes(arrays, compress=compress))
