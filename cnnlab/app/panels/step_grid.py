"""A map of numbers drawn as coloured cells, for the Step by step tab: the (padded) input
with the sliding window, kernels, products, the output filling in, dZ and the gradients.

Cells are coloured by the diverging map (centred at 0) or a grey ramp; padding cells are
hatched; the window's taps are outlined in blue and the current output cell in blue too
(the window and the cell it feeds share a colour). Values are written in the cells when
they are big enough (3 significant digits); hovering shows the full value. A click on a
cell emits ``cell_clicked(row, col)``.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QToolTip, QWidget

from cnnlab.app.panels.image_views import draw_pixels
from cnnlab.app.widgets import TRAIN_COLOR, VAL_COLOR, diverging_colormap, symmetric_levels

#: Cells at least this many pixels wide show their value as text.
MIN_TEXT_CELL = 30
_UNKNOWN = QColor(236, 236, 236)
_GRID = QColor(120, 120, 120)
_TITLE_H = 18


def compact(v: float, digits: int = 3) -> str:
    """``0.0624``, ``-0.16``, ``9.34e-5``: ``digits`` significant digits, short exponents."""
    if v == 0:
        return "0"
    return f"{v:.{digits}g}".replace("e-0", "e-").replace("e+0", "e")


def cell_colours(values: np.ndarray, cmap: str, levels: tuple[float, float]) -> np.ndarray:
    """uint8 ``(H, W, 3)`` colours of ``values`` (NaN → light grey)."""
    lo, hi = levels
    t = np.clip((np.nan_to_num(values) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    if cmap == "grey":
        rgb = np.repeat((t * 255).astype(np.uint8)[..., None], 3, axis=2)
    else:
        rgb = diverging_colormap().map(t.reshape(-1), mode="byte")[:, :3].reshape(*t.shape, 3)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    rgb[np.isnan(values)] = (_UNKNOWN.red(), _UNKNOWN.green(), _UNKNOWN.blue())
    return rgb


class GridView(QWidget):
    """``set_values(values, cmap="diverging"|"grey", levels=None, padding=(0, 0), known=None)``
    then ``set_marks(taps=[(r, c), ...], cell=(r, c), ...)``. ``known`` (bool, same shape)
    blanks the cells not computed yet."""

    cell_clicked = pyqtSignal(int, int)

    def __init__(self, title: str = "", parent: QWidget | None = None, min_cell: int = 4):
        super().__init__(parent)
        self.title = title
        self.values: np.ndarray | None = None
        self.known: np.ndarray | None = None
        self.padding = (0, 0)
        self.cmap, self.levels = "diverging", (-1.0, 1.0)
        self.taps: list[tuple[int, int]] = []
        self.cell: tuple[int, int] | None = None
        self.winner: tuple[int, int] | None = None  # a max-pool window's first maximum
        self.min_cell = min_cell
        self._image: QImage | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(80, 80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(240, 240)

    # ------------------------------------------------------------ content
    def set_title(self, title: str) -> None:
        self.title = title
        self.update()

    def set_values(self, values: np.ndarray | None, cmap: str = "diverging",
                   levels: tuple[float, float] | None = None, padding=(0, 0),
                   known: np.ndarray | None = None) -> None:
        if values is None:
            self.values = self.known = self._image = None
            self.update()
            return
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None]
        shown = values if known is None else np.where(known, values, np.nan)
        finite = shown[np.isfinite(shown)]
        if levels is None:
            if cmap == "grey":
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                levels = (min(lo, 0.0), hi if hi > min(lo, 0.0) else 1.0)
            else:
                levels = symmetric_levels(finite)
        self.values, self.known, self.cmap = values, known, cmap
        self.levels, self.padding = (float(levels[0]), float(levels[1])), tuple(padding)
        rgb = cell_colours(shown, cmap, self.levels)
        h, w = rgb.shape[:2]
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.update()

    def set_marks(self, taps=(), cell: tuple[int, int] | None = None,
                  winner: tuple[int, int] | None = None) -> None:
        """``taps``: cells outlined as the window; ``cell``: the current output cell."""
        self.taps, self.cell, self.winner = list(taps), cell, winner
        self.update()

    # ------------------------------------------------------------ geometry
    def _geometry(self) -> tuple[float, float, float]:
        """(cell size, x0, y0) of the grid inside the widget."""
        h, w = self.values.shape
        top = _TITLE_H if self.title else 2
        size = min((self.width() - 4) / w, (self.height() - top - 2) / h)
        size = max(float(self.min_cell), size)
        x0 = (self.width() - size * w) / 2
        return size, x0, top

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        if self.values is None:
            return None
        size, x0, y0 = self._geometry()
        col, row = int((pos.x() - x0) // size), int((pos.y() - y0) // size)
        h, w = self.values.shape
        return (row, col) if 0 <= row < h and 0 <= col < w else None

    def cell_centre(self, row: int, col: int) -> QPointF:
        """Widget position of a cell's centre (tests click there)."""
        size, x0, y0 = self._geometry()
        return QPointF(x0 + (col + 0.5) * size, y0 + (row + 0.5) * size)

    # ------------------------------------------------------------ events
    def mousePressEvent(self, event) -> None:
        at = self.cell_at(event.position())
        if at is not None:
            self.cell_clicked.emit(*at)

    def mouseMoveEvent(self, event) -> None:
        at = self.cell_at(event.position())
        text = ""
        if at is not None:
            v = self.values[at]
            unknown = self.known is not None and not self.known[at]
            text = f"row {at[0]}, col {at[1]}: " + ("not computed yet" if unknown else f"{v:.17g}")
            if self._is_padding(*at):
                text += " (padding)"
        self.setToolTip(text)
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)

    def _is_padding(self, row: int, col: int) -> bool:
        ph, pw = self.padding
        h, w = self.values.shape
        return row < ph or row >= h - ph or col < pw or col >= w - pw

    # ------------------------------------------------------------ painting
    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self.title:
            painter.setPen(QColor(40, 40, 40))
            painter.drawText(QRectF(0, 0, self.width(), _TITLE_H),
                             Qt.AlignmentFlag.AlignCenter, self.title)
        if self.values is None or self._image is None:
            painter.end()
            return
        size, x0, y0 = self._geometry()
        h, w = self.values.shape
        draw_pixels(painter, self._image, QRectF(x0, y0, size * w, size * h))
        if size >= 6:
            painter.setPen(QPen(_GRID, 0.5))
            for r in range(h + 1):
                painter.drawLine(QPointF(x0, y0 + r * size), QPointF(x0 + w * size, y0 + r * size))
            for c in range(w + 1):
                painter.drawLine(QPointF(x0 + c * size, y0), QPointF(x0 + c * size, y0 + h * size))
        self._paint_padding(painter, size, x0, y0)
        if size >= MIN_TEXT_CELL:
            self._paint_numbers(painter, size, x0, y0)
        self._paint_marks(painter, size, x0, y0)
        painter.end()

    def _paint_padding(self, painter: QPainter, size: float, x0: float, y0: float) -> None:
        ph, pw = self.padding
        if not (ph or pw):
            return
        h, w = self.values.shape
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(QColor(110, 110, 110), Qt.BrushStyle.BDiagPattern))
        for rect in (QRectF(x0, y0, w * size, ph * size),
                     QRectF(x0, y0 + (h - ph) * size, w * size, ph * size),
                     QRectF(x0, y0 + ph * size, pw * size, (h - 2 * ph) * size),
                     QRectF(x0 + (w - pw) * size, y0 + ph * size, pw * size, (h - 2 * ph) * size)):
            if rect.width() > 0 and rect.height() > 0:
                painter.drawRect(rect)

    def _paint_numbers(self, painter: QPainter, size: float, x0: float, y0: float) -> None:
        h, w = self.values.shape
        shown = [(r, c) for r in range(h) for c in range(w)
                 if self.known is None or self.known[r, c]]
        font = QFont(painter.font())
        for digits in (3, 2):  # the largest font (up to 11 pt) at which every number fits
            texts = [compact(float(self.values[at]), digits) for at in shown]
            font.setPointSizeF(10.0)
            widest = max((QFontMetricsF(font).horizontalAdvance(t) for t in texts), default=1.0)
            point = min(11.0, size / 3.6, 10.0 * 0.88 * size / max(widest, 1.0))
            if point >= 6.5:
                break
        else:
            return  # too small to read: hovering shows the value
        font.setPointSizeF(point)
        painter.setFont(font)
        lo, hi = self.levels
        for (r, c), text in zip(shown, texts):
            t = (self.values[r, c] - lo) / (hi - lo) if hi > lo else 0.5
            dark = (t < 0.2 or t > 0.8) if self.cmap != "grey" else t < 0.5
            painter.setPen(QColor("white") if dark else QColor(20, 20, 20))
            painter.drawText(QRectF(x0 + c * size, y0 + r * size, size, size),
                             Qt.AlignmentFlag.AlignCenter, text)

    def _paint_marks(self, painter: QPainter, size: float, x0: float, y0: float) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        width = max(1.5, min(3.0, size / 8))
        fill = QColor(TRAIN_COLOR)
        fill.setAlpha(60)
        for r, c in self.taps:
            rect = QRectF(x0 + c * size, y0 + r * size, size, size)
            painter.fillRect(rect, fill)
            painter.setPen(QPen(TRAIN_COLOR, width))
            painter.drawRect(rect.adjusted(width / 2, width / 2, -width / 2, -width / 2))
        if self.winner is not None:
            r, c = self.winner
            painter.setPen(QPen(VAL_COLOR, width + 1))
            painter.drawRect(QRectF(x0 + c * size, y0 + r * size, size, size).adjusted(2, 2, -2, -2))
        if self.cell is not None:
            r, c = self.cell
            rect = QRectF(x0 + c * size - 1, y0 + r * size - 1, size + 2, size + 2)
            painter.setPen(QPen(TRAIN_COLOR, width + 1))
            painter.drawRect(rect)
            painter.setPen(QPen(QColor("white"), 1.0))  # visible on a blue cell too
            painter.drawRect(rect.adjusted(width + 1, width + 1, -width - 1, -width - 1))
