"""How far kernel recovery has come: its progress bar (steps towards the budget or, usually
sooner, the error towards the tolerance — whichever is further — with an ETA, and 100 % at
the end even when the run converges long before its step budget) and its loss plot."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QProgressBar

from cnnlab.app.widgets import PREVIOUS_COLOR, TRAIN_COLOR, VAL_COLOR, format_duration

#: The bar counts in thousandths.
SCALE = 1000


def recovery_fraction(step: int, max_steps: int, first_error: float, error: float,
                      tolerance: float) -> float:
    """How far a run is, 0…1: the larger of ``step / max_steps`` and how far
    ``max |C − C0|`` has fallen from ``first_error`` towards ``tolerance`` on a log scale
    (conjugate gradient shrinks it roughly geometrically)."""
    by_steps = step / max_steps if max_steps > 0 else 0.0
    by_error = 0.0
    if first_error > tolerance > 0 and math.isfinite(error):
        by_error = math.log(first_error / max(error, tolerance)) / math.log(first_error / tolerance)
    return min(max(by_steps, by_error, 0.0), 1.0)


class RecoveryProgress:
    """Drives ``bar`` for one run at a time and keeps the job's fraction (shown in the
    status bar) in step with it."""

    def __init__(self, bar: QProgressBar):
        self.bar = bar
        self.bar.setRange(0, SCALE)
        self.bar.setFormat("not started")
        self._max_steps, self._tolerance = 1, 1.0
        self._first_error: float | None = None
        self.fraction = 0.0

    def start(self, max_steps: int, tolerance: float) -> None:
        self._max_steps, self._tolerance = max_steps, tolerance
        self._first_error, self.fraction = None, 0.0
        self.bar.setValue(0)
        self.bar.setFormat("starting…")

    def step(self, job, step: int, error: float) -> None:
        """A report of ``step`` with ``max |C − C0| = error``; ``job``: the running Job."""
        if self._first_error is None:
            self._first_error = error
        f = recovery_fraction(step, self._max_steps, self._first_error, error, self._tolerance)
        self.fraction = max(self.fraction, min(f, 0.999))  # 100 % only when it has ended
        if job is not None:
            job.set_progress(self.fraction, f"step {step:,}")
        text = f"step {step:,} · {100 * self.fraction:.0f} %"
        if job is not None and job.eta_s is not None:
            text += f" · ETA {format_duration(job.eta_s)}"
        self.bar.setValue(round(SCALE * self.fraction))
        self.bar.setFormat(text)

    def finish(self, steps: int, converged: bool, stopped: bool) -> None:
        if stopped:
            self.bar.setFormat(f"cancelled at step {steps:,}")
            return
        self.fraction = 1.0
        self.bar.setValue(SCALE)
        self.bar.setFormat(f"step {steps:,} · 100 %" + (" · converged" if converged else ""))


class RecoveryLossPlot(pg.PlotWidget):
    """The L2 loss and max |C − C0| against the step, on a log scale, with the tolerance as
    a dashed line (``loss_curve``, ``error_curve``, ``tolerance_line``)."""

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setLogMode(x=False, y=True)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setLabel("bottom", "step")
        self.setLabel("left", "value (log scale)")
        self.addLegend(offset=(10, -10))  # bottom left: the curves start high
        self.loss_curve = self.plot(pen=pg.mkPen(TRAIN_COLOR, width=2), name="L2 loss (MSE)")
        self.error_curve = self.plot(pen=pg.mkPen(VAL_COLOR, width=2), name="max |C − C0|")
        self.tolerance_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(PREVIOUS_COLOR, style=Qt.PenStyle.DashLine),
            label="tolerance", labelOpts={"position": 0.97, "color": (110, 110, 110),
                                          "anchors": [(1, 1), (1, 1)]})  # clear of the legend
        self.addItem(self.tolerance_line)
        for curve in (self.loss_curve, self.error_curve):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True)
