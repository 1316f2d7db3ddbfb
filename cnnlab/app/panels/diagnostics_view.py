"""The Train tab's Diagnostics view: is the network learning, layer by layer?

Live during training, from the session's throttled ``diagnostics_reported`` reports
(``lab.training_diagnostics``): per layer the gradient norm and the update/weight ratio
(log scale, the healthy band 1e-4 … 1e-2 shaded), the fraction of dead ReLUs, weight and
activation histograms per epoch with a scrubber, and plain-language warnings with the
step where they began. The view only draws; nothing here computes on the model.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.widgets import ERROR_COLOR, PREVIOUS_COLOR
from cnnlab.lab.diagnostics import DEAD_FRACTION, HEALTHY_BAND
from cnnlab.lab.training_diagnostics import GradientReport, HistogramReport
from cnnlab.lab.training_monitor import Series

REDRAW_MS = 150
FLOOR = 1e-12  # zeros drawn at this height on the log axes
NO_WARNINGS = "No warnings so far: gradients flow and the ReLUs are alive."


def _plot(title: str, y_label: str, log_y: bool = True) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setBackground("w")
    plot.setTitle(title, color="#333", size="10pt")
    plot.setLabel("left", y_label)
    plot.setMenuEnabled(False)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setLogMode(y=log_y)
    plot.getAxis("left").enableAutoSIPrefix(False)  # 1e-4, not "0.1 (×0.001)"
    plot.setMinimumSize(200, 120)
    return plot


def layer_colour(position: int, count: int):
    return pg.intColor(position, hues=max(count, 3), values=1, maxValue=200, sat=200)


class DiagnosticsView(QWidget):
    """``DiagnosticsView(session)``: follows every training run of the session."""

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.histograms: list[HistogramReport] = []
        self.latest: GradientReport | None = None
        self.warnings = []
        self._grad: dict[int, Series] = {}
        self._ratio: dict[int, Series] = {}
        self._curves: dict[int, tuple] = {}  # layer index -> (gradient curve, ratio curve)
        self._warning_lines: list[pg.InfiniteLine] = []
        self._dead = []  # the ReLU LayerStats of the latest report
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._build()
        session.training_started.connect(lambda _cfg: self.clear())
        session.diagnostics_reported.connect(self.add_report)

    def _build(self) -> None:
        self.warning_label = QLabel(NO_WARNINGS)
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextFormat(Qt.TextFormat.RichText)
        self.warning_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grad_plot = _plot("gradient norm ‖dL/dW‖ per layer", "norm")
        self.grad_plot.setLabel("bottom", "step (batch)")
        self.legend = self.grad_plot.addLegend(offset=(-5, 5), labelTextSize="8pt",
                                               brush=(255, 255, 255, 190), verSpacing=-6)
        self.ratio_plot = _plot("update / weight ratio per step", "ratio")
        self.ratio_plot.setLabel("bottom", "step (batch)")
        lo, hi = HEALTHY_BAND
        self.band = pg.LinearRegionItem((math.log10(lo), math.log10(hi)), movable=False,
                                        orientation="horizontal", brush=(60, 170, 60, 40),
                                        pen=pg.mkPen((60, 170, 60, 90)))
        self.band.setToolTip(f"healthy band {lo:g} … {hi:g}: each step changes the weights "
                             "by about a thousandth")
        self.ratio_plot.addItem(self.band)
        self.dead_plot = _plot("dead ReLUs (zero for a whole batch)", "fraction", log_y=False)
        self.dead_plot.setYRange(0, 1, padding=0.02)
        self.dead_plot.setMouseEnabled(False, False)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=(200, 90, 60))
        self.dead_plot.addItem(self.dead_bars)
        self.dead_plot.addItem(pg.InfiniteLine(DEAD_FRACTION, angle=0, pen=pg.mkPen(
            (150, 150, 150), style=Qt.PenStyle.DashLine)))

        self.hist_kind = QComboBox()
        self.hist_kind.addItem("weights", "weights")
        self.hist_kind.addItem("activations", "activations")
        self.hist_layer = QComboBox()
        self.hist_layer.setMinimumContentsLength(8)
        self.hist_layer.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal)
        self.epoch_slider.setMinimumWidth(40)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setToolTip("scrub through the epochs")
        self.epoch_label = QLabel("no epochs yet")
        for signal in (self.hist_kind.currentIndexChanged, self.hist_layer.currentIndexChanged,
                       self.epoch_slider.valueChanged):
            signal.connect(self._show_histogram)
        self.hist_kind.currentIndexChanged.connect(self._fill_layers)
        self.hist_plot = _plot("histogram", "count", log_y=False)
        self.hist_plot.setMouseEnabled(False, False)
        self.hist_start = self.hist_plot.plot(stepMode="center", pen=pg.mkPen(PREVIOUS_COLOR))
        self.hist_plot.setToolTip("blue: the selected epoch; grey: before training")
        self.hist_now = self.hist_plot.plot(stepMode="center", fillLevel=0,
                                            brush=(31, 119, 180, 90), pen=pg.mkPen((31, 119, 180)))
        hist_controls = QHBoxLayout()
        for w in (self.hist_kind, self.hist_layer, self.epoch_slider, self.epoch_label):
            hist_controls.addWidget(w, 1 if w is self.epoch_slider else 0)
        hist_box = QVBoxLayout()
        hist_box.addLayout(hist_controls)
        hist_box.addWidget(self.hist_plot, 1)

        grid = QGridLayout()
        grid.addWidget(self.grad_plot, 0, 0)
        grid.addWidget(self.ratio_plot, 0, 1)
        grid.addLayout(hist_box, 1, 0)
        grid.addWidget(self.dead_plot, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.warning_label)
        layout.addLayout(grid, 1)

    # -------------------------------------------------------------- reports
    def clear(self) -> None:
        """Forget the previous run (a new one starts)."""
        self.histograms.clear()
        self.latest = None
        self.warnings = []
        for grad_curve, ratio_curve in self._curves.values():
            self.grad_plot.removeItem(grad_curve)
            self.ratio_plot.removeItem(ratio_curve)
        self.legend.clear()
        self._curves.clear()
        self._grad.clear()
        self._ratio.clear()
        for line in self._warning_lines:
            self.grad_plot.removeItem(line)
        self._warning_lines = []
        self._dead = []
        self.dead_bars.setOpts(x=[], height=[])
        self.warning_label.setText(NO_WARNINGS)
        self.warning_label.setStyleSheet("")
        self.epoch_slider.setRange(0, 0)
        self.hist_now.setData([], [])
        self.hist_start.setData([], [])
        self.epoch_label.setText("no epochs yet")

    def add_report(self, report) -> None:
        if isinstance(report, GradientReport):
            self._add_gradients(report)
        elif isinstance(report, HistogramReport):
            self.histograms.append(report)
            at_end = self.epoch_slider.value() == self.epoch_slider.maximum()
            self.epoch_slider.setRange(0, len(self.histograms) - 1)
            if len(self.histograms) == 1:
                self._fill_layers()
            if at_end:
                self.epoch_slider.setValue(len(self.histograms) - 1)
            self._show_histogram()

    def _add_gradients(self, report: GradientReport) -> None:
        self.latest = report
        weighted = [s for s in report.layers if not math.isnan(s.grad_norm)]
        for position, stat in enumerate(weighted):
            if stat.index not in self._curves:
                pen = pg.mkPen(layer_colour(position, len(weighted)), width=1.6)
                self._curves[stat.index] = (self.grad_plot.plot(pen=pen, name=stat.label),
                                            self.ratio_plot.plot(pen=pen))
                self._grad[stat.index], self._ratio[stat.index] = Series(4000), Series(4000)
                self.legend.setColumnCount(2 if len(self._curves) > 3 else 1)
            self._grad[stat.index].append(report.step, max(stat.grad_norm, FLOOR))
            if math.isfinite(stat.update_ratio):
                self._ratio[stat.index].append(report.step, max(stat.update_ratio, FLOOR))
        self._dead = [s for s in report.layers if not math.isnan(s.dead_fraction)]
        for warning in report.warnings:
            self.warnings.append(warning)
            line = pg.InfiniteLine(warning.step,  # where the problem began
                                   pen=pg.mkPen(ERROR_COLOR, style=Qt.PenStyle.DashLine))
            line.setToolTip(warning.message)
            self.grad_plot.addItem(line)
            self._warning_lines.append(line)
            self._show_warnings()
        if not self._timer.isActive():
            self._timer.start()

    def _redraw(self) -> None:
        for index, (grad_curve, ratio_curve) in self._curves.items():
            grad, ratio = self._grad[index], self._ratio[index]
            grad_curve.setData(grad.x.copy(), grad.y.copy())
            ratio_curve.setData(ratio.x.copy(), ratio.y.copy())
        relus = self._dead
        self.dead_plot.setTitle("dead ReLUs (zero for a whole batch)" if relus or not self._curves
                                else "dead ReLUs: this network has no ReLU layer",
                                color="#333", size="10pt")
        self.dead_bars.setOpts(x=np.arange(len(relus)), height=[s.dead_fraction for s in relus])
        self.dead_plot.getAxis("bottom").setTicks([[(i, s.label) for i, s in enumerate(relus)]])
        self.dead_plot.setXRange(-0.6, max(len(relus), 1) - 0.4, padding=0)

    def _show_warnings(self) -> None:
        lines = [f"⚠ {html.escape(w.text())}" for w in self.warnings]
        self.warning_label.setText("<br>".join(lines))
        self.warning_label.setStyleSheet(f"color: {ERROR_COLOR.name()};")

    # ----------------------------------------------------------- histograms
    def _fill_layers(self, *_args) -> None:
        kind = self.hist_kind.currentData()
        current = self.hist_layer.currentData()
        self.hist_layer.blockSignals(True)
        self.hist_layer.clear()
        if self.histograms:
            for h in getattr(self.histograms[0], kind):
                self.hist_layer.addItem(h.label, h.index)
        index = self.hist_layer.findData(current)
        self.hist_layer.setCurrentIndex(max(index, 0))
        self.hist_layer.blockSignals(False)
        self._show_histogram()

    def _find(self, report: HistogramReport):
        kind, index = self.hist_kind.currentData(), self.hist_layer.currentData()
        return next((h for h in getattr(report, kind) if h.index == index), None)

    def _show_histogram(self, *_args) -> None:
        if not self.histograms:
            return
        report = self.histograms[min(self.epoch_slider.value(), len(self.histograms) - 1)]
        self.epoch_label.setText("start" if report.epoch == 0 else f"epoch {report.epoch}")
        now, start = self._find(report), self._find(self.histograms[0])
        for curve, h in ((self.hist_now, now), (self.hist_start, start)):
            if h is None:
                curve.setData([], [])
            else:
                curve.setData(h.edges, h.counts)
        if now is not None:
            when = f"after epoch {report.epoch}" if report.epoch else "at the start"
            self.hist_plot.setTitle(f"{now.label} {self.hist_kind.currentText()}, {when}",
                                    color="#333", size="10pt")
