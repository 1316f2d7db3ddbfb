"""The Step by step tab: watch one conv or pooling layer compute, window by window, forward
and backward, on the student's own digit — and one SGD step of the whole network.

What is animated are the records of :mod:`cnnlab.engine.reference`'s traces (the tested
loops), walked one output channel at a time by :class:`cnnlab.lab.step_walk.ChannelWalk`.
Setting a layer up, jumping far, finishing a channel, the whole-layer "loops = engine"
check and the SGD step run as session jobs; single steps (microseconds) and the play
timer run on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from cnnlab.app.panels.step_backward import BackwardView
from cnnlab.app.panels.step_controls import PlaybackControls, SourceControls
from cnnlab.app.panels.step_forward import ForwardView
from cnnlab.app.panels.step_sgd import SgdView
from cnnlab.app.session import Session
from cnnlab.app.widgets import ERROR_COLOR, ElidedLabel
from cnnlab.lab import step_by_step as steps
from cnnlab.lab.step_walk import ChannelWalk, sgd_step

FORWARD, BACKWARD, SGD_PAGE = 0, 1, 2


class StepByStepPanel(QWidget):
    """``StepByStepPanel(session, drawing=None)``; ``drawing()`` returns the Draw tab's
    canvas pixels (2-D, ink high), and ``drawing_changed()`` tells the tab it changed."""

    def __init__(self, session: Session, drawing: Callable[[], np.ndarray] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._drawing = drawing
        self.choices: list[steps.LayerChoice] = []
        self.problem: steps.LayerProblem | None = None
        self.walk: ChannelWalk | None = None
        self.check: steps.LoopCheck | None = None
        self.sgd_report = None
        self.current_input: steps.ImageInput | None = None
        self._generation = 0  # results of jobs started before the last change are dropped
        self._jobs: set = set()
        self._stale = True
        self._label_chosen = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._build()
        session.model_changed.connect(lambda _m: self._on_model_changed())
        session.dataset_changed.connect(lambda _d: self._on_dataset_changed())
        session.training_state_changed.connect(
            lambda _s: None if session.is_training else self._on_model_changed())
        self._on_dataset_changed()
        self._on_model_changed()

    # -------------------------------------------------------------- building
    def _build(self) -> None:
        self.source = SourceControls()
        self.playback = PlaybackControls()
        self.forward = ForwardView()
        self.backward = BackwardView()
        self.sgd = SgdView()
        self.pages = QTabWidget()
        self.pages.addTab(self.forward, "Forward")
        self.pages.addTab(self.backward, "Backward")
        self.pages.addTab(self.sgd, "One SGD step")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {ERROR_COLOR.name()};")
        self.message.hide()
        self.check_label = ElidedLabel()  # ends in "…" rather than widen the window
        self.check_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_button = QPushButton("Check loops = engine (whole layer)")
        self.check_button.setToolTip("run every channel through the plain loops and compare with "
                                     "the engine's vectorised forward and backward (float64)")
        bottom = QHBoxLayout()
        bottom.addWidget(self.check_label, 1)
        bottom.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source)
        layout.addWidget(self.message)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.playback)
        layout.addLayout(bottom)

        self.source.changed.connect(self._invalidate)
        self.source.label.activated.connect(self.choose_label)
        self.source.channel_changed.connect(self._on_channel_changed)
        self.pages.currentChanged.connect(self._on_page_changed)
        self.forward.cell_clicked.connect(self.jump_to)
        self.backward.cell_clicked.connect(self.jump_to)
        self.playback.step.clicked.connect(self.step_once)
        self.playback.play.toggled.connect(self.set_playing)
        self.playback.speed.valueChanged.connect(lambda _v: self._retime())
        self.playback.restart.clicked.connect(self._restart)
        self.playback.skip_row.clicked.connect(self.skip_row)
        self.playback.finish.clicked.connect(self.finish_channel)
        self.check_button.clicked.connect(self.check_layer)
        self.sgd.step_button.clicked.connect(self.take_sgd_step)

    # ---------------------------------------------------------------- inputs
    def drawing_changed(self) -> None:
        """The Draw tab's canvas changed: the label follows the network's guess again."""
        self._label_chosen = False
        if self.source.from_drawing:
            self._invalidate()

    def _on_dataset_changed(self) -> None:
        ds = self.session.dataset
        self.source.index.setRange(0, max(len(ds.x_test) - 1, 0) if ds is not None else 0)
        self.source.index.setSuffix(f" / {len(ds.x_test) - 1:,}" if ds is not None else "")
        if not self.source.from_drawing:
            self._invalidate()

    def _on_model_changed(self) -> None:
        model = self.session.snapshot()
        self.choices = steps.steppable_layers(model) if model is not None else []
        self.source.set_layers(self.choices, steps.default_layer(self.choices))
        if model is not None and len(model.output_shape) == 1:
            ds = self.session.dataset
            k = model.output_shape[0]
            names = ds.class_names if ds is not None and ds.n_classes == k else [str(i) for i in range(k)]
            self.source.set_classes(list(names))
        self._invalidate()

    def choose_label(self, label: int) -> None:
        """The student says what the drawing is (the combo box's slot, callable from tests)."""
        self._label_chosen = True
        self.source.show_label(label)
        self._invalidate()

    def _invalidate(self) -> None:
        self._stale = True
        self._generation += 1
        self.set_playing(False)
        if self.isVisible():
            self.reload()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def _current_input(self, model):
        """(ImageInput or None, why not or None)."""
        if self.source.from_drawing:
            label = self.source.label.currentIndex() if self._label_chosen else None
            item = steps.drawing_or_guess(model, self._drawing() if self._drawing else None, label)
            return item, None if item else ("Draw a digit on the Draw tab first — or choose "
                                            "“test image” as the input.")
        ds = self.session.dataset
        if ds is None:
            return None, "No dataset is loaded."
        return steps.dataset_input(ds.x_test, ds.y_test, self.source.index.value(), ds.class_names), None

    # ----------------------------------------------------------------- jobs
    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def _run(self, name: str, fn, on_result) -> None:
        generation = self._generation
        job = self.session.run_job(f"step by step: {name}", lambda ctx: fn())
        self._jobs.add(job)
        job.finished.connect(lambda result: generation == self._generation and on_result(result))
        job.failed.connect(lambda msg: generation == self._generation and self._show_message(msg))
        job.done.connect(lambda: self._job_done(job))
        self._update_enabled()

    def _job_done(self, job) -> None:
        self._jobs.discard(job)
        self._update_enabled()

    def reload(self) -> None:
        """Set the chosen layer up for the chosen image (in a job)."""
        self._stale = False
        self.problem = self.walk = self.check = self.sgd_report = None
        model = self.session.snapshot()
        item, problem = self._current_input(model)
        problem = problem or steps.input_problem(model, item)
        if problem and item is not None and self.source.from_drawing and "inputs" in problem:
            problem += " Choose “test image” as the input."
        if problem:
            self._show_message(problem)
            self._render()
            return
        self.message.hide()
        self.source.show_label(item.label)
        index = self.source.layer.currentData()
        self.current_input = item
        self._run("set up layer", lambda: steps.layer_problem(model, item, index), self._set_problem)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def _set_problem(self, problem: steps.LayerProblem) -> None:
        self.problem = problem
        self.source.set_channels(problem.channels, problem.in_channels, problem.kind == "conv")
        self.check_label.setText("")
        self.sgd.clear("Press the button to take one SGD step on this image.")
        self._new_walk()
        if self.pages.currentIndex() == SGD_PAGE:
            self.take_sgd_step()

    # ------------------------------------------------------------- walking
    def _new_walk(self) -> None:
        self.set_playing(False)
        if self.problem is None:
            self.walk = None
        else:
            direction = "backward" if self.pages.currentIndex() == BACKWARD else "forward"
            self.walk = ChannelWalk(self.problem, self.source.channel.value(), direction)
        self._render()

    def _on_channel_changed(self) -> None:
        if self.problem is not None and self.walk is not None:
            if self.walk.channel != self.source.channel.value():
                self._new_walk()
            else:
                self._render()

    def _on_page_changed(self, index: int) -> None:
        self.playback.setVisible(index != SGD_PAGE)
        if index == SGD_PAGE:
            if self.sgd_report is None and self.problem is not None:
                self.take_sgd_step()
            self.set_playing(False)
            self._update_enabled()
            return
        self._new_walk()

    def step_once(self) -> None:
        if self.walk is None or self.busy:
            return
        self.walk.step()
        self._after_move()

    def _tick(self) -> None:
        if self.walk is None or self.busy or self.walk.done:
            self.set_playing(False)
            return
        per_tick = max(1, round(self.playback.steps_per_second * self.timer.interval() / 1000))
        for _ in range(per_tick):
            if self.walk.step() is None:
                break
        self._after_move()

    def _move_in_job(self, name: str, move) -> None:
        if self.walk is None or self.busy:
            return
        walk = self.walk
        self._run(name, lambda: (move(walk), walk)[1], lambda _w: self._after_move())

    def jump_to(self, row: int, col: int) -> None:
        """Make output cell (row, col) the current one (clicked on the output or dZ map)."""
        self.set_playing(False)
        self._move_in_job("jump", lambda walk: walk.jump_to(row, col))

    def skip_row(self) -> None:
        if self.walk is not None:
            row = self.walk.cell[0] if self.walk.cell is not None else 0
            self.jump_to(row, self.problem.out_hw[1] - 1)

    def finish_channel(self) -> None:
        self.set_playing(False)
        self._move_in_job("finish channel", lambda walk: walk.finish())

    def _restart(self) -> None:
        if self.walk is not None and not self.busy:
            self.set_playing(False)
            self.walk.restart()
            self._after_move()

    def _after_move(self) -> None:
        self._render()
        if self.walk is not None and self.walk.done:
            self.set_playing(False)
            if self.walk.direction == "backward" and self.check is None:
                self.check_layer()

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing) and self.walk is not None and not self.walk.done
        self.playback.set_playing(playing)
        if playing:
            self._retime()
            self.timer.start()
        else:
            self.timer.stop()

    def _retime(self) -> None:
        self.timer.setInterval(max(16, round(1000 / self.playback.steps_per_second)))

    # ---------------------------------------------------------- whole layer
    def check_layer(self) -> None:
        """Every channel through the loops vs the engine's vectorised layer (a job)."""
        if self.problem is None:
            return
        problem = self.problem
        self.check_label.setText("loops = engine: checking every channel…")
        self._run("loops = engine", lambda: steps.loops_vs_engine(problem), self._show_check)

    def _show_check(self, check: steps.LoopCheck) -> None:
        self.check = check
        self.check_label.setText(check.describe(self.problem))

    def take_sgd_step(self) -> None:
        model = self.session.snapshot()
        if self.problem is None or model is None:
            return
        item, lr = self.current_input, self.sgd.lr.value()
        index, channel = self.problem.index, self.source.channel.value()
        self._run("SGD step", lambda: sgd_step(model, item, lr, index, channel), self._show_sgd)

    def _show_sgd(self, report) -> None:
        self.sgd_report = report
        self.sgd.show_report(report, self.source.in_channel.value())

    # ------------------------------------------------------------- drawing
    def _update_enabled(self) -> None:
        walking = self.walk is not None and self.pages.currentIndex() != SGD_PAGE
        for button in (self.playback.step, self.playback.play, self.playback.restart,
                       self.playback.skip_row, self.playback.finish):
            button.setEnabled(walking and not self.busy)
        self.check_button.setEnabled(self.problem is not None and not self.busy)
        self.sgd.step_button.setEnabled(self.problem is not None and not self.busy)

    def _render(self) -> None:
        self._update_enabled()
        if self.problem is None or self.walk is None:
            self.playback.position.setText("")
            return
        view = self.backward if self.walk.direction == "backward" else self.forward
        view.show_walk(self.problem, self.walk, self.source.in_channel.value())
        where = "before the first window" if self.walk.cell is None else f"cell {self.walk.cell}"
        self.playback.position.setText(
            f"{where} · {self.walk.position:,} / {self.walk.total:,} windows of channel "
            f"{self.walk.channel}" + (" · done" if self.walk.done else ""))
