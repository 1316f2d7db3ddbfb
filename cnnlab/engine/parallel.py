"""Batch-parallel element-wise passes: the copies and comparisons around the matrix products.

BLAS runs the matrix products on every thread it was given, but everything else NumPy does
(im2col's copies, col2im's adds, ReLU, pooling) runs on one core. On a 2-core machine that
single-threaded half was most of a LeNet-sized step. NumPy releases the GIL inside its
copy and ufunc loops, so splitting such a pass over batch slices and running the slices on
a few threads uses every core, with the same results bit for bit (each image's numbers are
computed by the same operations, just by another thread)::

    parallel.over_batch(n, x.size, lambda a, b: np.maximum(x[a:b], 0, out=y[a:b]))

The thread count follows BLAS's (``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``, else the
usable cores); :func:`set_threads` changes it. With one thread nothing is split.

OpenBLAS's idle workers spin for a while after each product before they sleep, taking the
core a slice thread needs; importing ``cnnlab`` before NumPy asks for a short spin
(``OPENBLAS_THREAD_TIMEOUT``, see ``cnnlab/__init__.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

#: a pass smaller than this many elements runs on the calling thread: handing it to a
#: thread costs ~20-50 µs, more than the pass itself
MIN_ELEMENTS = 1 << 19

_threads: int | None = None
_pool: ThreadPoolExecutor | None = None


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _default_threads(environ=os.environ) -> int:
    for name in ("CNNLAB_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return usable_cores()


def threads() -> int:
    """How many threads a batch pass is split over (1: no splitting)."""
    global _threads
    if _threads is None:
        _threads = min(_default_threads(), 64)
    return _threads


def set_threads(n: int) -> None:
    """Split batch passes over ``n`` threads from now on (1 turns splitting off)."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
        raise ValueError(f"threads must be an int from 1 to 64, got {n!r}")
    if n == _threads:
        return
    _threads = n
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def _get_pool(workers: int) -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnlab-batch")
    return _pool


def over_batch(n: int, elements: int, work) -> None:
    """Call ``work(start, stop)`` on slices that cover ``range(n)``: in parallel, one
    slice per thread, when the pass touches at least ``MIN_ELEMENTS`` ``elements``;
    otherwise once as ``work(0, n)`` on this thread. ``work`` must only write its own
    slice. The calling thread runs the last slice itself; errors are re-raised here."""
    parts = min(threads(), n)
    if parts < 2 or elements < MIN_ELEMENTS:
        work(0, n)
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    pool = _get_pool(parts - 1)
    futures = [pool.submit(work, bounds[i], bounds[i + 1]) for i in range(parts - 1)]
    try:
        work(bounds[-2], bounds[-1])
    finally:
        for future in futures:
            future.result()  # waits for every slice, then raises the first error

