"""The Backward page of the Step by step tab: dZ (the loss's gradient at this layer's
output), and window by window the three accumulations of the exercise with their running
totals — ``dA_prev[window] += W·dZ``, ``dW[c] += a_slice·dZ``, ``db[c] += dZ`` — or, for
pooling, the mask (max) or the evenly distributed value (avg)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import QWidget

from cnnlab.app.panels.step_forward import TIE_NOTE, StepView, fmt, taps_of
from cnnlab.app.panels.step_grid import GridView
from cnnlab.lab.step_by_step import LayerProblem
from cnnlab.lab.step_walk import ChannelWalk, channel_input_grad


class BackwardView(StepView):
    """``show_walk(problem, walk, in_channel)`` after every step."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dx_map = GridView("dA_prev")
        self.dw_map = GridView("dW")
        self.dz_map = GridView("dZ")
        self.first_grid = GridView("")
        self.second_grid = GridView("")
        self._lay_out((self.dx_map, self.dw_map, self.dz_map), self.first_grid, " ",
                      self.second_grid)

    def show_walk(self, p: LayerProblem, walk: ChannelWalk, in_channel: int) -> None:
        c = walk.channel
        dz = p.dz[0, c]
        self.dz_map.set_values(dz)
        self.dz_map.set_title(f"dZ[{c}] = ∂loss/∂output (label {p.label}, loss {p.loss:.3g})")
        self.dz_map.set_marks(cell=walk.cell)
        if p.kind == "conv":
            self._show_conv(p, walk, in_channel)
        else:
            self._show_pool(p, walk)

    def _show_conv(self, p: LayerProblem, walk: ChannelWalk, i: int) -> None:
        rec, c = walk.record, walk.channel
        ph, pw = p.padding
        shape = (p.a_prev.shape[2] + 2 * ph, p.a_prev.shape[3] + 2 * pw)
        dx = rec.dx_padded[0, i] if rec is not None else np.zeros(shape)
        dw = rec.dW[0, i] if rec is not None else np.zeros(p.kernel)
        # scales of the finished totals from the first step on
        self.dx_map.set_values(dx, levels=_sym(channel_input_grad(p, c)[i]), padding=p.padding)
        self.dx_map.set_title(f"dA_prev[{i}] from channel {c}, running (padding hatched)")
        self.dx_map.set_marks(taps_of(rec) if rec is not None else ())
        self.dw_map.set_values(dw, levels=_sym(p.engine_dW[c, i]))
        self.dw_map.set_title(f"dW[{c}, {i}], running")
        self.first_grid.set_title(f"W[{c}, {i}] · dZ → added to dA_prev")
        self.second_grid.set_title("a_slice · dZ → added to dW")
        if rec is None:
            self.first_grid.set_values(None)
            self.second_grid.set_values(None)
            self.result.setText("Press <b>Step</b> or <b>Play</b>, or click a dZ cell.")
            return
        self.first_grid.set_values(rec.dx_added[i])
        self.second_grid.set_values(rec.dW_added[i])
        g = rec.grad
        lines = [f"<b>dZ[{c}, {rec.row}, {rec.col}] = {fmt(g)}</b>",
                 f"dA_prev[:, rows {_span(rec.rows)}, cols {_span(rec.cols)}] += W[{c}] · {fmt(g)}",
                 f"dW[{c}] += a_slice · {fmt(g)}",
                 f"db[{c}] += {fmt(g)} → <b>db[{c}] = {fmt(float(rec.db[0]))}</b>"]
        if g == 0:
            lines.append("<span style='color:#666'>dZ = 0: this output does not move the loss "
                         "(a ReLU after it is off, or a max pool did not pick it), so this "
                         "window adds nothing</span>")
        if walk.done:
            lines.append(f"channel {c} done: dW[{c}, {i}] and db[{c}] equal the engine's "
                         f"(max |Δ| {_diff(rec.dW[0], p.engine_dW[c]):.1e})")
        self.result.setText("<br>".join(lines))

    def _show_pool(self, p: LayerProblem, walk: ChannelWalk) -> None:
        rec, c = walk.record, walk.channel
        dx = rec.dx[0, 0] if rec is not None else np.zeros(p.a_prev.shape[2:])
        total = p.engine_dx[0, c]
        self.dx_map.set_values(dx, levels=_sym(total))
        self.dx_map.set_title(f"dA_prev[{c}], running")
        self.dx_map.set_marks(taps_of(rec) if rec is not None else ())
        if rec is None:
            for grid in (self.dw_map, self.first_grid, self.second_grid):
                grid.set_values(None)
            self.result.setText("Press <b>Step</b> or <b>Play</b>, or click a dZ cell.")
            return
        kh, kw = p.kernel
        winner = None
        if p.kind == "max":
            r, k = np.unravel_index(np.argmax(rec.window), rec.window.shape)
            winner = (int(r), int(k))
        self.dw_map.set_values(rec.window, cmap="grey")
        self.dw_map.set_marks(winner=winner)
        self.dw_map.set_title("window of the input" + (" (orange: first max)" if winner else ""))
        if p.kind == "max":
            mask = np.zeros(rec.window.shape)
            mask[winner] = 1.0
            self.first_grid.set_values(mask, cmap="grey", levels=(0.0, 1.0))
            self.first_grid.set_title("mask (create_mask)")
            text = (f"<b>dZ[{c}, {rec.row}, {rec.col}] = {fmt(rec.grad)}</b><br>"
                    f"dA_prev[window] += mask · dZ: only the first maximum gets it")
            if int(np.sum(rec.window == rec.window.max())) > 1:
                text += f"<br><span style='color:#b35c00'>tie — {TIE_NOTE}</span>"
        else:
            self.first_grid.set_values(np.full((kh, kw), 1.0 / (kh * kw)), cmap="grey",
                                       levels=(0.0, 1.0))
            self.first_grid.set_title(f"1/{kh * kw} everywhere (distribute_value)")
            text = (f"<b>dZ[{c}, {rec.row}, {rec.col}] = {fmt(rec.grad)}</b><br>dA_prev[window] += "
                    f"dZ / {kh * kw} = {fmt(rec.grad / (kh * kw))} on every element")
        self.second_grid.set_values(rec.share, levels=_sym(rec.share))
        self.second_grid.set_title("added to dA_prev")
        self.result.setText(text)


def _sym(values: np.ndarray) -> tuple[float, float]:
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    m = m if m > 0 and np.isfinite(m) else 1.0
    return -m, m


def _diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _span(taps: tuple[int, ...]) -> str:
    return f"{taps[0]}…{taps[-1]}" + (f" step {taps[1] - taps[0]}" if len(taps) > 1 and
                                       taps[1] - taps[0] > 1 else "")
