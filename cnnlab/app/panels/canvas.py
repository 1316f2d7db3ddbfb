"""The drawing canvas of the Draw tab: white ink on black, painted into a ``QImage``.

The ink lives in a fixed-resolution greyscale image (``resolution`` × ``resolution``,
280 by default, whatever the widget's size), so what the network receives does not depend
on the window size; the widget shows that image scaled to the largest centred square.
Every change is an *item* in a list — a stroke (points in image pixels) or a pasted image —
and the image is always the result of painting those items in order with the same code, so
Undo (repaint all but the last) is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PyQt6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QTabletEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

#: Pen width as a fraction of the canvas side. A digit drawn about 200 px tall on the
#: 280-px canvas is scaled by 20/200 into MNIST's 20-px box, so 0.10 × 280 = 28 px of ink
#: become about 2.8 px at 28×28: the median width of MNIST's own "1"s (2.9 px on the sample;
#: 0.08 gave 1.8–2.7 px, thinner than most MNIST digits).
PEN_FRACTION = 0.10


@dataclass
class Stroke:
    """One press–move–release: points in image pixels."""

    points: list[QPointF] = field(default_factory=list)


@dataclass
class PastedImage:
    """A greyscale image (uint8, any size) scaled smoothly onto the whole canvas."""

    image: QImage


class DrawingCanvas(QWidget):
    """A square canvas; ``changed`` fires on every edit (per mouse move while drawing),
    ``stroke_finished`` when the pen is lifted (and after Clear/Undo/paste)."""

    changed = pyqtSignal()
    stroke_finished = pyqtSignal()

    def __init__(self, resolution: int = 280, parent: QWidget | None = None):
        super().__init__(parent)
        if resolution < 28:
            raise ValueError(f"DrawingCanvas: resolution must be at least 28 px, got {resolution}")
        self.resolution = int(resolution)
        self.pen_width = PEN_FRACTION * self.resolution
        self.items: list[Stroke | PastedImage] = []
        self._image = QImage(self.resolution, self.resolution, QImage.Format.Format_Grayscale8)
        self._image.fill(0)
        self._drawing = False
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip("Draw a digit with the mouse, a pen or a finger.\n"
                        "Del clears the canvas, Ctrl+Z undoes the last stroke.")

    # ------------------------------------------------------------------ data
    def is_empty(self) -> bool:
        return not self.items

    @property
    def is_drawing(self) -> bool:
        """True between pen down and pen up."""
        return self._drawing

    def image_array(self) -> np.ndarray:
        """The ink as uint8 ``(resolution, resolution)``: 0 background, 255 full ink (a copy)."""
        img = self._image
        ptr = img.constBits()
        ptr.setsize(img.sizeInBytes())
        rows = np.frombuffer(ptr, dtype=np.uint8).reshape(img.height(), img.bytesPerLine())
        return rows[:, : img.width()].copy()  # rows are padded to 4-byte multiples

    def clear(self) -> None:
        if self.items:
            self.items.clear()
            self._repaint_items()

    def undo(self) -> None:
        """Remove exactly the last stroke (or pasted image)."""
        if self.items:
            self.items.pop()
            self._repaint_items()

    def paste_array(self, image: np.ndarray) -> None:
        """Paint a greyscale image (2-D, uint8 0..255 or float 0..1, ink high) over the whole
        canvas, smoothly scaled — an undoable item, like a stroke (used to feed real digits
        through the canvas)."""
        arr = np.asarray(image)
        if arr.ndim != 2 or arr.size == 0:
            raise ValueError(f"paste_array: expected a non-empty 2-D image, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(np.asarray(arr, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
        arr = np.ascontiguousarray(arr)
        h, w = arr.shape
        qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()  # own the bytes
        self.items.append(PastedImage(qimg))
        self._repaint_items()

    # ------------------------------------------------------------- painting
    def _pen(self) -> QPen:
        pen = QPen(QColor(255, 255, 255))
        pen.setWidthF(self.pen_width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

    def _painter(self) -> QPainter:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setPen(self._pen())
        return painter

    def _paint_segment(self, painter: QPainter, points: list[QPointF], i: int) -> None:
        """Paint the part of a stroke that point ``i`` adds: a dot for the first point,
        then a segment from the previous one. Live drawing and repainting both use this,
        so Undo reproduces the image pixel for pixel."""
        if i == 0:
            painter.drawPoint(points[0])
        else:
            painter.drawLine(points[i - 1], points[i])

    def _repaint_items(self) -> None:
        self._image.fill(0)
        painter = self._painter()
        for item in self.items:
            if isinstance(item, PastedImage):
                painter.drawImage(QRectF(0, 0, self.resolution, self.resolution), item.image)
            else:
                for i in range(len(item.points)):
                    self._paint_segment(painter, item.points, i)
        painter.end()
        self.update()
        self.changed.emit()
        self.stroke_finished.emit()

    # ------------------------------------------------------------ geometry
    def _square(self) -> QRectF:
        """The widget rectangle the image is shown in: the largest centred square."""
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _to_image(self, pos: QPointF) -> QPointF:
        sq = self._square()
        scale = self.resolution / sq.width() if sq.width() > 0 else 1.0
        return QPointF((pos.x() - sq.x()) * scale, (pos.y() - sq.y()) * scale)

    def sizeHint(self) -> QSize:
        return QSize(self.resolution, self.resolution)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        sq = self._square()
        painter.drawImage(sq, self._image)
        painter.setPen(QPen(QColor(90, 90, 90), 1))
        painter.drawRect(sq.adjusted(0, 0, -1, -1))
        if not self.items:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(sq, Qt.AlignmentFlag.AlignCenter, "draw a digit here")
        painter.end()

    # --------------------------------------------------------------- input
    def begin_stroke(self, pos: QPointF) -> None:
        """Start a stroke at widget position ``pos``."""
        self._drawing = True
        stroke = Stroke([self._to_image(pos)])
        self.items.append(stroke)
        self._paint_last(stroke)

    def extend_stroke(self, pos: QPointF) -> None:
        if not self._drawing:
            return
        stroke = self.items[-1]
        point = self._to_image(pos)
        if point == stroke.points[-1]:
            return
        stroke.points.append(point)
        self._paint_last(stroke)

    def end_stroke(self, pos: QPointF | None = None) -> None:
        if not self._drawing:
            return
        if pos is not None:
            self.extend_stroke(pos)
        self._drawing = False
        self.stroke_finished.emit()

    def _paint_last(self, stroke: Stroke) -> None:
        painter = self._painter()
        self._paint_segment(painter, stroke.points, len(stroke.points) - 1)
        painter.end()
        # Repaint only around the new segment: cheap even on a large window.
        pts = stroke.points[-2:]
        xs, ys = [p.x() for p in pts], [p.y() for p in pts]
        pad = self.pen_width
        sq = self._square()
        k = sq.width() / self.resolution
        self.update(QRectF(sq.x() + (min(xs) - pad) * k, sq.y() + (min(ys) - pad) * k,
                           (max(xs) - min(xs) + 2 * pad) * k,
                           (max(ys) - min(ys) + 2 * pad) * k).toAlignedRect())
        self.changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.begin_stroke(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drawing and event.buttons() & Qt.MouseButton.LeftButton:
            self.extend_stroke(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._drawing:
            self.end_stroke(event.position())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:
        """Pen tablets: the same strokes, with the tablet's sub-pixel positions. (Touch
        screens reach the canvas as mouse events, which Qt synthesizes from touches.)"""
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self.begin_stroke(event.position())
        elif kind == QEvent.Type.TabletMove:
            self.extend_stroke(event.position())
        elif kind == QEvent.Type.TabletRelease:
            self.end_stroke(event.position())
        else:
            event.ignore()
            return
        event.accept()
