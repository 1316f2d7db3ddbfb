"""The Step by step tab's two control rows: what to look at (layer, input image, label,
channels) and how to move through it (step, play/pause, speed, finish this channel)."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from cnnlab.app.widgets import ElidedLabel

#: Speeds the slider offers, in windows per second.
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
DRAWING, DATASET = "drawing", "dataset"


class SourceControls(QWidget):
    """Layer ▾ · input ▾ (◀ index ▶) · label · output channel · input channel."""

    changed = pyqtSignal()  # anything that needs the layer set up again (label: label.activated)
    channel_changed = pyqtSignal()  # only the output/input channel to show

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layer = QComboBox()
        self.layer.setToolTip("the conv or pooling layer to step through")
        self.layer.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer.setMinimumContentsLength(26)  # the full text is in the drop-down
        self.source = QComboBox()
        self.source.addItem("Draw tab", DRAWING)
        self.source.addItem("test image", DATASET)
        self.source.setToolTip("the digit drawn on the Draw tab, or an image of the dataset")
        self.previous = QToolButton()
        self.previous.setText("◀")
        self.previous.setToolTip("previous test image")
        self.index = QSpinBox()
        self.index.setRange(0, 0)
        self.index.setToolTip("index of the test image")
        self.next = QToolButton()
        self.next.setText("▶")
        self.next.setToolTip("next test image")
        self.label = QComboBox()
        self.label.setToolTip("the label the loss is computed against (a dataset image's own "
                              "label; for a drawing, what you say it is — the network's guess "
                              "until you choose)")
        self.channel = QSpinBox()
        self.channel.setToolTip("output channel (filter) to step through — one at a time")
        self.in_channel = QSpinBox()
        self.in_channel.setToolTip("input channel shown (a conv filter sums over all of them)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for text, widget in (("Layer", self.layer), ("Input", self.source), (None, self.previous),
                             (None, self.index), (None, self.next), ("label", self.label),
                             ("channel", self.channel), ("input channel", self.in_channel)):
            if text:
                row.addSpacing(6)
                row.addWidget(QLabel(text))
            row.addWidget(widget)
        row.addStretch(1)
        self.previous.clicked.connect(lambda: self.index.stepBy(-1))
        self.next.clicked.connect(lambda: self.index.stepBy(1))
        for signal in (self.layer.currentIndexChanged, self.source.currentIndexChanged,
                       self.index.valueChanged):
            signal.connect(lambda *_: self.changed.emit())
        self.channel.valueChanged.connect(lambda *_: self.channel_changed.emit())
        self.in_channel.valueChanged.connect(lambda *_: self.channel_changed.emit())
        self.source.currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()

    @property
    def from_drawing(self) -> bool:
        return self.source.currentData() == DRAWING

    def _update_enabled(self) -> None:
        for widget in (self.previous, self.index, self.next):
            widget.setEnabled(not self.from_drawing)
        self.label.setEnabled(self.from_drawing)

    def set_layers(self, choices, default: int | None) -> None:
        """Fill the layer picker (``LayerChoice`` items); the current layer stays chosen when
        the new model has the same one, else ``default`` (an index into ``choices``)."""
        current = self.layer.currentText()
        self.layer.blockSignals(True)
        self.layer.clear()
        for choice in choices:
            self.layer.addItem(choice.text, choice.index)
        found = self.layer.findText(current)
        self.layer.setCurrentIndex(found if found >= 0 else (default or 0))
        self.layer.blockSignals(False)

    def set_classes(self, names) -> None:
        """Label choices: one per class of the model's output."""
        current = self.label.currentIndex()
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItems([f"{i}" if str(i) == n else f"{i} {n}" for i, n in enumerate(names)])
        self.label.setCurrentIndex(min(max(current, 0), len(names) - 1))
        self.label.blockSignals(False)

    def show_label(self, label: int) -> None:
        self.label.blockSignals(True)
        self.label.setCurrentIndex(label)
        self.label.blockSignals(False)

    def set_channels(self, out_channels: int, in_channels: int, conv: bool) -> None:
        for spin, n in ((self.channel, out_channels), (self.in_channel, in_channels)):
            spin.blockSignals(True)
            spin.setRange(0, max(n - 1, 0))
            spin.setSuffix(f" / {n - 1}")
            spin.blockSignals(False)
        self.in_channel.setEnabled(conv and in_channels > 1)


class PlaybackControls(QWidget):
    """⟲ restart · step ▶ · play/pause · speed · skip row · finish this channel · position."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.restart = QPushButton("⟲ Restart")
        self.restart.setToolTip("back to before the first window of this channel")
        self.step = QPushButton("Step ▶")
        self.step.setToolTip("compute the next window (one output cell)")
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("step automatically at the chosen speed")
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setValue(SPEEDS.index(10))
        self.speed.setFixedWidth(110)
        self.speed.setToolTip("windows per second while playing")
        self.speed_label = QLabel()
        self.skip_row = QPushButton("Skip to row end")
        self.skip_row.setToolTip("jump to the last cell of the current output row")
        self.finish = QPushButton("Finish this channel")
        self.finish.setToolTip("compute every remaining window of this output channel at once")
        self.position = ElidedLabel()  # a long position must not widen the window
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.restart, self.step, self.play, QLabel("speed"), self.speed,
                       self.speed_label, self.skip_row, self.finish):
            row.addWidget(widget)
        row.addSpacing(10)
        row.addWidget(self.position, 1)
        self.speed.valueChanged.connect(self._show_speed)
        self._show_speed()

    @property
    def steps_per_second(self) -> int:
        return SPEEDS[self.speed.value()]

    def _show_speed(self) -> None:
        self.speed_label.setText(f"{self.steps_per_second}/s")

    def set_playing(self, playing: bool) -> None:
        self.play.blockSignals(True)
        self.play.setChecked(playing)
        self.play.setText("Pause" if playing else "Play")
        self.play.blockSignals(False)
