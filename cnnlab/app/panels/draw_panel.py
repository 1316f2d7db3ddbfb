"""The Draw tab: draw a digit, watch the network's guess change stroke by stroke, and look
at what it sees (the 28×28 input, feature maps of every conv layer, the first layer's kernels).

Layout: canvas (left) · network input, guess, model and "this is wrong" (middle) ·
probability bars (right); feature maps and kernels below. Prediction runs on the GUI
thread (preprocessing + a forward pass take a few ms) with ``session.snapshot()``, never
with the arrays a running training writes, and at most every ``UPDATE_INTERVAL_MS``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QColor, QImage, QKeySequence, QPixmap
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.panels.canvas import DrawingCanvas
from cnnlab.app.panels.correction_box import CorrectionBox
from cnnlab.app.panels.explain_view import ExplainView
from cnnlab.app.panels.feature_maps_view import FeatureMapsView
from cnnlab.app.panels.fool_view import FoolView
from cnnlab.app.widgets import ERROR_COLOR, TRAIN_COLOR, big_label_font
from cnnlab.data.preprocess import mnist_from_drawing
from cnnlab.lab.drawing import (
    UNSURE_BELOW,
    DigitGuess,
    digit_model_problem,
    guess_digit,
    model_base_name,
    model_state_line,
)

if TYPE_CHECKING:
    from cnnlab.app.session import Session

#: Coalesce canvas changes: at most one prediction per this many milliseconds while drawing.
UPDATE_INTERVAL_MS = 50
PREVIEW_SCALE = 6  # 28 px shown as 168 px, nearest neighbour
BAR_COLOR = QColor(160, 190, 220)

UNSURE_TIP = (f"“unsure” is shown when the top probability is below {100 * UNSURE_BELOW:.0f} %.\n"
              "A trained network gives clean digits well over 90 %; a lower top value means the\n"
              "drawing is ambiguous or half-finished, and naming one digit would look more\n"
              "confident than the network is. (Softmax outputs are not calibrated probabilities.)")


def format_percent(p: float) -> str:
    """``0.9731`` → ``"97.3 %"``; ``"> 99.9 %"`` from 0.9995 up: a softmax output is never
    certain, even when float32 rounds it to exactly 1."""
    if p >= 0.9995:
        return "> 99.9 %"
    return f"{100 * p:.1f} %"


class DrawPanel(QWidget):
    """``DrawPanel(session, parent=None, user_digits_path=None)``; ``user_digits_path``
    is where corrected drawings are kept (default: the user dataset's own default)."""

    def __init__(self, session: Session, parent: QWidget | None = None,
                 user_digits_path: str | Path | None = None):
        super().__init__(parent)
        self.session = session
        self.guess: DigitGuess | None = None
        self._user_digits_path = user_digits_path
        self._maps_stale = True
        self._live_epoch: tuple[int, int] | None = None  # (epoch, epochs) while training
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)

        self._build()
        self._build_shortcuts()
        self.canvas.changed.connect(self._schedule)
        self.canvas.stroke_finished.connect(self._on_stroke_finished)
        session.model_changed.connect(self._on_model_changed)
        session.weights_updated.connect(self._on_weights_updated)
        session.training_started.connect(self._on_training_started)
        session.training_state_changed.connect(lambda _state: self._on_model_changed())
        self._on_model_changed()

    # -------------------------------------------------------------- building
    def _build(self) -> None:
        self.canvas = DrawingCanvas()
        self.clear_button = QPushButton("Clear (Del)")
        self.clear_button.setToolTip("erase the whole drawing (Del)")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.undo_button.setToolTip("remove the last stroke (Ctrl+Z)")
        self.undo_button.clicked.connect(self.canvas.undo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.undo_button)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(buttons)

        middle = QVBoxLayout()
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        middle.addWidget(self.model_label)
        middle.addWidget(QLabel("What the network sees (28×28):"))
        self.preview = QLabel()
        side = 28 * PREVIEW_SCALE
        self.preview.setFixedSize(side + 2, side + 2)
        self.preview.setStyleSheet("border: 1px solid #888; background: black;")
        self.preview.setToolTip("The drawing after MNIST preprocessing: cropped to the ink, "
                                "scaled so the longer side is 20 px,\ncentred by its centre of "
                                "mass in a 28×28 frame — exactly the network's input.")
        middle.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        self.guess_label = QLabel()
        self.guess_label.setFont(big_label_font(40))
        self.guess_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.guess_label.setToolTip(UNSURE_TIP)
        self.probability_label = QLabel()
        self.probability_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.probability_label.setToolTip(UNSURE_TIP)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet(f"color: {ERROR_COLOR.name()};")
        self.message_label.hide()
        middle.addWidget(self.guess_label)
        middle.addWidget(self.probability_label)
        middle.addWidget(self.message_label)
        middle.addStretch(1)
        middle_widget = QWidget()
        middle_widget.setLayout(middle)
        middle_widget.setFixedWidth(250)

        self.bars_plot = pg.PlotWidget()
        self.bars_plot.setBackground("w")
        self.bars_plot.setTitle("Probability of each digit")
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.setMenuEnabled(False)
        self.bars_plot.hideButtons()
        self.bars_plot.setXRange(-0.6, 9.6, padding=0)
        self.bars_plot.setYRange(0, 1.0, padding=0.02)
        self.bars_plot.setLabel("left", "probability")
        self.bars_plot.setLabel("bottom", "digit")
        self.bars_plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(10)]])
        self.bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.7,
                                    brush=BAR_COLOR, pen=None)
        self.bars_plot.addItem(self.bars)
        self.threshold_line = pg.InfiniteLine(
            UNSURE_BELOW, angle=0, pen=pg.mkPen((150, 150, 150), style=Qt.PenStyle.DashLine),
            label=f"“unsure” below {100 * UNSURE_BELOW:.0f} %",
            labelOpts={"position": 0.98, "color": (90, 90, 90), "anchors": [(1, 1), (1, 1)],
                       "fill": (255, 255, 255, 200)})
        self.threshold_line.setToolTip(UNSURE_TIP)
        self.threshold_line.setZValue(10)  # line and label over the bars, never behind them
        self.bars_plot.addItem(self.threshold_line)

        top = QHBoxLayout()
        top.addLayout(left, 5)
        top.addWidget(middle_widget, 0)
        # the correction box under the bars: the middle column stays short, so the views
        # below keep their height in a 700 px window
        right = QVBoxLayout()
        right.addWidget(self.bars_plot, 1)
        right.addWidget(self._build_correction_box())
        top.addLayout(right, 4)

        self.inside = FeatureMapsView()
        # below the drawing: inside the network, why it says what it says, how to fool it
        self.explain = ExplainView(self.session)
        self.fool = FoolView(self.session, self.canvas)
        self.lower_tabs = QTabWidget()
        self.lower_tabs.setDocumentMode(True)
        # a 700 px window still gives the maps and kernels a readable height (the drawing
        # above shrinks to fit; without a minimum Qt gave them only what was left over)
        self.lower_tabs.setMinimumHeight(230)
        self.lower_tabs.addTab(self.inside, "Inside the network")
        self.lower_tabs.addTab(self.explain, "Why? Saliency · occlusion · Grad-CAM")
        self.lower_tabs.addTab(self.fool, "Fool it")

        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.lower_tabs, 1)

    def _build_correction_box(self) -> CorrectionBox:
        self.correction = CorrectionBox(self._drawing_28, self._user_digits_path)
        # the box's widgets, under the names tests and the window use
        self.label_picker = self.correction.label_picker
        self.save_button = self.correction.save_button
        self.export_button = self.correction.export_button
        self.user_count_label = self.correction.count_label
        self.save_correction = self.correction.save
        self.export_user_digits = self.correction.export_user_digits
        self.user_digits = self.correction.user_digits
        self.canvas.stroke_finished.connect(self.correction.drawing_changed)
        return self.correction

    def _drawing_28(self) -> np.ndarray:
        # the 28×28 digit needs no model: a drawing made while the model cannot read
        # digits (a CIFAR net, training's first moments) is kept all the same
        return (self.guess.network_input if self.guess is not None
                else mnist_from_drawing(self.canvas.image_array()))  # (28, 28) float32

    def _build_shortcuts(self) -> None:
        # Window-wide shortcuts: Qt only fires them while this tab is visible.
        self.clear_action = QAction("Clear drawing", self)
        self.clear_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.clear_action.triggered.connect(self.canvas.clear)
        self.undo_action = QAction("Undo last stroke", self)
        self.undo_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.undo_action.triggered.connect(self.canvas.undo)
        for action in (self.clear_action, self.undo_action):
            self.addAction(action)

    # --------------------------------------------------------------- updates
    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _on_stroke_finished(self) -> None:
        self._maps_stale = True
        self._schedule()

    def _on_training_started(self, cfg) -> None:
        self._live_epoch = (1, cfg.epochs)

    def _on_weights_updated(self, snapshot) -> None:
        if self._live_epoch is not None and snapshot.epoch > 0:
            self._live_epoch = (snapshot.epoch, self._live_epoch[1])
        self._on_model_changed()

    def _on_model_changed(self) -> None:
        self._update_model_label()
        self.inside.show_kernels(self.current_model())
        self._maps_stale = True
        self._schedule()

    def current_model(self):
        """The model to predict with: the session's snapshot (safe while training)."""
        return self.session.snapshot()

    def refresh(self) -> None:
        """Preprocess the drawing, predict, and update preview, guess and bars (and the
        feature maps once a stroke is finished). Never raises: problems go to the message line."""
        self._timer.stop()
        model = self.current_model()
        problem = digit_model_problem(model)
        if problem is None:
            try:
                self.guess = guess_digit(model, self.canvas.image_array())
            except (ValueError, FloatingPointError) as exc:
                problem = f"Could not classify the drawing: {exc}"
        if problem is not None:
            self.guess = None
            self._show_problem(problem if model is not None or not self.session.is_training
                               else "Waiting for the first weights from training…")
            return
        self.message_label.hide()
        self._show_guess(self.guess)
        if self._maps_stale and not self.canvas.is_drawing:
            self._maps_stale = False
            self.inside.show_activations(model, None if self.guess.empty else self.guess.network_input)
            for view in (self.explain, self.fool):  # jobs, only while their tab is shown
                view.set_input(model, self.guess)

    def _show_problem(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.show()
        # the message takes the guess's place: the middle column must not grow taller and
        # squeeze the feature maps below to a sliver
        self.guess_label.hide()
        self.probability_label.hide()
        self.guess_label.setText("")
        self.probability_label.setText("")
        self.bars.setOpts(height=np.zeros(10), brushes=[BAR_COLOR] * 10)
        self._set_preview(None)
        self.inside.show_activations(None, None)
        for view in (self.explain, self.fool):
            view.set_input(None, None)

    def _show_guess(self, guess: DigitGuess) -> None:
        self.guess_label.show()
        self.probability_label.show()
        self._set_preview(guess.network_input)
        if guess.empty:
            self.guess_label.setText("")
            self.probability_label.setText("draw a digit")
            self.bars.setOpts(height=np.zeros(10), brushes=[BAR_COLOR] * 10)
            return
        brushes = [BAR_COLOR] * 10
        brushes[guess.label] = TRAIN_COLOR if not guess.unsure else QColor(150, 150, 150)
        self.bars.setOpts(height=guess.probabilities, brushes=brushes)
        if guess.unsure:
            self.guess_label.setText("unsure")
            self.probability_label.setText(
                f"maybe {guess.label} ({format_percent(guess.probability)}) — "
                f"below {100 * UNSURE_BELOW:.0f} %")
        else:
            self.guess_label.setText(str(guess.label))
            self.probability_label.setText(f"probability {format_percent(guess.probability)}")

    def _set_preview(self, x: np.ndarray | None) -> None:
        side = 28 * PREVIEW_SCALE
        if x is None:
            self.preview.clear()
            return
        pixels = np.ascontiguousarray(np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8))  # (28, 28)
        image = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8)
        self.preview.setPixmap(QPixmap.fromImage(image).scaled(
            side, side, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation))

    def _update_model_label(self) -> None:
        """One line for the model's state: untrained / training, epoch k / trained n
        epochs / loaded from a file — never two that contradict each other."""
        s = self.session
        name = s.model_name if s.model is not None else "no model"
        epoch, epochs = self._live_epoch if s.is_training and self._live_epoch else (None, None)
        meta = s.model.meta if s.model is not None else {}
        trained = meta.get("epochs_trained") or (meta.get("training") or {}).get("epochs")
        state, warn = model_state_line(name, s.state, epoch, epochs, s.model_path,
                                       trained if isinstance(trained, int) else None)
        if warn and s.model is not None:
            state = f"⚠ {state}. Train it (Train tab) or open a trained model."
        color = ERROR_COLOR.name() if warn else "#555"
        self.model_label.setText(f"Model: <b>{html.escape(model_base_name(name))}</b><br>"
                                 f"<span style='color:{color}'>{html.escape(state)}</span>")

    # -------------------------------------------------------------- settings
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("draw/label", self.label_picker.currentIndex())

    def restore_settings(self, settings: QSettings) -> None:
        self.label_picker.setCurrentIndex(stored.read(
            settings, "draw/label", self.label_picker.currentIndex(), "int",
            lo=0, hi=self.label_picker.count() - 1))
