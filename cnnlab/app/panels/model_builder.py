"""Turning the designed network into the session's model, without stalling the window.

:class:`ModelBuilder` owns the whole build pipeline once: a quiet-moment timer after edits
(spin-box arrows repeat), a *generation* number that makes a build of an older design
stale, small networks built right away on the GUI thread and big ones in a session job,
and one place that shows a failed build on the designer instead of training a stale model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from cnnlab.app.jobs import JobKind
from cnnlab.lab.network_design import NetworkDesign
from cnnlab.lab.presets import build as build_specs

if TYPE_CHECKING:
    from cnnlab.app.session import Session

#: Models up to this many parameters are built on the GUI thread (≈ 60 ns per weight,
#: so ≤ ~40 ms); bigger ones are built in a job so the window never stalls.
SYNC_BUILD_PARAMS = 600_000
#: Quiet time after the last edit before the model is rebuilt.
BUILD_DELAY_MS = 250


class ModelBuilder(QObject):
    """Builds ``design`` (with the seed from ``seed()``) and hands the model to the session.

    Signals: ``failed(str)`` with the reason a build failed (the design stays invalid for
    training: the session is told), ``busy(bool)`` while a build job runs. ``error`` and
    ``error_row`` keep that reason (and the row it names) until the design changes, so a
    later re-check of the design cannot forget it and let Train use the previous model."""

    failed = pyqtSignal(str)
    busy = pyqtSignal(bool)

    def __init__(self, session: Session, design: NetworkDesign, seed: Callable[[], int],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.design, self.seed = session, design, seed
        self.built = None  # the last model this builder gave the session
        self.generation = 0
        self.error: str | None = None  # why the current design's build failed
        self.error_row: int | None = None  # the layer that message names, if any
        self.job = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(BUILD_DELAY_MS)
        self.timer.timeout.connect(self.build_now)

    @property
    def pending(self) -> bool:
        """An edit is waiting for its build (the timer or a job)."""
        return self.timer.isActive() or self.job is not None

    def schedule(self) -> None:
        """Build after a quiet moment (if the design is valid)."""
        self.generation += 1  # a build job still running is now stale
        self.forget_failure()
        if self.design.error:
            self.timer.stop()
        else:
            self.timer.start()

    def cancel(self) -> None:
        self.timer.stop()
        self.generation += 1
        self.forget_failure()

    def forget_failure(self) -> None:
        """The design changed: the last build's failure no longer describes it."""
        self.error = self.error_row = None

    def build_now(self) -> None:
        """Build now (small nets here, big ones in a job). Does nothing while the design is
        invalid or training runs."""
        self.timer.stop()
        if self.design.error or self.session.is_training:
            return
        specs, shape = self.design.snapshot()
        name, seed, generation = f"{self.design.name} (untrained)", self.seed(), self.generation
        if self.design.n_params <= SYNC_BUILD_PARAMS:
            self._build_here(name, generation)
            return
        if self.job is not None:
            self.job.cancel()
        self.busy.emit(True)
        job = self.session.run_job("build model", lambda ctx: build_specs(specs, shape, seed=seed),
                                   JobKind.MODEL)
        job.finished.connect(lambda model: self._install(model, name, generation))
        job.failed.connect(lambda reason: self._failed(reason, generation))
        job.done.connect(lambda: self._job_done(job))
        self.job = job

    def flush(self) -> None:
        """Training is about to start: an edit still waiting for its build is built now,
        synchronously, so Train uses what is shown."""
        if not self.pending:
            return
        self.timer.stop()
        if self.job is not None:
            self.job.cancel()
        self.generation += 1
        if self.design.error or self.session.is_training:
            return
        self._build_here(f"{self.design.name} (untrained)", self.generation)

    def _build_here(self, name: str, generation: int) -> None:
        try:
            model = self.design.build(seed=self.seed())
        except (ValueError, MemoryError) as exc:
            self._failed(str(exc) or type(exc).__name__, generation)
            return
        self._install(model, name, generation)

    def _failed(self, reason: str, generation: int) -> None:
        if generation != self.generation:
            return  # the design changed since: this failure is about an older one
        message = f"Could not build the network: {reason}"
        found = re.search(r"\b[A-Za-z0-9]+ #(\d+)\b", reason)  # "Conv2D #0: …" names the row
        row = int(found.group(1)) if found else None
        self.error = message
        self.error_row = row if row is not None and row < len(self.design.specs) else None
        self.session.set_architecture_error(message)
        self.failed.emit(message)

    def _job_done(self, job) -> None:
        if self.job is job:
            self.job = None
            self.busy.emit(False)

    def _install(self, model, name: str, generation: int) -> None:
        if generation != self.generation or self.design.error:
            return  # the design changed while this one was being built
        self.built = model
        self.forget_failure()
        try:
            self.session.set_model(model, name)
        except RuntimeError as exc:  # training started meanwhile
            self.failed.emit(str(exc))
