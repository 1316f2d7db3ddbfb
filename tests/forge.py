"""Helpers shared by the hardening tests: forged zip/npy files and a memory budget check."""

import io
import tracemalloc
import zipfile

import numpy as np

#: bytes one read of a small forged file may allocate (the valid files are tiny)
BUDGET = 24 << 20


def npz_with(path, entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED):
    """A zip whose entries are raw bytes (to forge headers, sizes and duplicate names)."""
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def npy(arr) -> bytes:
    """``arr`` as the bytes of a ``.npy`` file."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr))
    return buf.getvalue()


def within_budget(call, allowed: type[BaseException] | tuple, budget: int = BUDGET):
    """Run ``call``: it may succeed or raise ``allowed``; its allocation peak (tracemalloc)
    must stay under ``budget``. Returns ``(result, None)`` or ``(None, the error)``."""
    tracemalloc.start()
    result = error = None
    try:
        result = call()
    except allowed as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < budget, f"allocated {peak:,} bytes"
    return result, error
