"""A kernel as a diverging heatmap centred at 0, with its values written in the cells when
they fit and shown on hover always (Blur lab)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QSize, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetricsF
from PyQt6.QtWidgets import QWidget

from cnnlab.app.widgets import SHORT_COLORBAR_PX, diverging_colormap, image_plot, symmetric_levels

#: Values are written into the cells of kernels up to this size (and only when they fit).
MAX_TEXT_CELLS = 7


def format_value(v: float, digits: int = 3) -> str:
    """Short text for a kernel value: ``0.0625``, ``-2``, ``1.2e-05`` (``digits``
    significant digits; hover shows the full value)."""
    return "0" if v == 0 else f"{v:.{digits}g}"


class KernelHeatmap(pg.GraphicsLayoutWidget):
    """A kernel as a diverging heatmap centred at 0, its values as text when it is small
    (at most 7×7) and on hover (``hover_text`` and the tooltip)."""

    hovered = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.plot = image_plot(self)
        self.plot.hideButtons()
        self.image = pg.ImageItem()
        self.image.setColorMap(diverging_colormap())
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=diverging_colormap(),
                                        interactive=False, width=10)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.labels: list[pg.TextItem] = []  # reused between kernels, never re-created
        self.kernel: np.ndarray | None = None
        self._font = QFont()
        self._shown_labels = 0
        self.hover_text = ""
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        # the view box is laid out after the widget's resize: fit the values to its real size
        self.plot.vb.sigResized.connect(lambda _vb: self._fit_labels())
        self.setMinimumSize(180, 110)

    def sizeHint(self) -> QSize:
        # modest: in a column with word-wrapped labels the layout asks for the preferred
        # height, and the graphics view's default (480 px) made the Blur lab scroll
        return QSize(240, 160)

    def set_kernel(self, kernel: np.ndarray) -> None:
        """kernel: float ``(kh, kw)``."""
        k = np.asarray(kernel, dtype=np.float64)
        self.kernel = k
        levels = symmetric_levels(k)
        self.image.setImage(k.astype(np.float32), autoLevels=False, levels=levels)
        self.colorbar.setLevels(levels)
        kh, kw = k.shape
        show = max(kh, kw) <= MAX_TEXT_CELLS
        needed = kh * kw if show else 0
        while len(self.labels) < needed:
            item = pg.TextItem(anchor=(0.5, 0.5))
            self.plot.addItem(item)
            self.labels.append(item)
        m = levels[1]
        font = QFont()
        font.setPointSize({1: 11, 2: 11, 3: 10, 4: 9, 5: 8}.get(max(kh, kw), 7))
        for n, item in enumerate(self.labels):
            if n >= needed:
                item.hide()
                continue
            r, c = divmod(n, kw)
            v = k[r, c]
            text = format_value(v, 3 if max(kh, kw) <= 3 else 2)
            if max(kh, kw) > 3:  # narrow cells: ".013" instead of "0.013" (hover: full value)
                text = text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text
            item.setText(text)
            item.setFont(font)
            item.setColor(QColor("white") if abs(v) > 0.6 * m else QColor(20, 20, 20))
            item.setPos(c + 0.5, r + 0.5)
        self._font = font
        self._shown_labels = needed
        self.plot.setRange(xRange=(0, kw), yRange=(0, kh), padding=0.02)
        self._fit_labels()

    def labels_fit(self) -> bool:
        """Whether every value's text fits inside its cell at the current size."""
        if self.kernel is None or not self._shown_labels:
            return False
        # one cell's size on screen (the plot keeps the aspect ratio: not the view box's size / k)
        vb = self.plot.vb
        try:
            origin, corner = vb.mapViewToScene(QPointF(0, 0)), vb.mapViewToScene(QPointF(1, 1))
        except RuntimeError:  # the view is being torn down
            return False
        cell_w, cell_h = abs(corner.x() - origin.x()), abs(corner.y() - origin.y())
        metrics = QFontMetricsF(self._font)
        widest = max(metrics.horizontalAdvance(item.toPlainText())
                     for item in self.labels[:self._shown_labels])
        return widest <= cell_w and metrics.height() <= cell_h

    def _fit_labels(self) -> None:
        # values that would run into each other are hidden: hovering still shows each one
        fit = self.labels_fit()
        for n, item in enumerate(self.labels):
            item.setVisible(fit and n < self._shown_labels)
        lo, hi = self.colorbar.levels()  # a short colour bar: its ends and 0 only
        short = self.height() < SHORT_COLORBAR_PX
        self.colorbar.axis.setTicks([[(lo, f"{lo:.2g}"), (0.0, "0"), (hi, f"{hi:.2g}")]]
                                    if short else None)

    def value_at(self, row: int, col: int) -> str:
        return f"row {row}, col {col}: {self.kernel[row, col]:.6g}"

    def _on_mouse_moved(self, pos) -> None:
        if self.kernel is None:
            return
        p = self.plot.vb.mapSceneToView(pos)
        col, row = int(np.floor(p.x())), int(np.floor(p.y()))
        kh, kw = self.kernel.shape
        text = self.value_at(row, col) if 0 <= row < kh and 0 <= col < kw else ""
        if text != self.hover_text:
            self.hover_text = text
            self.setToolTip(text)
            self.hovered.emit(text)

    def cell_scene_pos(self, row: int, col: int) -> QPointF:
        """Scene position of a cell's centre (for tests that hover it)."""
        return self.plot.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
