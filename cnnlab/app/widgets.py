"""Small widgets and the visual language shared by the panels (UX.md).

Palette: train = blue, validation = orange, previous run = grey. Kernels and weights
use a diverging blue–white–red map centred at 0; activations and images a
sequential one (viridis or grey).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QLabel,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

TRAIN_COLOR = QColor(31, 119, 180)  # blue
VAL_COLOR = QColor(255, 127, 14)  # orange
PREVIOUS_COLOR = QColor(150, 150, 150)  # grey
ERROR_COLOR = QColor(200, 40, 40)


def diverging_colormap() -> pg.ColorMap:
    """Blue–white–red, white at the middle of the levels (centre them at 0)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (247, 247, 247), (178, 24, 43)])


def sequential_colormap(name: str = "viridis") -> pg.ColorMap:
    if name == "grey":
        return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])
    return pg.colormap.get("viridis")


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """Levels centred at 0 that cover ``values`` (never a zero-width range)."""
    m = float(np.max(np.abs(values))) if values.size else 0.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    return -m, m


def mosaic(tiles: np.ndarray, columns: int | None = None, gap: int = 1,
           fill: float = np.nan) -> tuple[np.ndarray, int, int]:
    """Arrange tiles ``(N, H, W)`` or ``(N, H, W, 3)`` in a grid.

    Returns ``(image, rows, columns)``; gaps hold ``fill`` (NaN shows as background).
    """
    tiles = np.asarray(tiles, dtype=np.float32)
    n, h, w = tiles.shape[:3]
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    shape = (rows * (h + gap) - gap, cols * (w + gap) - gap) + tiles.shape[3:]
    out = np.full(shape, fill, dtype=np.float32)
    for i in range(n):  # one slice per tile, not per pixel
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = tiles[i]
    return out, rows, cols


def image_plot(layout: pg.GraphicsLayout | pg.GraphicsLayoutWidget, title: str = "") -> pg.PlotItem:
    """A plot for showing images: square pixels, row 0 at the top, no axes, no mouse zoom."""
    plot = layout.addPlot(title=title or None)
    plot.setAspectLocked(True)
    plot.invertY(True)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    return plot


#: Colour bars shorter than this (view height, px) label only their ends and 0.
SHORT_COLORBAR_PX = 150


