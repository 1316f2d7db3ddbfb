"""Cancellable background jobs: the worker side and the GUI-side handle.

Only :class:`cnnlab.app.session.Session` creates the threads these run on.
A job is a plain function ``fn(ctx) -> result`` that calls ``ctx.report(obj)``
to publish progress and checks ``ctx.should_stop()`` between steps.

Lifetime: a job ends when its result has been handed to the views (its ``done`` signal);
the session then joins the thread and deletes the job, so nothing it computed or captured
stays reachable unless a view kept it on purpose. Views must not keep the ``Job`` itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

#: At most this many progress signals per second reach the GUI (STYLE.md: ~20/s).
MAX_REPORTS_PER_S = 20.0


class JobKind(Enum):
    """What a job does; the app tells jobs apart by kind (or by the ``Job`` object),
    never by their display name."""

    TRAINING = "training"
    DATASET = "dataset"  # downloading or parsing a dataset
    ANALYSIS = "analysis"
    SWEEP = "sweep"
    DATA_SIZE = "data size"
    RECOVERY = "kernel recovery"
    MODEL = "model"  # building a network
    OTHER = "job"


@dataclass(frozen=True)
class JobProgress:
    """Generic progress: ``done`` of ``total`` units (``total`` 0 when unknown), and the
    seconds left when the job knows better than an extrapolation (``eta_s``)."""

    done: float
    total: float
    text: str = ""
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total > 0 else 0.0


class JobCancelled(Exception):
    """Raised by a job function that stops because it was asked to."""


class JobContext:
    """What a job function sees: throttled reporting and the cancel flag."""

    def __init__(self, emit: Callable[[object], None], cancel_event: threading.Event,
                 max_rate: float = MAX_REPORTS_PER_S):
        self._emit = emit
        self._cancel = cancel_event
        self._interval = 1.0 / max_rate
        self._last = float("-inf")  # the first report always goes out
        self._pending: object | None = None
        self._lock = threading.Lock()

    def should_stop(self) -> bool:
        """True once the user asked to cancel; check it between steps."""
        return self._cancel.is_set()

    def report(self, obj: object, force: bool = False) -> None:
        """Publish ``obj`` (an immutable report). Reports closer than 1/20 s are
        coalesced: only the latest one is kept and sent with the next report;
        ``force=True`` sends at once (epoch ends, final results)."""
        now = time.perf_counter()
        with self._lock:
            if force or now - self._last >= self._interval:
                pending, self._pending = self._pending, None
                self._last = now
            else:
                self._pending = obj
                return
        if force and pending is not None:
            self._emit(pending)
        self._emit(obj)

    def progress(self, done: float, total: float, text: str = "", eta_s: float | None = None) -> None:
        """Shorthand for ``report(JobProgress(done, total, text, eta_s))``."""
        self.report(JobProgress(done, total, text, eta_s), force=total > 0 and done >= total)

    def flush(self) -> None:
        """Send a coalesced report still waiting, if any."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._emit(pending)


#: how much lower a job thread's CPU priority is than the window's (Linux nice steps)
JOB_NICENESS = 10


def yield_to_the_window() -> None:
    """Lower the calling thread's CPU priority by ``JOB_NICENESS`` (threads it starts
    inherit it): when a job keeps every core busy (a sweep trains one network per core),
    the window's thread still gets a core as soon as it wakes. Linux only, where a thread
    has its own nice value; elsewhere, or when not allowed, nothing happens."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + JOB_NICENESS))
    except OSError:
        pass


class JobWorker(QObject):
    """Runs one job function on the thread it was moved to."""

    progress = pyqtSignal(object)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str, str)  # message, traceback
    cancelled = pyqtSignal(object)  # partial result or None

    def __init__(self, fn: Callable[[JobContext], Any]):
        super().__init__()
        self._fn = fn
        self.cancel_event = threading.Event()
        self.context = JobContext(self.progress.emit, self.cancel_event)

    @pyqtSlot()
    def run(self) -> None:
        fn, self._fn = self._fn, None  # the closure (data, models) dies with this frame
        yield_to_the_window()
        try:
            result = fn(self.context)
        except JobCancelled:
            self.context.flush()
            self.cancelled.emit(None)
        except Exception as exc:  # shown to the user; the app keeps running
            self.context.flush()
            if self.cancel_event.is_set():
                self.cancelled.emit(None)
            else:
                self.failed.emit(_describe(exc), traceback.format_exc())
        else:
            self.context.flush()
            if self.cancel_event.is_set():
                self.cancelled.emit(result)
            else:
                self.finished.emit(result)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Job(QObject):
    """GUI-side handle of a running job. Connect to its signals; call ``cancel()``.

    Exactly one of ``finished``, ``failed`` or ``cancelled`` fires, then ``done``; after
    ``done`` the session deletes the job (``deleteLater``), so slots must copy what they
    need from the result and never keep the job.

    Progress: ``fraction`` (0…1, None until known), ``detail`` (the latest text) and
    ``eta_s`` (seconds left, None until it can be estimated); ``progress_changed`` fires
    when they change. ``JobProgress`` reports update them by themselves; other reports
    (training batches, recovery steps) are turned into ``set_progress`` calls by whoever
    understands them. A job that finishes ends at 100 %.
    """

    progress = pyqtSignal(object)
    progress_changed = pyqtSignal()
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal(object)
    done = pyqtSignal()

    def __init__(self, name: str, worker: JobWorker, parent: QObject | None = None,
                 kind: JobKind = JobKind.OTHER):
        super().__init__(parent)
        self.name = name
        self.kind = kind
        self._cancel_event = worker.cancel_event
        self.running = True
        self.error: str | None = None
        self.traceback: str | None = None
        self.result: object = None
        self.started = time.perf_counter()
        self.fraction: float | None = None
        self.detail = ""
        self.eta_s: float | None = None
        worker.progress.connect(self.progress)
        worker.progress.connect(self._on_report)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    def cancel(self) -> None:
        """Ask the job to stop at its next check (thread-safe, idempotent)."""
        self._cancel_event.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_event.is_set()

    def set_progress(self, fraction: float | None, detail: str | None = None,
                     eta_s: float | None = None) -> None:
        """Record progress (GUI thread). Without ``eta_s`` the time left is extrapolated
        from the time so far, once 1 % is done and a second has passed."""
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
        self.fraction = fraction
        if detail is not None:
            self.detail = detail
        if eta_s is None and fraction:
            elapsed = time.perf_counter() - self.started
            if fraction >= 1.0:
                eta_s = 0.0
            elif fraction >= 0.01 and elapsed >= 1.0:
                eta_s = elapsed * (1.0 - fraction) / fraction
        self.eta_s = eta_s
        self.progress_changed.emit()

    def _on_report(self, report: object) -> None:
        if isinstance(report, JobProgress):
            self.set_progress(report.fraction if report.total > 0 else self.fraction,
                              report.text or None, report.eta_s)

    def _end(self) -> None:
        self.running = False
        self.done.emit()

    def _on_finished(self, result: object) -> None:
        self.result = result
        self.set_progress(1.0, eta_s=0.0)  # every finished job ends at 100 %
        self.finished.emit(result)
        self._end()

    def _on_failed(self, message: str, tb: str) -> None:
        self.error, self.traceback = message, tb
        self.failed.emit(message)
        self._end()

    def _on_cancelled(self, partial: object) -> None:
        self.result = partial
        self.cancelled.emit(partial)
        self._end()
