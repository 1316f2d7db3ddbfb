"""The Train tab's 2×2 grid of live plots.

Batch loss (raw, faint; smoothed, bold), epoch loss and epoch accuracy (train vs
validation), and the first layer's filters. Both loss/accuracy x axes are in epochs (a
batch at ``b`` of ``B`` in epoch ``e`` sits at ``e − 1 + b/B``), so runs with different
batch sizes line up. The previous run stays drawn in grey. Curves are created once and
updated with ``setData``, at most every ``REDRAW_MS`` however fast reports arrive; point
counts are capped (``Series``) and pyqtgraph downsamples and clips to the view, so an
hour-long run draws as fast as a short one.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QGridLayout, QWidget

from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.widgets import PREVIOUS_COLOR, TRAIN_COLOR, VAL_COLOR, TileGrid
from cnnlab.lab.training_monitor import EMA, Series, first_layer_view

_TITLE = {"color": "#333", "size": "10pt"}
#: Smoothing of the batch curve once every batch is known (a run reports ~20 batches per
#: second while it trains, so the live curve is smoothed over fewer, sparser points).
FULL_HISTORY_BETA = 0.9
#: Milliseconds between redraws while reports stream in (≤ 8 repaints per second).
REDRAW_MS = 125


def _faint(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


def _plot(title: str, x_label: str, y_label: str, y_units: str | None = None) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(title, **_TITLE)
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label, units=y_units)
    # no grid: pyqtgraph draws grid lines with the axes, which doubles every repaint
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.getAxis("left").enableAutoSIPrefix(False)
    widget.setMinimumSize(220, 150)
    return widget


class RunCurves:
    """The series of one run: batch loss (raw and smoothed) and per-epoch values."""

    def __init__(self):
        self.batch_raw = Series()
        self.batch_smooth = Series()
        self.ema = EMA(0.8)
        self.epoch = {key: Series(4096) for key in ("loss", "val_loss", "acc", "val_acc",
                                                     "prec", "val_prec")}
        self.epochs = 0  # epochs the run was started with

    def add_batch(self, report) -> None:
        x = report.epoch - 1 + report.batch / report.batches
        self.batch_raw.append(x, report.loss)
        self.batch_smooth.append(x, self.ema.update(report.loss))

    def set_all_batches(self, losses, batches: int) -> None:
        """Replace the (throttled) batch curve by every batch's loss, ``batches`` per
        epoch: batch ``i`` (0-based, counted over the run) sits at ``(i + 1) / batches``."""
        self.batch_raw.clear()
        self.batch_smooth.clear()
        self.ema = EMA(FULL_HISTORY_BETA)
        for i, loss in enumerate(losses):
            x = (i + 1) / batches
            self.batch_raw.append(x, loss)
            self.batch_smooth.append(x, self.ema.update(loss))

    def add_epoch(self, report) -> None:
        self.epoch["loss"].append(report.epoch, report.train_loss)
        self.epoch["acc"].append(report.epoch, 100 * report.train_acc)
        if report.val_loss is not None:
            self.epoch["val_loss"].append(report.epoch, report.val_loss)
        if report.val_acc is not None:
            self.epoch["val_acc"].append(report.epoch, 100 * report.val_acc)
        for key, value in (("prec", getattr(report, "train_precision", None)),
                           ("val_prec", getattr(report, "val_precision", None))):
            if value is not None:  # only when the run tracks precision
                self.epoch[key].append(report.epoch, 100 * value)

    @property
    def empty(self) -> bool:
        return len(self.batch_raw) == 0 and len(self.epoch["loss"]) == 0


class TrainingPlots(QWidget):
    """The plot grid; ``start_run()`` moves the current curves to "previous run"."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.current = RunCurves()
        self.previous: RunCurves | None = None

        self.batch_plot = _plot("Loss per batch", "epoch", "cross-entropy loss")
        self.loss_plot = _plot("Loss per epoch", "epoch", "cross-entropy loss")
        self.acc_plot = _plot("Accuracy per epoch", "epoch", "accuracy", "%")
        self.filters = TileGrid("First layer's filters")
        self.filters.view.setMinimumSize(220, 150)

        prev_pen = pg.mkPen(PREVIOUS_COLOR, width=1.5)
        prev_dash = pg.mkPen(PREVIOUS_COLOR, width=1.5, style=Qt.PenStyle.DashLine)
        b = self.batch_plot.getPlotItem()
        self.batch_legend = b.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.prev_batch_curve = b.plot(pen=prev_pen)
        # the raw curve has the most points and is faint: antialiasing it costs paint time
        # and shows nothing
        self.batch_raw_curve = b.plot(pen=pg.mkPen(_faint(TRAIN_COLOR, 70), width=1),
                                      antialias=False)
        self.batch_smooth_curve = b.plot(pen=pg.mkPen(TRAIN_COLOR, width=2.5))
        self.batch_legend.addItem(self.batch_raw_curve, "batch")
        self.batch_legend.addItem(self.batch_smooth_curve, "smoothed")

        self.epoch_curves: dict[str, pg.PlotDataItem] = {}
        self.prev_epoch_curves: dict[str, pg.PlotDataItem] = {}
        self.epoch_legends = {}
        for metric, plot, offset in (("loss", self.loss_plot, (-8, 8)),
                                     ("acc", self.acc_plot, (-8, -8))):  # acc rises: legend low
            item = plot.getPlotItem()
            self.epoch_legends[metric] = item.addLegend(offset=offset, labelTextSize="8pt")
            self.prev_epoch_curves[metric] = item.plot(pen=prev_pen)
            self.prev_epoch_curves[f"val_{metric}"] = item.plot(pen=prev_dash)
            self.epoch_curves[metric] = item.plot(
                pen=pg.mkPen(TRAIN_COLOR, width=2), symbol="o", symbolSize=6,
                symbolBrush=TRAIN_COLOR, symbolPen=None, name="train")
            self.epoch_curves[f"val_{metric}"] = item.plot(
                pen=pg.mkPen(VAL_COLOR, width=2), symbol="s", symbolSize=6,
                symbolBrush=VAL_COLOR, symbolPen=None, name="validation")
        self._previous_in_legend = False
        # macro precision (when the run tracks it): dotted, on the accuracy plot
        acc_item = self.acc_plot.getPlotItem()
        for key, color in (("prec", TRAIN_COLOR), ("val_prec", VAL_COLOR)):
            self.epoch_curves[key] = acc_item.plot(
                pen=pg.mkPen(color, width=1.5, style=Qt.PenStyle.DotLine), symbol="t",
                symbolSize=7, symbolBrush=color, symbolPen=None)
        self._precision_in_legend = False
        # Reports arrive at up to ~20/s; repainting a plot costs several ms (axes text,
        # antialiased curves), so changes are drawn together at most every REDRAW_MS.
        self._dirty: set[str] = set()
        self._weights_model = None
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self.flush)

        # before the first run: the frame a run will fill (loss of a 10-class guess ≈ 2.3)
        self.set_span(1)
        for plot in (self.batch_plot, self.loss_plot):
            plot.setYRange(0, 2.5, padding=0)
        self.acc_plot.setYRange(0, 100, padding=0)
        self.notes = [EmptyNote(self.batch_plot, "Press Train (Ctrl+Enter): the loss of every "
                                                 "batch appears here as it trains"),
                      EmptyNote(self.loss_plot, "one point per epoch: training and validation loss"),
                      EmptyNote(self.acc_plot, "one point per epoch: training and validation "
                                               "accuracy")]

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.batch_plot, 0, 0)
        grid.addWidget(self.loss_plot, 0, 1)
        grid.addWidget(self.acc_plot, 1, 0)
        grid.addWidget(self.filters, 1, 1)

    # ------------------------------------------------------------- updates
    def start_run(self, epochs: int) -> None:
        """A run of ``epochs`` begins: the current one (if any) becomes the grey previous
        run, and the x axes span the longer of the two (whole epochs as ticks)."""
        if not self.current.empty:
            self.previous = self.current
            self._show_previous()
        self.current = RunCurves()
        self.current.epochs = epochs
        for note in self.notes:
            note.set_empty(False)
        self.set_span(max(epochs, self.previous.epochs if self.previous else 0))
        for plot in (self.batch_plot, self.loss_plot, self.acc_plot):
            plot.enableAutoRange(axis="y")
        self._dirty |= {"batches", "epochs"}
        self.flush()

    def set_span(self, epochs: int) -> None:
        """x axes from the start to ``epochs``, ticks on whole epochs."""
        epochs = max(1, int(epochs))
        step = max(1, math.ceil(epochs / 8))
        self.batch_plot.setXRange(0, epochs, padding=0.02)
        for plot in (self.loss_plot, self.acc_plot):
            plot.setXRange(1, max(epochs, 2), padding=0.05)
        for plot in (self.batch_plot, self.loss_plot, self.acc_plot):
            plot.getAxis("bottom").setTickSpacing(step, step)

    def add_batch(self, report) -> None:
        self.current.add_batch(report)
        self._mark("batches")

    def show_all_batches(self, losses, batches: int) -> None:
        """At the end of a run: draw every batch's loss (``History.batch_loss``)."""
        if losses and batches > 0:
            self.current.set_all_batches(losses, batches)
            self._mark("batches")

    def add_epoch(self, report) -> None:
        self.current.add_epoch(report)
        if getattr(report, "train_precision", None) is not None and not self._precision_in_legend:
            legend = self.epoch_legends["acc"]
            legend.addItem(self.epoch_curves["prec"], "train precision (macro)")
            legend.addItem(self.epoch_curves["val_prec"], "val. precision (macro)")
            self._precision_in_legend = True
        self._mark("epochs")

    def show_weights(self, model) -> None:
        """Show the first weighted layer of ``model`` (a snapshot or an idle model) at
        the next redraw."""
        self._weights_model = model
        self._mark("weights")

    def _mark(self, what: str) -> None:
        self._dirty.add(what)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def flush(self) -> None:
        """Draw everything that changed since the last redraw, now."""
        self._redraw_timer.stop()
        dirty, self._dirty = self._dirty, set()
        if "batches" in dirty:
            self._redraw_batches()
        if "epochs" in dirty:
            self._redraw_epochs()
        if "weights" in dirty:
            self._redraw_weights()

    def _redraw_weights(self) -> None:
        model, self._weights_model = self._weights_model, None
        view = first_layer_view(model) if model is not None else None
        if view is None:
            self.filters.clear()
            self.filters.set_title("no conv layer or image-sized Dense layer to show")
            return
        tiles, title = view
        self.filters.set_tiles(tiles.tiles, levels=tiles.levels, cmap=tiles.cmap,
                               columns=tiles.columns)
        self.filters.set_title(title)

    def _redraw_batches(self) -> None:
        c = self.current
        self.batch_raw_curve.setData(c.batch_raw.x.copy(), c.batch_raw.y.copy())
        self.batch_smooth_curve.setData(c.batch_smooth.x.copy(), c.batch_smooth.y.copy())

    def _redraw_epochs(self) -> None:
        for key, curve in self.epoch_curves.items():
            series = self.current.epoch[key]
            curve.setData(series.x.copy(), series.y.copy())

    def _show_previous(self) -> None:
        p = self.previous
        self.prev_batch_curve.setData(p.batch_smooth.x.copy(), p.batch_smooth.y.copy())
        for key, curve in self.prev_epoch_curves.items():
            curve.setData(p.epoch[key].x.copy(), p.epoch[key].y.copy())
        if not self._previous_in_legend:
            self.batch_legend.addItem(self.prev_batch_curve, "previous run")
            for metric, legend in self.epoch_legends.items():
                legend.addItem(self.prev_epoch_curves[metric], "previous run")
            self._previous_in_legend = True

    def curve_lengths(self) -> dict[str, int]:
        """Points held by each current-run curve (what the tests check)."""
        self.flush()
        out = {"batch": len(self.batch_raw_curve.xData if self.batch_raw_curve.xData is not None
                            else np.empty(0))}
        for key, curve in self.epoch_curves.items():
            out[key] = 0 if curve.xData is None else len(curve.xData)
        return out
