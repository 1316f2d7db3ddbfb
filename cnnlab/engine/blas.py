"""One BLAS thread for work too small to share: ``with one_blas_thread(): ...``.

BLAS splits every large enough matrix product over its threads. For one image through a
LeNet-sized model the products are a fraction of a millisecond each, and waking the other
threads and waiting for them costs more than it saves: measured on 2 cores, a single-image
prediction took 1.4 ms with two threads and 0.9 ms with one. NumPy's OpenBLAS can change its
thread count at run time (``openblas_set_num_threads_local``; in its pthreads build the
setting is in fact process-wide, so blocks on several threads are counted: the first one in
sets one thread, the last one out restores the count). A training job running meanwhile
uses one thread for that millisecond. With another BLAS, or where the call is missing,
this does nothing.
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_setter = None
_looked = False
_inside = 0  # blocks running now, over all threads
_saved = 0  # the thread count to restore when the last one ends


def _find_setter():
    """``openblas_set_num_threads_local`` of the OpenBLAS this process loaded, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:  # not Linux
        return None
    for path in sorted(paths):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = (ctypes.c_int,), ctypes.c_int
        return fn
    return None


def _get_setter():
    global _setter, _looked
    with _lock:
        if not _looked:
            import numpy  # noqa: F401  (OpenBLAS is loaded with NumPy)

            _setter, _looked = _find_setter(), True
    return _setter


@contextmanager
def one_blas_thread():
    """Run the block's matrix products on one thread (when the BLAS allows it)."""
    global _inside, _saved
    setter = _get_setter()
    if setter is None:
        yield
        return
    with _lock:
        if _inside == 0:
            _saved = setter(1)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                setter(_saved)


def available() -> bool:
    """True when :func:`one_blas_thread` can change anything here."""
    return _get_setter() is not None
