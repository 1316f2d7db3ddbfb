"""Widgets shared by the Experiments sub-tabs: a labelled heatmap with numbers in its
cells (confusion matrix, sweep results), job progress + Cancel, sortable numeric table
cells, and a bar chart with class names."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.jobs import Job
from cnnlab.app.panels.image_views import rgb_qimage
from cnnlab.app.widgets import (  # also sets pyqtgraph's row-major image order
    TRAIN_COLOR,
    ElidedLabel,
    format_duration,
)

#: Heatmaps run from white (0) to a dark version of the train blue (1).
_HEAT = pg.ColorMap([0.0, 1.0], [(255, 255, 255), TRAIN_COLOR.darker(160).getRgb()[:3]])


class LabelledHeatmap(QWidget):
    """A ``(R, C)`` heatmap with row/column labels, a number in every cell, and clicks.

    ``set_data(values, row_labels, col_labels, texts, levels)``; ``cell_clicked(row, col)``
    fires when the user clicks a cell. NaN cells are drawn empty.
    """

    cell_clicked = pyqtSignal(int, int)

    def __init__(self, x_title: str = "", y_title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.plot = self.view.addPlot()
        self.plot.invertY(True)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", x_title)
        self.plot.setLabel("left", y_title)
        for side in ("bottom", "left"):  # no numbers until set_data names the cells (an
            self.plot.getAxis(side).setTicks([[]])  # empty plot showed "-400 … (x0.001)")
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.image = pg.ImageItem()
        self.image.setColorMap(_HEAT)
        self.plot.addItem(self.image)
        self.texts: list[list[pg.TextItem]] = []
        self.values: np.ndarray | None = None
        self.view.scene().sigMouseClicked.connect(self._on_click)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def set_title(self, title: str) -> None:
        self.plot.setTitle(title)

    def set_data(self, values: np.ndarray, row_labels, col_labels, texts,
                 levels: tuple[float, float] | None = None, gamma: float = 1.0) -> None:
        """values ``(R, C)`` float (colour); texts: R lists of C strings (shown in cells).
        ``gamma`` < 1 tints small values more strongly (a confusion matrix's few mistakes
        would otherwise be white next to a diagonal of hundreds)."""
        values = np.asarray(values, dtype=np.float64)
        r, c = values.shape
        finite = values[np.isfinite(values)]
        if levels is None:
            hi = float(finite.max()) if finite.size else 1.0
            lo = float(finite.min()) if finite.size else 0.0
            levels = (min(lo, 0.0), hi if hi > min(lo, 0.0) else 1.0)
        self.values = values
        span = levels[1] - levels[0] or 1.0
        shade = np.clip((np.nan_to_num(values, nan=levels[0]) - levels[0]) / span, 0, 1) ** gamma
        self.image.setImage(shade, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(0, 0, c, r)
        self.prepare(r, c)
        for i in range(r):
            for j in range(c):
                item = self.texts[i][j]
                item.setText(texts[i][j])
                dark = math.isfinite(values[i, j]) and shade[i, j] > 0.55
                item.setColor(QColor(255, 255, 255) if dark else QColor(30, 30, 30))
        self.plot.getAxis("bottom").setTicks([[(j + 0.5, str(s)) for j, s in enumerate(col_labels)]])
        self.plot.getAxis("left").setTicks([[(i + 0.5, str(s)) for i, s in enumerate(row_labels)]])
        self.plot.setRange(xRange=(0, c), yRange=(0, r), padding=0.01)

    def prepare(self, r: int, c: int) -> None:
        """Make the ``r × c`` cell labels now (100 pyqtgraph text items take ~60 ms), so a
        later ``set_data`` of that shape only fills them in."""
        if len(self.texts) != r or (self.texts and len(self.texts[0]) != c):
            self._make_texts(r, c)

    def _make_texts(self, r: int, c: int) -> None:
        for row in self.texts:
            for item in row:
                self.plot.removeItem(item)
        font = QFont()
        font.setPointSize(8 if max(r, c) > 6 else 9)
        self.texts = []
        for i in range(r):
            row = []
            for j in range(c):
                item = pg.TextItem("", anchor=(0.5, 0.5))
                item.setFont(font)
                item.setPos(j + 0.5, i + 0.5)
                self.plot.addItem(item)
                row.append(item)
            self.texts.append(row)

    def cell_center(self, row: int, col: int) -> QPointF:
        """The widget coordinates of a cell's centre (for tests and tooltips)."""
        scene = self.plot.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
        return self.view.mapFromScene(scene).toPointF()

    def _on_click(self, event) -> None:
        if self.values is None or event.button() != Qt.MouseButton.LeftButton:
            return
        p = self.plot.vb.mapSceneToView(event.scenePos())
        r, c = self.values.shape
        row, col = math.floor(p.y()), math.floor(p.x())
        if 0 <= row < r and 0 <= col < c:
            self.cell_clicked.emit(row, col)


