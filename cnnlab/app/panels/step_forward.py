"""The Forward page of the Step by step tab: the (padded) input with the sliding window,
the kernel, and the output filling in cell by cell; below, the window's numbers, the
kernel's, their products and ``Σ + b`` (for pooling: the window, its max or mean)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnnlab.app.panels.step_grid import GridView, compact
from cnnlab.engine.reference import zero_pad
from cnnlab.lab.step_by_step import LayerProblem
from cnnlab.lab.step_walk import ChannelWalk

TIE_NOTE = ("ties: the engine (like PyTorch) sends the gradient to the <b>first</b> maximum "
            "only; the textbook's <code>create_mask</code> (x == max) marks every tied element")


def fmt(v: float) -> str:
    """3 significant digits (hover a cell for the full value)."""
    return compact(v, 3)


def operator(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    font = label.font()
    font.setPointSize(font.pointSize() + 6)
    label.setFont(font)
    return label


def taps_of(record) -> list[tuple[int, int]]:
    return [(r, c) for r in record.rows for c in record.cols]


def equation_row(*items) -> tuple[QHBoxLayout, list[QLabel]]:
    """Grids and operator signs side by side; strings become operator labels (returned
    too, to hide them when a layer has no such step)."""
    row, signs = QHBoxLayout(), []
    for item in items:
        if isinstance(item, str):
            signs.append(operator(item))
            row.addWidget(signs[-1], 0)
        else:
            row.addWidget(item, 1)
    return row, signs


class StepView(QWidget):
    """Three maps on top — the input side, the kernel, the output side (click a cell of the
    last to jump there) — and below them an equation row ending in the result text."""

    cell_clicked = pyqtSignal(int, int)

    def _lay_out(self, top: tuple[GridView, GridView, GridView], *equation) -> list[QLabel]:
        """Returns the equation's operator labels."""
        top[2].setCursor(Qt.CursorShape.PointingHandCursor)
        top[2].setToolTip("click a cell to jump there")
        top[2].cell_clicked.connect(self.cell_clicked)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        font = self.result.font()
        font.setPointSize(font.pointSize() + 2)
        self.result.setFont(font)
        self.result.setMinimumWidth(240)
        row = QHBoxLayout()
        for grid, stretch in zip(top, (5, 3, 5)):
            row.addWidget(grid, stretch)
        self.equation, signs = equation_row(*equation)
        self.equation.addWidget(self.result, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 3)
        layout.addLayout(self.equation, 2)
        return signs