class TileGrid(QWidget):
    """A grid of image tiles with one shared colour scale and a colour bar.

    ``set_tiles(tiles, levels=None, cmap="diverging"|"viridis"|"grey"|"rgb", columns=None)``
    with tiles ``(N, H, W)`` (scalar maps) or ``(N, H, W, 3)`` (RGB in [0, 1]).
    """

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.plot = image_plot(self.view, title)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=diverging_colormap(),
                                        interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.tiles: np.ndarray | None = None
        self.levels: tuple[float, float] | None = None
        self.title = title  # the full title; the plot shows it elided to the width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def set_title(self, title: str) -> None:
        """Show ``title`` above the tiles, elided with "…" when wider than the view (the
        full text is the tooltip): pyqtgraph's title would otherwise widen the plot past
        the widget, pushing the colour bar out of sight for good."""
        self.title = title
        self._fit_title()

    def _fit_title(self) -> None:
        title, label = self.title, self.plot.titleLabel
        if not title:
            self.plot.setTitle(None)
            self.view.setToolTip("")
            return
        room = max(40.0, self.view.width() - 24.0)
        self.plot.setTitle(title)
        shown = title
        if label.item.boundingRect().width() > room:
            lo, hi = 0, len(title)  # longest prefix that fits with "…"
            while lo < hi:
                mid = (lo + hi + 1) // 2
                label.setText(title[:mid].rstrip() + "…")
                lo, hi = (mid, hi) if label.item.boundingRect().width() <= room else (lo, mid - 1)
            shown = title[:lo].rstrip() + "…"
            self.plot.setTitle(shown)
        label.setMinimumWidth(0)  # never let the title set the plot's width
        self.view.setToolTip(title if shown != title else "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.title:
            self._fit_title()
        self._fit_colorbar_ticks()

    def _fit_colorbar_ticks(self) -> None:
        """A short colour bar gets only its ends (and 0) as labels: pyqtgraph's five or six
        ticks would print on top of each other in a strip 80 px high."""
        lo, hi = self.levels if self.levels is not None else self.colorbar.levels()
        if self.view.height() >= SHORT_COLORBAR_PX:
            self.colorbar.axis.setTicks(None)
            return
        ticks = [(lo, f"{lo:.2g}"), (hi, f"{hi:.2g}")]
        if lo < 0 < hi and self.view.height() >= SHORT_COLORBAR_PX // 2:
            ticks.insert(1, (0.0, "0"))
        self.colorbar.axis.setTicks([ticks])

    def set_tiles(self, tiles: np.ndarray, levels: tuple[float, float] | None = None,
                  cmap: str = "diverging", columns: int | None = None) -> None:
        tiles = np.asarray(tiles, dtype=np.float32)
        self.tiles = tiles
        rgb = cmap == "rgb"
        img, _rows, _cols = mosaic(tiles, columns, fill=1.0 if rgb else np.nan)
        if rgb:
            self.colorbar.hide()
            self.image.setImage(np.clip(img, 0, 1), levels=(0, 1), autoLevels=False)
            self.levels = (0.0, 1.0)
        else:
            if levels is None:
                finite = tiles[np.isfinite(tiles)]
                if cmap == "diverging":
                    levels = symmetric_levels(finite)
                else:
                    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                    levels = (lo, hi if hi > lo else lo + 1.0)
            self.levels = (float(levels[0]), float(levels[1]))
            cm = diverging_colormap() if cmap == "diverging" else sequential_colormap(cmap)
            self.colorbar.show()
            self.colorbar.setColorMap(cm)
            self.image.setImage(img, autoLevels=False)
            self.colorbar.setLevels(self.levels)
            self._fit_colorbar_ticks()
        self.plot.autoRange(padding=0.02)

    def clear(self) -> None:
        self.tiles = None
        self.image.clear()


class LogSpinBox(QDoubleSpinBox):
    """A spin box whose arrows multiply/divide (1, 2, 5 steps per decade): learning rates."""

    def __init__(self, minimum: float = 1e-6, maximum: float = 10.0, value: float = 1e-3,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(12)  # values down to 1e-12 survive the spin box rounding
        self.setRange(minimum, maximum)
        self.setValue(value)

    def textFromValue(self, value: float) -> str:
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        from PyQt6.QtGui import QValidator

        try:
            float(text)
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:
        v = self.value()
        for _ in range(abs(steps)):
            exp = math.floor(math.log10(v))
            mant = round(v / 10 ** exp, 6)
            ladder = [1, 2, 5, 10]
            if steps > 0:
                nxt = next((m for m in ladder if m > mant + 1e-9), 10)
                v = nxt * 10 ** exp
            else:
                prev = [m for m in [0.5, 1, 2, 5] if m < mant - 1e-9]
                v = (prev[-1] if prev else 0.5) * 10 ** exp
        self.setValue(min(max(v, self.minimum()), self.maximum()))


def scrollable(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless area that scrolls vertically when the window is short
    (small laptop screens, 200 % scaling), so a tall control column never sets the
    window's minimum height."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFixedWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


def big_label_font(point_size: int = 28, bold: bool = True) -> QFont:
    font = QFont()
    font.setPointSize(point_size)
    font.setBold(bold)
    return font


def show_error(parent: QWidget | None, title: str, message: str) -> QMessageBox:
    """A window-modal error dialog that does not block the caller (so a worker's
    failure never stalls the event loop); the app keeps running afterwards."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("cnnlab-error")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def format_count(n: float) -> str:
    """``1840.2`` → ``"1,840"``."""
    return f"{n:,.0f}"


def format_duration(seconds: float) -> str:
    """``41`` → ``"0:41"``, ``3725`` → ``"1:02:05"``."""
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def describe_job(job) -> str:
    """``"sweep · 42 % · ETA 0:31"`` for a running ``cnnlab.app.jobs.Job``."""
    parts = [job.name]
    if job.fraction is not None:
        parts.append(f"{100 * job.fraction:.0f} %")
        if job.eta_s is not None and job.fraction < 1:
            parts.append(f"ETA {format_duration(job.eta_s)}")
    return " · ".join(parts)


class ElidedLabel(QLabel):
    """A one-line plain-text label that ends in "…" instead of widening its window when
    the text is longer than the room it gets; the full text is then its tooltip.
    ``text()`` returns the full text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, min_width: int = 40):
        super().__init__(parent)
        self._full = ""
        self._min_width = min_width
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text or ""
        self._elide()
        self.updateGeometry()

    def text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:
        m = self.contentsMargins()
        room = m.left() + m.right() + 2 * self.margin() + 4
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + room, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self._min_width, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")

