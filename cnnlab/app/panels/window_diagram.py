"""A small drawing of one conv/pool window along the height axis, and its readout.

Top row: the padded input (padding cells grey), the taps of the first window (blue) and
of the next one, one stride further (orange outline). Bottom row: the output, with the two
cells those windows produce. Below it, the output-size formula with the numbers filled in
and the receptive field on the network input (from ``cnnlab.lab.receptive_field``).
"""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QPainter, QPen
from PyQt6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnnlab.app.widgets import ERROR_COLOR, TRAIN_COLOR, VAL_COLOR
from cnnlab.lab.receptive_field import WindowGeometry

#: Cells drawn at most per row; longer rows end in "…".
MAX_CELLS = 40
_X0, _Y_IN, _Y_OUT = 10.0, 8.0, 62.0  # left margin, input row top, output row top
_PAD_COLOR = QColor(215, 215, 215)
_CELL_COLOR = QColor(250, 250, 250)
_LINE_COLOR = QColor(90, 90, 90)


class WindowStrip(QWidget):
    """Paints the 1-D window picture for a :class:`WindowGeometry` (or nothing)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.geometry_info: WindowGeometry | None = None
        self.setMinimumHeight(92)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_geometry_info(self, info: WindowGeometry | None) -> None:
        self.geometry_info = info
        self.update()

    def paintEvent(self, _event) -> None:
        info = self.geometry_info
        if info is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() - 1))
        painter.setFont(font)
        h, k, s, p, d = (info.input_hw[0], info.kernel[0], info.stride[0], info.padding[0],
                         info.dilation[0])
        n_in, n_out = h + 2 * p, max(info.output_hw[0], 0)
        shown_in, shown_out = min(n_in, MAX_CELLS), min(n_out, MAX_CELLS)
        self._cell = max(4.0, min(16.0, (self.width() - 20) / max(shown_in, 1)))
        taps0 = [j * d for j in range(k)]  # the first window's taps, in padded-input cells
        taps1 = [s + t for t in taps0]  # the second window's: one stride further
        self._input_row(painter, h, p, n_in, shown_in, taps0, taps1 if n_out >= 2 else [])
        self._output_row(painter, n_out, shown_out)
        # lines from each window's first and last tap to the output cell it produces
        for taps, out_i, color in ((taps0, 0, TRAIN_COLOR), (taps1, 1, VAL_COLOR)):
            if out_i < shown_out:
                painter.setPen(QPen(color, 1.0))
                target = QPointF(_X0 + (out_i + 0.5) * self._cell, _Y_OUT)
                for t in (taps[0], taps[-1]):
                    if t < shown_in:
                        painter.drawLine(QPointF(_X0 + (t + 0.5) * self._cell, _Y_IN + self._cell),
                                         target)
        painter.end()

    def _box(self, painter: QPainter, i: float, y: float, fill, pen, inset: float = 0.0) -> None:
        painter.setPen(pen)
        painter.setBrush(fill)
        c = self._cell
        painter.drawRect(QRectF(_X0 + i * c + inset, y + inset, c - 2 * inset, c - 2 * inset))

    def _more(self, painter: QPainter, shown: int, y: float) -> None:
        painter.setPen(_LINE_COLOR)
        painter.drawText(QPointF(_X0 + shown * self._cell + 2, y + self._cell - 2), "…")

    def _input_row(self, painter, h, p, n_in, shown_in, taps0, taps1) -> None:
        """The padded input row: padding hatched, the first window's taps filled, the
        second window's outlined."""
        thin = QPen(_LINE_COLOR, 0.6)
        for i in range(shown_in):
            self._box(painter, i, _Y_IN, _PAD_COLOR if i < p or i >= p + h else _CELL_COLOR, thin)
        if n_in > shown_in:
            self._more(painter, shown_in, _Y_IN)
        for t in (t for t in taps0 if t < shown_in):
            self._box(painter, t, _Y_IN, _first_color(), QPen(TRAIN_COLOR.darker(130), 1.2))
        # hatch the padding over the taps too: a window reaching into it reads zeros
        hatch = QBrush(_LINE_COLOR, Qt.BrushStyle.BDiagPattern)
        for i in [*range(min(p, shown_in)), *range(p + h, shown_in)]:
            self._box(painter, i, _Y_IN, hatch, Qt.PenStyle.NoPen)
        for t in (t for t in taps1 if t < shown_in):
            self._box(painter, t, _Y_IN, Qt.BrushStyle.NoBrush, QPen(VAL_COLOR, 2.0), inset=1.5)

    def _output_row(self, painter, n_out, shown_out) -> None:
        """The output row: the first window's cell filled, the second's outlined."""
        thin = QPen(_LINE_COLOR, 0.6)
        for i in range(shown_out):
            self._box(painter, i, _Y_OUT, _first_color() if i == 0 else _CELL_COLOR, thin)
        if shown_out >= 2:
            self._box(painter, 1, _Y_OUT, Qt.BrushStyle.NoBrush, QPen(VAL_COLOR, 2.0), inset=1.5)
        if n_out > shown_out:
            self._more(painter, shown_out, _Y_OUT)
        if n_out < 1:
            painter.setPen(ERROR_COLOR)
            painter.drawText(QPointF(_X0, _Y_OUT + self._cell - 2), "no output: the window does not fit")


def _first_color() -> QColor:
    first = QColor(TRAIN_COLOR)
    first.setAlpha(170)
    return first


class WindowDiagram(QWidget):
    """The strip plus the formula/receptive-field text for the selected layer."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.strip = WindowStrip()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.strip)
        layout.addWidget(self.text)
        self.set_geometry_info(None)

    def set_geometry_info(self, info: WindowGeometry | None, hint: str = "") -> None:
        """Show ``info`` (or ``hint`` when it is None)."""
        self.strip.set_geometry_info(info)
        self.strip.setVisible(info is not None)
        if info is None:
            self.text.setText(hint or "Select a Conv2D or pooling layer to see how its output "
                                      "size follows from the kernel, stride, padding and "
                                      "dilation, and how much of the input one unit sees.")
            return
        kernel = "×".join(map(str, info.kernel))
        params = f"kernel {kernel}, stride {_pair(info.stride)}"
        if info.name == "Conv2D":
            params += f", padding {_pair(info.padding)}, dilation {_pair(info.dilation)}"
        lines = [f"<b>{info.name} #{info.index}</b> — {params}, input "
                 f"{info.input_hw[0]}×{info.input_hw[1]}",
                 f"H<sub>out</sub> = {info.formula(0)}",
                 f"W<sub>out</sub> = {info.formula(1)}"]
        if info.fits:
            lines.append(f"receptive field: each output unit sees {info.field[0]}×{info.field[1]} "
                         f"input pixels; neighbouring units are {_pair(info.jump)} px apart")
        else:
            lines.append(f"<span style='color:{ERROR_COLOR.name()}'>the {_span(info)} window "
                         f"does not fit the padded input</span>")
        lines.append("<span style='color:#666'>above: one row of the padded input (hatched = "
                     "padding), the taps of the first window (blue) and the next one "
                     "(orange), and the output cells they produce</span>")
        self.text.setText("<br>".join(lines))


def _pair(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def _span(info: WindowGeometry) -> str:
    return "×".join(map(str, info.span))
