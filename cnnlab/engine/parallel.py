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
import threading

#: a pass smaller than this many elements runs on the calling thread: handing a slice to a
#: helper and waiting for it costs 20-100 µs on a busy VM, more than such a pass saves
MIN_ELEMENTS = 1 << 19

_threads: int | None = None
_helpers: list[_Helper] = []
_busy = threading.Lock()  # held while one caller uses the helpers


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
    global _threads
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
        raise ValueError(f"threads must be an int from 1 to 64, got {n!r}")
    if n == _threads:
        return
    with _busy:
        _threads = n
        for helper in _helpers:
            helper.stop()
        _helpers.clear()


class _Helper:
    """A thread that runs one slice at a time: ``start(task)`` hands it over, ``join()``
    waits for it and re-raises its error. Two plain locks pass the baton: no Future, queue
    or condition per slice as in a ``concurrent.futures`` round trip (measured on a quiet
    2-vCPU VM: a median 22 µs against 84 µs; both near 100 µs when the host is busy)."""

    def __init__(self):
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._task = self._error = None
        threading.Thread(target=self._run, name="cnnlab-batch", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            task, self._task = self._task, None
            if task is None:  # stop()
                return
            try:
                task()
            except BaseException as error:  # handed to join()
                self._error = error
            self._done.release()

    def start(self, task) -> None:
        self._task = task
        self._go.release()

    def join(self) -> None:
        self._done.acquire()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def stop(self) -> None:
        self._task = None
        self._go.release()


def over_batch(n: int, elements: int, work) -> None:
    """Call ``work(start, stop)`` on slices that cover ``range(n)``: in parallel, one
    slice per thread, when the pass touches at least ``MIN_ELEMENTS`` ``elements``;
    otherwise once as ``work(0, n)`` on this thread. ``work`` must only write its own
    slice. The calling thread runs the last slice itself; errors are re-raised here.
    While another thread is using the helpers, the pass runs whole on this one."""
    parts = min(threads(), n)
    if parts < 2 or elements < MIN_ELEMENTS or not _busy.acquire(blocking=False):
        work(0, n)
        return
    try:
        while len(_helpers) < parts - 1:
            _helpers.append(_Helper())
        bounds = [n * i // parts for i in range(parts + 1)]
        started = []
        try:
            for i in range(parts - 1):
                _helpers[i].start(lambda a=bounds[i], b=bounds[i + 1]: work(a, b))
                started.append(_helpers[i])
            work(bounds[-2], bounds[-1])
        finally:
            errors = []
            for helper in started:  # wait for every slice, then raise the first error
                try:
                    helper.join()
                except BaseException as error:
                    errors.append(error)
        if errors:
            raise errors[0]
    finally:
        _busy.release()
