"""The Train tab's learning-rate finder: loss against a growing learning rate.

"Find" runs ``lab.lr_finder.lr_find`` in a session job on a copy of the current model
(the model itself is untouched) with the Train tab's optimizer and batch size; the curve
grows live (log x), the suggested rate is marked, and "Use" puts it into the Train tab.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from cnnlab.app.jobs import JobKind
from cnnlab.app.widgets import ERROR_COLOR, TRAIN_COLOR, VAL_COLOR
from cnnlab.lab.lr_finder import lr_find, smooth, suggest_lr

LR_MIN, LR_MAX, STEPS = 1e-6, 1.0, 100


def one_digit(lr: float) -> str:
    """``0.00312`` → ``"3e-3"``: a learning rate worth typing."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


class LrFinderView(QWidget):
    """``LrFinderView(session, config)``; ``config()`` returns the Train tab's
    ``TrainingConfig``. Emits ``use_lr(float)`` when the user takes the suggestion."""

    use_lr = pyqtSignal(float)

    def __init__(self, session, config, parent: QWidget | None = None):
        super().__init__(parent)
        self.session, self.config = session, config
        self.running = False
        self.suggestion: float | None = None
        self.lrs = self.losses = np.empty(0)
        self._job = None
        self.find_button = QPushButton("Find a learning rate")
        self.find_button.setToolTip(f"train a copy of the model for up to {STEPS} batches while "
                                    f"the learning rate grows from {LR_MIN:g} to {LR_MAX:g}")
        self.find_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button = QPushButton("Use")
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("set the Train tab's learning rate to the suggestion")
        self.use_button.clicked.connect(self._use)
        self.progress = QProgressBar()
        self.progress.setRange(0, STEPS)
        self.progress.setFormat("not run yet")
        self.status = QLabel("The loss stays flat while the rate is too small, falls where it is "
                             "useful and shoots up where it is too large. The suggestion is where "
                             "it falls fastest. The current model is not changed.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        for w in (self.find_button, self.cancel_button, self.progress, self.use_button):
            row.addWidget(w, 1 if w is self.progress else 0)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setTitle("loss against learning rate", color="#333", size="10pt")
        self.plot.setLogMode(x=True)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "batch loss")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumSize(200, 140)
        self.raw_curve = self.plot.plot(pen=pg.mkPen(TRAIN_COLOR.lighter(160), width=1))
        self.smooth_curve = self.plot.plot(pen=pg.mkPen(TRAIN_COLOR, width=2.2))
        self.marker = pg.InfiniteLine(0, pen=pg.mkPen(VAL_COLOR, width=2), label="suggested",
                                      labelOpts={"position": 0.92, "color": VAL_COLOR,
                                                 "fill": (255, 255, 255, 200)})
        self.marker.hide()
        self.plot.addItem(self.marker)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)

    # ---------------------------------------------------------------- run
    def _problem(self, model, ds) -> str | None:
        if model is None:
            return "There is no model yet (or training has not sent its first weights)."
        if ds is None:
            return "No dataset loaded."
        if tuple(model.input_shape) != tuple(ds.input_shape) or tuple(model.output_shape) != (
                ds.n_classes,):
            return (f"The model ({'×'.join(map(str, model.input_shape))} → "
                    f"{'×'.join(map(str, model.output_shape))}) does not fit {ds.name}.")
        return None

    def start(self) -> None:
        """Run the finder (ignored while one runs); problems go to the status line."""
        if self.running:
            return
        model, ds = self.session.snapshot(), self.session.dataset
        problem = self._problem(model, ds)
        if problem is not None:
            self._say(problem, error=True)
            return
        try:
            cfg = self.config()
        except ValueError as exc:
            self._say(f"Check the training settings: {exc}", error=True)
            return
        model = model.copy()  # the job never sees an array the GUI or a training touches
        x, y, hyper = ds.x_train, ds.y_train, dict(cfg.hyper)
        optimizer, batch_size, seed = cfg.optimizer, cfg.batch_size, cfg.seed

        def work(ctx):
            lrs, losses = [], []

            def on_step(_i, lr, loss):
                lrs.append(lr)
                losses.append(loss)
                ctx.report((np.array(lrs), np.array(losses)))  # small: ≤ 100 points

            return lr_find(model, optimizer, x, y, LR_MIN, LR_MAX, STEPS, batch_size, seed,
                           on_step=on_step, should_stop=ctx.should_stop, **hyper)

        self.running = True
        self.suggestion = None
        self.use_button.setEnabled(False)
        self.use_button.setText("Use")
        self.marker.hide()
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setFormat("running… %v / %m batches")
        self._say(f"{cfg.describe_optimizer().split(' lr ')[0]}, batch {batch_size}, "
                  f"learning rate {LR_MIN:g} → {LR_MAX:g} over {STEPS} batches on a copy of "
                  f"{self.session.model_name}")
        self._job = job = self.session.run_job("learning-rate finder", work, JobKind.OTHER)
        job.progress.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        job.cancelled.connect(lambda _partial: self._say("cancelled"))
        job.failed.connect(lambda msg: self._say(f"The finder failed: {msg}", error=True))
        job.done.connect(self._on_done)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _on_progress(self, report) -> None:
        if isinstance(report, tuple):
            self.show_curve(*report)

    def _on_finished(self, result) -> None:
        lrs, losses = result
        self.show_curve(lrs, losses)
        self.suggestion = suggest_lr(lrs, losses)
        if self.suggestion is None:
            self._say("No clear descent in the loss: try more data, or a different optimizer.",
                      error=True)
            return
        self.marker.show()  # first: a hidden label ignores new text
        self.marker.setValue(math.log10(self.suggestion))
        self.marker.label.setFormat(f"suggested {one_digit(self.suggestion)}")
        self.use_button.setText(f"Use {one_digit(self.suggestion)}")
        self.use_button.setEnabled(True)
        stop = "" if len(lrs) == STEPS else f" (stopped at {lrs[-1]:.1e}: the loss blew up)"
        self._say(f"Suggested learning rate {self.suggestion:.1e}, where the smoothed loss falls "
                  f"fastest{stop}. One click on “Use” puts it into the settings.")

    def _on_done(self) -> None:
        self.running = False
        self._job = None
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setFormat(f"{len(self.lrs)} batches")

    def show_curve(self, lrs, losses) -> None:
        self.lrs, self.losses = np.asarray(lrs), np.asarray(losses)
        self.progress.setValue(len(self.lrs))
        if len(self.lrs):
            self.raw_curve.setData(self.lrs, self.losses)
            self.smooth_curve.setData(self.lrs, smooth(self.losses))

    def _use(self) -> None:
        if self.suggestion is not None:
            self.use_lr.emit(float(one_digit(self.suggestion)))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR.name()};" if error else "")
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft)
