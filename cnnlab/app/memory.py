"""Giving freed memory back to the operating system.

NumPy frees its big arrays straight back to the system, but the many medium-sized
temporaries of a training run, an evaluation or a file parse live in the C heap, and glibc
keeps freed heap pages mapped: the process's resident size (what the user and the OS see)
then stays at its high-water mark long after a job or a dataset is gone. ``malloc_trim``
returns them; it takes about a millisecond. Elsewhere (macOS, Windows, musl) it is a no-op.
"""

from __future__ import annotations

import ctypes
import gc
import sys


def _find_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _find_malloc_trim()


def give_back_freed_memory(collect: bool = False) -> None:
    """Return freed heap pages to the OS (glibc); ``collect=True`` first runs the garbage
    collector (tens of milliseconds: for rare events such as replacing the dataset)."""
    if collect:
        gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
