"""What the Sweeps and Data size views share: the training-settings form, value lists
typed by the user, and a base view that runs one training job at a time."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.jobs import Job, JobKind
from cnnlab.app.panels.experiment_widgets import JobControls, model_problem
from cnnlab.app.panels.optimizer_fields import OptimizerFields
from cnnlab.app.widgets import LogSpinBox
from cnnlab.lab.sweeps import SWEEP_DEFAULTS, Progress
from cnnlab.lab.training import TrainingConfig

if TYPE_CHECKING:
    from cnnlab.app.session import Session


def parse_values(text: str, what: str, integer: bool = False, positive: bool = True) -> list:
    """``"0.001, 0.01 0.1"`` → ``[0.001, 0.01, 0.1]`` (commas or spaces). Raises
    ``ValueError`` naming ``what`` and the bad entry."""
    parts = [p for p in text.replace(";", ",").replace(",", " ").split() if p]
    if not parts:
        raise ValueError(f"{what}: enter at least one value")
    values = []
    for part in parts:
        try:
            v = float(part)
        except ValueError:
            raise ValueError(f"{what}: {part!r} is not a number") from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise ValueError(f"{what}: {part} must be {'> 0' if positive else '≥ 0'}")
        if integer:
            if v != int(v):
                raise ValueError(f"{what}: {part} must be a whole number")
            v = int(v)
        values.append(v)
    if len(set(values)) != len(values):
        raise ValueError(f"{what}: a value is repeated")
    return values


class TrainSettingsForm(QWidget):
    """Optimizer (and its hyper-parameters), learning rate, batch size, L2 λ, epochs,
    validation fraction and seed, as a :class:`cnnlab.lab.training.TrainingConfig`
    (defaults: :data:`cnnlab.lab.sweeps.SWEEP_DEFAULTS`). ``set_swept(names)`` disables the
    fields a sweep sets itself."""

    def __init__(self, epochs: int = 1, validation: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        d = SWEEP_DEFAULTS
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.optimizer_fields = OptimizerFields(self.form, d.optimizer, dict(d.hyper))
        self.optimizer = self.optimizer_fields.combo
        self.lr = LogSpinBox(1e-6, 10.0, d.lr)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(d.batch_size)
        self.l2 = QDoubleSpinBox()
        self.l2.setDecimals(6)
        self.l2.setRange(0.0, 10.0)
        self.l2.setSingleStep(1e-4)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(epochs)
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.05, 0.5)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(d.val_fraction)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.form.addRow("learning rate", self.lr)
        self.form.addRow("batch size", self.batch_size)
        self.form.addRow("L2 λ", self.l2)
        self.form.addRow("epochs", self.epochs)
        if validation:
            self.form.addRow("validation fraction", self.val_fraction)
        else:
            self.val_fraction.hide()
        self.form.addRow("seed", self.seed)
        self._fields = {"lr": self.lr, "batch_size": self.batch_size, "l2": self.l2,
                        **{h: box for (_o, h), box in self.optimizer_fields.boxes.items()}}

    def set_swept(self, names) -> None:
        for name, widget in self._fields.items():
            swept = name in names
            widget.setEnabled(not swept)
            widget.setToolTip("set by the sweep" if swept else "")

    def settings(self) -> TrainingConfig:
        return SWEEP_DEFAULTS.with_(
            epochs=self.epochs.value(), batch_size=self.batch_size.value(), lr=self.lr.value(),
            optimizer=self.optimizer_fields.name, hyper=self.optimizer_fields.hyper(),
            l2=self.l2.value(), val_fraction=self.val_fraction.value(), seed=self.seed.value())

    def save(self, settings, prefix: str) -> None:
        self.optimizer_fields.save(settings, prefix)
        for key, value in (("lr", self.lr.value()), ("batch_size", self.batch_size.value()),
                           ("l2", self.l2.value()), ("epochs", self.epochs.value()),
                           ("seed", self.seed.value()), ("val_fraction", self.val_fraction.value())):
            settings.setValue(f"{prefix}/{key}", value)

    def restore(self, settings, prefix: str) -> None:
        self.optimizer_fields.restore(settings, prefix)
        for key, widget in (("lr", self.lr), ("batch_size", self.batch_size), ("l2", self.l2),
                            ("epochs", self.epochs), ("seed", self.seed),
                            ("val_fraction", self.val_fraction)):
            stored.read_spin(settings, f"{prefix}/{key}", widget)


def report_progress(ctx, p: Progress, unit: str, share: float = 1.0) -> None:
    """Forward an engine :class:`Progress` to the job's progress bar, scaled to ``share``
    of the bar: ``"cell 2/9 · epoch 1/2 · batch 14/50"``, or with several runs training at
    once ``"cells 3 and 4 of 9 training · 2 done"``."""
    if len(p.training) > 1:
        *first, last = map(str, p.training)
        text = f"{unit}s {', '.join(first)} and {last} of {p.runs} training · {p.finished} done"
    else:
        text = f"{unit} {p.run}/{p.runs} · epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}"
    ctx.progress(share * p.fraction, 1.0, text)


def group(title: str, *rows) -> QGroupBox:
    """A titled box holding ``rows``: widgets, ``(label, widget)`` pairs, or layouts."""
    box = QGroupBox(title)
    form = QFormLayout(box)
    for row in rows:
        form.addRow(*row) if isinstance(row, tuple) else form.addRow(row)
    return box


class TrainingRunView(QWidget):
    """Settings on the left, job status and results on the right, one job at a time.

    Subclasses build their widgets, call ``arrange(left_items, results)``, start work with
    ``start(name, fn, status)`` and implement ``_on_report(obj)`` (each report the job
    sends) and ``_on_finished(result)`` (also called with the partial result on cancel).
    """

    #: what the status line calls a failed job: "the sweep failed: …"
    title = "the run"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.jobs = JobControls()
        self.run_button = QPushButton("Run")
        self._job: Job | None = None
        self._failed_read = None  # the read() a refused start failed on

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def arrange(self, left_items, results: QWidget) -> None:
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        for item in left_items:
            ll.addLayout(item) if isinstance(item, QLayout) else ll.addWidget(item)
        ll.addStretch(1)
        left.setMaximumWidth(340)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.jobs)
        rl.addWidget(results, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(left)
        layout.addWidget(right, 1)

    def read_inputs(self, read):
        """``read()`` the user's inputs, or None (with the reason in the status line) when a
        job is running, the model does not fit the dataset, or ``read`` raises ValueError."""
        if self.running:
            return None
        problem = model_problem(self.session.model, self.session.dataset)
        try:
            values = read()
        except ValueError as exc:
            problem = problem or str(exc)
        if problem:
            self.jobs.set_status(problem, error=True)
            self._failed_read = read
            return None
        self._failed_read = None
        return values

    def watch_inputs(self, *widgets: QWidget) -> None:
        """Re-check the inputs when one of ``widgets`` changes after a refused start, so
        the message goes as soon as its cause does (or names the next problem)."""
        for widget in widgets:
            for name in ("textChanged", "valueChanged", "currentIndexChanged", "toggled"):
                signal = getattr(widget, name, None)
                if signal is not None:
                    signal.connect(self._recheck_inputs)
                    break

    def _recheck_inputs(self, *_args) -> None:
        read = self._failed_read
        if read is None or self.running:
            return
        problem = model_problem(self.session.model, self.session.dataset)
        try:
            read()
        except ValueError as exc:
            problem = problem or str(exc)
        if problem:
            self.jobs.set_status(problem, error=True)
        else:
            self._failed_read = None
            self.jobs.set_status("")

    def start(self, name: str, fn, status: str, kind: JobKind = JobKind.OTHER) -> Job:
        """Run ``fn(ctx)`` through the session and route its signals to this view (which
        forgets the job once it is done: the session deletes it)."""
        job = self.session.run_job(name, fn, kind)
        self._job = job
        job.done.connect(self._forget_job)
        self.jobs.track(job, "starting…")
        self.jobs.set_status(status)
        self.run_button.setEnabled(False)
        job.progress.connect(self._on_report)
        job.finished.connect(self._finished)
        job.cancelled.connect(self._finished)
        job.failed.connect(self._on_failed)
        return job

    def _forget_job(self) -> None:
        if self.sender() is self._job:
            self._job = None

    def _finished(self, result) -> None:
        self.run_button.setEnabled(True)
        self._on_finished(result)

    def _on_failed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.jobs.set_status(f"{self.title} failed: {message}", error=True)

    def _on_report(self, report) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_finished(self, result) -> None:  # pragma: no cover - overridden
        raise NotImplementedError
