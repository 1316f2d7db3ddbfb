"""Widgets that show small images large: the before/after strip and the enlarged pair
(used by the Kernels & Blur tab; the kernel heatmap is in ``kernel_heatmap``)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.widgets import TRAIN_COLOR


def rgb_qimage(pixels: np.ndarray) -> QImage:
    """uint8 ``(H, W, 3)`` → a QImage that owns its copy of the pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = pixels.shape[:2]
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def draw_pixels(painter: QPainter, image: QImage, rect: QRectF) -> None:
    """Draw ``image`` into ``rect`` with nearest-neighbour scaling (pixels stay square)."""
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    painter.drawImage(rect, image)


class BeforeAfterStrip(QWidget):
    """Columns of (before image, class name, after image); click a column to select it.

    The two images of a column share one pixel scale, so an output smaller than its input
    (stride, no padding) is drawn smaller. ``render_image(scale)`` paints the same strip
    into a QImage for saving.
    """

    image_clicked = pyqtSignal(int)

    LABEL_W = 64  # row labels on the left
    GAP = 6
    TEXT_H = 18

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.before: list[QImage] = []
        self.after: list[QImage] = []
        self.names: list[str] = []
        self.before_size = (0, 0)
        self.after_size: tuple[int, int] | None = None
        self.selected = 0
        self.setMinimumHeight(160)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_before(self, pixels: np.ndarray, names: list[str]) -> None:
        """pixels: uint8 ``(N, H, W, 3)``; one class name per image."""
        self.before = [rgb_qimage(p) for p in pixels]
        self.names = list(names)
        self.before_size = tuple(pixels.shape[1:3])
        self.selected = min(self.selected, max(0, len(self.before) - 1))
        self.update()

    def set_after(self, pixels: np.ndarray | None) -> None:
        """pixels: uint8 ``(N, H', W', 3)``, or None when the filter cannot run."""
        self.after = [] if pixels is None else [rgb_qimage(p) for p in pixels]
        self.after_size = None if pixels is None else tuple(pixels.shape[1:3])
        self.update()

    def select(self, index: int) -> None:
        self.selected = index
        self.update()

    def hasHeightForWidth(self) -> bool:
        return True

    def sizeHint(self):

        return QSize(800, self.heightForWidth(800))

    def heightForWidth(self, width: int) -> int:
        return int(2 * self._cell(width) + self.TEXT_H + 3 * self.GAP)

    def _cell(self, width: int) -> float:
        n = max(1, len(self.before))
        return max(8.0, (width - self.LABEL_W - self.GAP * n) / n)

    def _layout(self, width: int, height: int) -> tuple[float, float]:
        """(cell size, pixels per image pixel)."""
        cell = min(self._cell(width), (height - self.TEXT_H - 3 * self.GAP) / 2)
        cell = max(8.0, cell)
        h, w = self.before_size
        ah, aw = self.after_size or (0, 0)
        return cell, cell / max(1, h, w, ah, aw)

    def column_at(self, x: float) -> int | None:
        cell, _ = self._layout(self.width(), self.height())
        col = int((x - self.LABEL_W) // (cell + self.GAP))
        return col if 0 <= col < len(self.before) and x >= self.LABEL_W else None

    def mousePressEvent(self, event) -> None:
        col = self.column_at(event.position().x())
        if col is not None:
            self.select(col)
            self.image_clicked.emit(col)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        self._paint(painter, self.width(), self.height(), highlight=True)
        painter.end()

    def render_image(self, scale: int = 4) -> QImage:
        """The strip with every image pixel drawn as ``scale``×``scale`` pixels (white
        background, no selection frame): what Save PNG writes."""
        n = max(1, len(self.before))
        h, w = self.before_size
        ah, aw = self.after_size or (0, 0)
        cell = scale * max(1, h, w, ah, aw)
        width = self.LABEL_W + n * (cell + self.GAP)
        height = 2 * cell + self.TEXT_H + 3 * self.GAP
        image = QImage(width, height, QImage.Format.Format_RGB888)
        image.fill(QColor("white"))
        painter = QPainter(image)
        self._paint(painter, width, height, highlight=False)
        painter.end()
        return image

    def _paint(self, painter: QPainter, width: int, height: int, highlight: bool) -> None:
        painter.fillRect(QRectF(0, 0, width, height), QColor("white"))
        if not self.before:
            return
        cell, px = self._layout(width, height)
        top_before = self.GAP
        top_text = top_before + cell + 2
        top_after = top_text + self.TEXT_H + self.GAP
        painter.setPen(QColor(60, 60, 60))
        h, w = self.before_size
        label_rect = QRectF(0, top_before, self.LABEL_W - 4, cell)
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignCenter, f"before\n{h}×{w}")
        after_text = ("after\n{}×{}".format(*self.after_size) if self.after_size
                      else "after\n—")
        painter.drawText(QRectF(0, top_after, self.LABEL_W - 4, cell),
                         Qt.AlignmentFlag.AlignCenter, after_text)
        font = self._name_font(painter.font(), cell + self.GAP - 2)
        for i, img in enumerate(self.before):
            x = self.LABEL_W + i * (cell + self.GAP)
            self._draw_centred(painter, img, x, top_before, cell, px)
            if i < len(self.after):
                self._draw_centred(painter, self.after[i], x, top_after, cell, px)
            painter.setFont(font)
            painter.setPen(QColor(40, 40, 40))
            name = painter.fontMetrics().elidedText(self.names[i] if i < len(self.names) else "",
                                                    Qt.TextElideMode.ElideRight,
                                                    int(cell + self.GAP - 2))
            painter.drawText(QRectF(x - self.GAP / 2 + 1, top_text, cell + self.GAP - 2, self.TEXT_H),
                             Qt.AlignmentFlag.AlignCenter, name)
            if highlight and i == self.selected:
                painter.setPen(QPen(TRAIN_COLOR, 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(x - 2, top_before - 2, cell + 4,
                                        top_after + cell - top_before + 4))

    def _name_font(self, base: QFont, width: float) -> QFont:
        """``base``, made smaller (down to 7 pt) until the longest class name fits ``width``
        pixels: narrow windows show "automobile", not "auto…"."""
        font = QFont(base)
        size = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
        while size > 7.0:
            font.setPointSizeF(size)
            if max((QFontMetricsF(font).horizontalAdvance(n) for n in self.names), default=0) <= width:
                break
            size -= 0.5
        font.setPointSizeF(max(size, 7.0))
        return font

    @staticmethod
    def _draw_centred(painter: QPainter, img: QImage, x: float, y: float, cell: float,
                      px: float) -> None:
        w, h = img.width() * px, img.height() * px
        draw_pixels(painter, img, QRectF(x + (cell - w) / 2, y + (cell - h) / 2, w, h))


class EnlargedPair(QWidget):
    """One image before and after filtering, as large as the space allows."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.caption = ""
        self.after_caption = ""
        self.setMinimumSize(240, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_images(self, before: np.ndarray | None, after: np.ndarray | None,
                   caption: str, after_caption: str) -> None:
        """before/after: uint8 ``(H, W, 3)`` (after may be None)."""
        self.before = None if before is None else rgb_qimage(before)
        self.after = None if after is None else rgb_qimage(after)
        self.caption, self.after_caption = caption, after_caption
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self.before is None:
            painter.end()
            return
        text_h = 22
        side = max(8.0, min((self.width() - 30) / 2, self.height() - text_h - 8))
        big = max(self.before.width(), self.before.height(),
                  self.after.width() if self.after else 0, self.after.height() if self.after else 0)
        px = side / big
        x0 = (self.width() - 2 * side - 30) / 2
        for k, (img, text) in enumerate(((self.before, self.caption),
                                         (self.after, self.after_caption))):
            x = x0 + k * (side + 30)
            painter.setPen(QColor(40, 40, 40))
            painter.drawText(QRectF(x, 0, side, text_h), Qt.AlignmentFlag.AlignCenter, text)
            if img is not None:
                w, h = img.width() * px, img.height() * px
                draw_pixels(painter, img, QRectF(x + (side - w) / 2, text_h + (side - h) / 2, w, h))
        painter.end()


def save_values(settings, prefix: str, widgets: dict) -> None:
    """Store each spin box's ``value()`` under ``prefix/key``."""
    for key, spin in widgets.items():
        settings.setValue(f"{prefix}/{key}", spin.value())


def restore_values(settings, prefix: str, widgets: dict) -> None:
    """Set each spin box from ``prefix/key`` when stored and within its range (otherwise it
    keeps its value and ``app.settings`` notes why)."""
    for key, spin in widgets.items():
        stored.read_spin(settings, f"{prefix}/{key}", spin)

