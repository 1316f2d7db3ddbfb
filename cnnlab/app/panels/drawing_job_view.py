"""A Draw-tab view that computes something about the drawing in a job: newest input wins.

The "Why?" and "Fool it" views share this: after every prediction the Draw tab calls
:meth:`DrawingJobView.set_input`; the view runs at most one job at a time, only while it is
visible, always for the newest input (one that arrives while a job runs is started when it
ends), on a private copy of the model so the GUI thread keeps predicting with its snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QWidget

from cnnlab.app.jobs import JobKind

if TYPE_CHECKING:
    from cnnlab.app.session import Session


class DrawingJobView(QWidget):
    """Subclasses give ``job_name`` and implement :meth:`show_empty`, :meth:`make_work`,
    :meth:`show_result` and :meth:`show_failure`; :meth:`model_copied` is an optional hook."""

    job_name = "drawing"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._last = (None, None)  # (model, DigitGuess) of the newest prediction
        self._pending = False  # set_input came since the last job started
        self._running = False
        self._model_source = None  # the snapshot the current copy was made from
        self._model_copy = None
        session.model_changed.connect(self._forget_model)
        session.weights_updated.connect(self._forget_model)

    # ------------------------------------------------------------- subclasses
    def show_empty(self, model) -> None:
        """Nothing to compute (no model, or an empty drawing): clear the view."""
        raise NotImplementedError

    def make_work(self, model, guess):
        """A job function ``work(ctx) -> payload`` for the private ``model`` copy."""
        raise NotImplementedError

    def show_result(self, payload) -> None:
        raise NotImplementedError

    def show_failure(self, message: str) -> None:
        raise NotImplementedError

    def model_copied(self) -> None:
        """A new private copy of the model was made (results of the old one are stale)."""

    # ------------------------------------------------------------------ input
    def set_input(self, model, guess) -> None:
        """The Draw tab's current model and ``DigitGuess`` (None, None: nothing to show)."""
        self._last = (model, guess)
        if model is None or guess is None or guess.empty:
            self._pending = False
            self.show_empty(model)
            return
        self._pending = True
        self._start()

    def resend(self, *_args) -> None:
        """A control changed: compute again for the newest input."""
        self.set_input(*self._last)

    def _forget_model(self, *_args) -> None:
        self._model_source = self._model_copy = None

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._start()

    def _start(self) -> None:
        if self._running or not self._pending or not self.isVisible():
            return
        self._pending = False
        model, guess = self._last
        if model is not self._model_source or self._model_copy is None:
            self._model_source, self._model_copy = model, model.copy()
            self.model_copied()
        work = self.make_work(self._model_copy, guess)
        self._running = True
        job = self.session.run_job(self.job_name, work, JobKind.OTHER)
        job.finished.connect(self.show_result)
        job.failed.connect(self.show_failure)
        job.done.connect(self._job_done)

    def _job_done(self) -> None:
        self._running = False
        self._start()  # the newest request that came in meanwhile
