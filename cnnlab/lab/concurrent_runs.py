"""Independent training runs (sweep cells, data-size points), several at once.

A sweep trains networks that share nothing. When BLAS runs on one thread (the app leaves a
core for the window, so on a 2-core laptop BLAS gets one), a run's matrix products use one
core; training two runs at once uses both and nearly halves the sweep. NumPy releases the
GIL inside its products and copies, so the runs' threads really run in parallel. Results do
not depend on it: every run is seeded by itself and computed by the same operations, and
results are handed on in run order.

    results, stopped = run_all(tasks, workers=2, on_update=..., on_result=..., should_stop=...)

``tasks[i](report, stop)`` trains run ``i``: it calls ``report(done, batch_report)`` after
every batch (``done``: the fraction of this run finished), polls ``stop()`` and returns its
result, or None when it stopped early. ``on_update(i, done, batch_report)`` and
``on_result(i, result)`` are called on the calling thread (the job's), results in index
order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from cnnlab.engine import parallel

#: how often the calling thread hands on progress while runs train (seconds)
POLL_SECONDS = 0.05


def concurrent_runs(n_runs: int) -> int:
    """How many of ``n_runs`` runs to train at once: one per usable core when BLAS (and the
    engine's batch passes) run on one thread; else one, as BLAS already uses the cores."""
    if parallel.threads() > 1:
        return 1
    return max(1, min(n_runs, parallel.usable_cores()))


def run_all(tasks: Sequence[Callable], workers: int, *,
            on_update: Callable | None = None, on_result: Callable | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[list, bool]:
    """Run ``tasks`` (see the module docstring), ``workers`` at a time, in index order
    (one worker: on this thread, so updates arrive as they happen). Returns
    ``(results, stopped)``: ``results[i]`` is None for a run that did not finish. An error
    in one run stops the others and is raised here."""
    runner = _Runner(tasks, on_update, on_result, should_stop)
    return runner.run(max(1, workers), range(len(tasks)))


class _Runner:
    def __init__(self, tasks, on_update, on_result, should_stop):
        self.tasks, self.on_update, self.on_result = tasks, on_update, on_result
        self.should_stop = should_stop
        self.results: list = [None] * len(tasks)
        self.finished = [False] * len(tasks)
        self.emitted = 0  # results handed on so far: all of 0..emitted-1
        self.failed = threading.Event()
        self.updates: queue.SimpleQueue = queue.SimpleQueue()

    def stop(self) -> bool:
        return self.failed.is_set() or (self.should_stop is not None and bool(self.should_stop()))

    def _start(self, i: int):  # on a pool thread
        if self.stop():  # a queued run that was never started
            return None
        return self.tasks[i](lambda done, report: self.updates.put((i, done, report)), self.stop)

    def run(self, workers: int, order) -> tuple[list, bool]:
        if workers == 1:  # one at a time, on this thread: updates arrive as they happen
            for i in order:
                if self.stop():
                    break
                self._finish(i, self.tasks[i](lambda done, report, i=i: self._update(i, done, report),
                                              self.stop))
            return self._end()
        error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnlab-run") as pool:
            futures = {pool.submit(self._start, i): i for i in order}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                self._hand_on_updates()
                for future in done:
                    try:
                        self._finish(futures[future], future.result())
                    except BaseException as exc:  # re-raised below, once the others stopped
                        self.failed.set()
                        error = error or exc
        self._hand_on_updates()
        if error is not None:
            raise error
        return self._end()

    def _end(self) -> tuple[list, bool]:
        for i in range(self.emitted, len(self.tasks)):  # stopped: runs finished after a gap
            if self.finished[i] and self.on_result is not None:
                self.on_result(i, self.results[i])
        return self.results, not all(self.finished)

    def _finish(self, i: int, result) -> None:
        self.results[i], self.finished[i] = result, result is not None
        while self.emitted < len(self.tasks) and self.finished[self.emitted]:  # index order
            if self.on_result is not None:
                self.on_result(self.emitted, self.results[self.emitted])
            self.emitted += 1

    def _hand_on_updates(self) -> None:
        while True:
            try:
                i, done, report = self.updates.get_nowait()
            except queue.Empty:
                return
            if not self.stop():  # once stopping, progress queued earlier is stale
                self._update(i, done, report)

    def _update(self, i: int, done: float, report) -> None:
        if self.on_update is not None:
            self.on_update(i, done, report)
