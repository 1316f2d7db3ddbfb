"""Experiments → Sweeps, right side: the grid's validation accuracy or loss (a switch) as a
heatmap or as lines against the learning rate, one line per value of the other parameter."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.experiment_widgets import LabelledHeatmap, percent
from cnnlab.lab.sweep_views import METRICS, cell_grid, lines_by_b

#: Line colours, one per value of the second parameter (matplotlib's tab10).
LINE_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127)]


class SweepResults(QWidget):
    """``show_rows(rows, params, values)`` draws the cells run so far; ``metric`` picks
    validation accuracy ("val_acc") or loss ("val_loss"), ``tabs`` heatmap or lines."""

    def __init__(self, titles: dict[str, str], parent: QWidget | None = None):
        super().__init__(parent)
        self.titles = titles
        self.metric = QComboBox()
        for key, text in METRICS.items():
            self.metric.addItem(text, key)
        self.metric.setToolTip("validation accuracy, or validation loss: a low loss with a "
                               "high accuracy is a confident model, not only a right one")
        self.heatmap = LabelledHeatmap()
        self.lines = pg.PlotWidget(background="w")
        self.lines.setLogMode(x=True, y=False)
        self.lines.getAxis("bottom").enableAutoSIPrefix(False)  # 10⁻³, not "1 (x0.001)"
        self.lines.showGrid(x=True, y=True, alpha=0.25)
        self.lines.setMenuEnabled(False)
        self.legend = self.lines.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.heatmap, "heatmap")
        self.tabs.addTab(self.lines, "lines")
        self.notes = [EmptyNote(self.heatmap.view, "one coloured cell per setting of the grid"),
                      EmptyNote(self.lines, "one line per value of the second parameter, "
                                            "against the learning rate")]
        top = QHBoxLayout()
        top.addWidget(QLabel("show"))
        top.addWidget(self.metric, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self._last = ([], ("lr", "l2"), ([], []))
        self._stale: set[QWidget] = set()  # views not yet drawn with self._last
        self.metric.currentIndexChanged.connect(lambda _i: self.show_rows(*self._last))
        self.tabs.currentChanged.connect(lambda _i: self._draw_shown())

    def show_rows(self, rows, params, values) -> None:
        """Show these rows. Only the visible view is drawn now (a sweep calls this after
        every cell, and rebuilding the hidden line plot cost ~15 ms of GUI time each);
        the other is drawn when its tab is opened."""
        self._last = (list(rows), params, values)
        for note in self.notes:
            note.set_empty(not rows)
        self._stale = {self.heatmap, self.lines}
        self._draw_shown()

    def _draw_shown(self) -> None:
        self._draw(self.tabs.currentWidget())

    def _draw(self, view: QWidget) -> None:
        if view not in self._stale:
            return
        self._stale.discard(view)
        rows, params, values = self._last
        metric = self.metric.currentData()
        if view is self.lines:
            self._show_lines(rows, params, values, metric)
            return
        a, b = (self.titles[p] for p in params)
        self.heatmap.set_title(METRICS[metric])  # short: the pane is narrow at 1024 px
        self.heatmap.plot.setLabel("left", a)
        self.heatmap.plot.setLabel("bottom", b)
        if values[0] and values[1]:
            self._show_grid(rows, *values, metric)

    def _show_grid(self, rows, va, vb, metric: str) -> None:
        grid = cell_grid(rows, va, vb, metric)
        diverged = {(r.a, r.b) for r in rows if r.diverged}
        texts = [["diverged" if (x, y) in diverged else
                  ("" if math.isnan(grid[i, j]) else
                   percent(grid[i, j]) if metric == "val_acc" else f"{grid[i, j]:.3f}")
                  for j, y in enumerate(vb)] for i, x in enumerate(va)]
        finite = grid[np.isfinite(grid)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 1.0
        if metric == "val_loss":  # dark = good: the lowest loss gets the strongest colour
            grid = hi + lo - grid
        # Stretch the colours over the results (a floor keeps one result from being white).
        levels = (min(lo, hi - 0.05) - 0.05, max(hi, lo + 0.05))
        self.heatmap.set_data(grid, [f"{v:g}" for v in va], [f"{v:g}" for v in vb], texts, levels)

    def _show_lines(self, rows, params, values, metric: str) -> None:
        plot = self.lines.getPlotItem()
        plot.clear()
        self.legend.clear()
        plot.setLabel("bottom", self.titles[params[0]])
        plot.setLabel("left", METRICS[metric] + (" (%)" if metric == "val_acc" else ""))
        scale = 100.0 if metric == "val_acc" else 1.0
        for k, (b, xs, ys) in enumerate(lines_by_b(rows, *values, metric)):
            color = LINE_COLORS[k % len(LINE_COLORS)]
            plot.plot(xs, scale * ys, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=7,
                      symbolBrush=color, symbolPen=None,
                      name=f"{self.titles[params[1]]} = {b:g}")

    def line_count(self) -> int:
        self._draw(self.lines)
        return len(self.lines.getPlotItem().listDataItems())