class BarChart(QWidget):
    """Vertical bars with category labels; ``set_bars(values, labels, colors)``.

    The title is a wrapping QLabel above the plot: a long pyqtgraph title would widen
    the plot past its splitter pane instead of wrapping."""

    def __init__(self, title: str = "", y_label: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLabel("left", y_label)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.showGrid(y=True, alpha=0.25)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.addItem(self.bars)
        self.heights = np.zeros(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.plot_widget, 1)

    def set_title(self, title: str) -> None:
        self.title.setText(title)

    def set_bars(self, values, labels, colors=None, y_range: tuple[float, float] | None = None) -> None:
        values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
        x = np.arange(len(values))
        brushes = [pg.mkBrush(c) for c in (colors or [TRAIN_COLOR] * len(values))]
        self.bars.setOpts(x=x, height=values, width=0.7, brushes=brushes, pen=pg.mkPen(None))
        self.heights = values
        self.plot.getAxis("bottom").setTicks([[(i, str(s)) for i, s in enumerate(labels)]])
        self.plot.setXRange(-0.6, len(values) - 0.4, padding=0)
        if y_range is not None:
            self.plot.setYRange(*y_range, padding=0.02)


class JobControls(QWidget):
    """A status line, the job's latest step text, a progress bar ("42 % · ETA 0:31") and
    a Cancel button for one job at a time. The bar's text stays short, so it never clips
    or wraps; the longer step text is elided. The job is forgotten when it ends."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.detail = ElidedLabel()
        self.detail.setStyleSheet("color: grey")
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(self.bar.fontMetrics().horizontalAdvance("100 % · ETA 0:00:00") + 24)
        self.bar.setMaximumWidth(260)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("stop after the current batch")
        self.job: Job | None = None
        texts = QVBoxLayout()
        texts.setContentsMargins(0, 0, 0, 0)
        texts.setSpacing(0)
        texts.addWidget(self.status)
        texts.addWidget(self.detail)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(texts, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.bar, self.detail, self.cancel_button):
            # hidden but still taking their room: a job starting or ending must not move
            # the plots below (their re-layout and repaint stalled the window ~35 ms each)
            policy = widget.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            widget.setSizePolicy(policy)
        self._show_running(False)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def track(self, job: Job, text: str = "") -> None:
        """Show ``job``'s progress until it ends (``text``: the first step text)."""
        self.job = job
        self.bar.setRange(0, 0)  # busy until the first report with a total
        self.bar.setFormat("")
        self.detail.setText(text)
        job.progress_changed.connect(self._on_progress)
        job.done.connect(self._on_done)
        self._show_running(True)

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.detail.setText("cancelling…")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: rgb(200, 40, 40);" if error else "")

    def _on_progress(self) -> None:
        job = self.job
        if job is None or job is not self.sender():
            return
        if job.fraction is not None:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * job.fraction))
            text = f"{100 * job.fraction:.0f} %"
            if job.eta_s is not None and job.fraction < 1:
                text += f" · ETA {format_duration(job.eta_s)}"
            self.bar.setFormat(text)
        if job.detail and not job.cancel_requested:
            self.detail.setText(job.detail)

    def _on_done(self) -> None:
        if self.sender() is self.job:
            self.job = None  # the session deletes it; keep nothing of it
            self.detail.setText("")
            self._show_running(False)

    def _show_running(self, running: bool) -> None:
        self.bar.setVisible(running)
        self.detail.setVisible(running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)


class NumericItem(QTableWidgetItem):
    """A table cell that sorts by its number (NaN last) while showing formatted text."""

    def __init__(self, value: float, text: str | None = None):
        super().__init__(text if text is not None else f"{value:g}")
        self.value = float(value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other) -> bool:
        if isinstance(other, NumericItem):
            a, b = self.value, other.value
            if math.isnan(a) or math.isnan(b):
                return not math.isnan(a) and math.isnan(b)
            return a < b
        return super().__lt__(other)


def image_to_qimage(image: np.ndarray, scale: int = 2) -> QImage:
    """One dataset image, uint8 ``(C, H, W)`` with C = 1 or 3 → an RGB QImage scaled up
    ``scale``× with nearest-neighbour (pixels stay square)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.asarray(img, dtype=np.float32) * 255.0, 0, 255).astype(np.uint8)
    hwc = np.repeat(img[0][..., None], 3, axis=2) if img.shape[0] == 1 else img.transpose(1, 2, 0)
    if scale > 1:
        hwc = hwc.repeat(scale, axis=0).repeat(scale, axis=1)
    return rgb_qimage(hwc)


def percent(v: float, digits: int = 1) -> str:
    """``0.973`` → ``"97.3 %"``; NaN → ``"—"``."""
    return "—" if not math.isfinite(v) else f"{100 * v:.{digits}f} %"


def model_problem(model, dataset) -> str | None:
    """Why ``model`` cannot be trained or evaluated on ``dataset`` (None when it can)."""
    if dataset is None:
        return "load a dataset first"
    if model is None:
        return "build or load a model first"
    if tuple(model.input_shape) != tuple(dataset.input_shape):
        return (f"the model takes {tuple(model.input_shape)} inputs but {dataset.name} images "
                f"are {tuple(dataset.input_shape)}: pick a matching network on the Model tab")
    if tuple(model.output_shape) != (dataset.n_classes,):
        return (f"the model outputs {tuple(model.output_shape)} but {dataset.name} has "
                f"{dataset.n_classes} classes")
    return None