class ForwardView(StepView):
    """``show_walk(problem, walk, in_channel)`` after every step."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.input_map = GridView("input")
        self.kernel_map = GridView("kernel")
        self.output_map = GridView("output")
        self.window_grid = GridView("window")
        self.kernel_grid = GridView("kernel")
        self.products_grid = GridView("window ⊙ kernel")
        self.signs = self._lay_out((self.input_map, self.kernel_map, self.output_map),
                                   self.window_grid, "⊙", self.kernel_grid, "=", self.products_grid)

    def show_walk(self, p: LayerProblem, walk: ChannelWalk, in_channel: int) -> None:
        for widget in (*self.signs, self.kernel_grid, self.products_grid):
            widget.setVisible(p.kind == "conv")  # pooling: the window and its max or mean
        if p.kind == "conv":
            self._show_conv(p, walk, in_channel)
        else:
            self._show_pool(p, walk)

    def _show_output(self, p: LayerProblem, walk: ChannelWalk, title: str) -> None:
        rec, c = walk.record, walk.channel
        out = rec.output[0, 0] if rec is not None else np.zeros(p.out_hw)
        # the finished map's colour scale from the start, so cells keep their colour
        self.output_map.set_values(out, levels=_levels(p.z[0, c], p.kind), known=walk.done_mask(),
                                   cmap="diverging" if p.kind == "conv" else "grey")
        self.output_map.set_title(title)
        self.output_map.set_marks(cell=walk.cell)

    def _show_conv(self, p: LayerProblem, walk: ChannelWalk, i: int) -> None:
        rec, c = walk.record, walk.channel
        kh, kw = p.kernel
        self.input_map.set_values(zero_pad(p.a_prev, p.padding)[0, i], cmap="grey",
                                  padding=p.padding)
        self.input_map.set_title(f"input channel {i}, padded by {_pair(p.padding)} (hatched)")
        self.input_map.set_marks(taps_of(rec) if rec is not None else ())
        self.kernel_map.set_values(p.W[c, i])
        self.kernel_map.set_title(f"kernel W[{c}, {i}]  {kh}×{kw}")
        self._show_output(p, walk, f"output channel {c}  {p.out_hw[0]}×{p.out_hw[1]}")
        self.window_grid.set_title("window")
        self.kernel_grid.set_title(f"W[{c}, {i}]")
        self.kernel_grid.set_values(p.W[c, i])
        self.products_grid.set_title("products")
        if rec is None:
            self.window_grid.set_values(None)
            self.products_grid.set_values(None)
            self.result.setText("Press <b>Step</b> or <b>Play</b>, or click an output cell.")
            return
        self.window_grid.set_values(rec.window[i], cmap="grey")
        self.products_grid.set_values(rec.products[i])
        here = float(rec.products[i].sum())
        total = float(rec.products.sum())
        lines = [f"<b>output[{c}, {rec.row}, {rec.col}]</b>", f"Σ products (channel {i}) = {fmt(here)}"]
        if p.in_channels > 1:
            lines.append(f"Σ over all {p.in_channels} input channels = {fmt(total)}")
        lines.append(f"+ b[{c}] = {fmt(total)} + {fmt(rec.bias)}")
        lines.append(f"= <b>{fmt(rec.value)}</b>")
        lines.append(f"<span style='color:#666'>window rows {_span(rec.rows)}, columns "
                     f"{_span(rec.cols)} of the padded input (stride {_pair(p.stride)}, "
                     f"dilation {_pair(p.dilation)})</span>")
        self.result.setText("<br>".join(lines))

    def _show_pool(self, p: LayerProblem, walk: ChannelWalk) -> None:
        rec, c = walk.record, walk.channel
        kh, kw = p.kernel
        what = "max" if p.kind == "max" else "mean"
        self.input_map.set_values(p.a_prev[0, c], cmap="grey")
        self.input_map.set_title(f"input channel {c}")
        self.input_map.set_marks(taps_of(rec) if rec is not None else ())
        self._show_output(p, walk, f"output channel {c} ({what} of each {kh}×{kw} window)")
        if rec is None:
            self.kernel_map.set_values(None)
            self.window_grid.set_values(None)
            self.result.setText("Press <b>Step</b> or <b>Play</b>, or click an output cell.")
            return
        winner = None
        if rec.mask is not None:
            r, k = np.argwhere(rec.mask)[0]
            winner = (int(r), int(k))
        for grid in (self.kernel_map, self.window_grid):
            grid.set_values(rec.window, cmap="grey")
            grid.set_marks(winner=winner)
        self.kernel_map.set_title(f"window, stride {_pair(p.stride)}")
        self.window_grid.set_title("window" + (" (orange: first maximum)" if winner else ""))
        if p.kind == "max":
            ties = int(np.sum(rec.window == rec.window.max()))
            text = f"<b>output[{c}, {rec.row}, {rec.col}]</b> = max(window) = <b>{fmt(rec.value)}</b>"
            if ties > 1:
                text += f"<br>{ties} elements share the maximum — {TIE_NOTE}"
        else:
            text = (f"<b>output[{c}, {rec.row}, {rec.col}]</b> = Σ window / {kh * kw} = "
                    f"{fmt(float(rec.window.sum()))} / {kh * kw} = <b>{fmt(rec.value)}</b>")
        self.result.setText(text)


def _levels(values: np.ndarray, kind: str) -> tuple[float, float]:
    if kind == "conv":
        m = float(np.max(np.abs(values))) or 1.0
        return -m, m
    lo, hi = float(min(values.min(), 0.0)), float(values.max())
    return lo, hi if hi > lo else lo + 1.0


def _pair(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def _span(taps: tuple[int, ...]) -> str:
    return ", ".join(map(str, taps))
