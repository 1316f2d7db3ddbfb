"""The "One SGD step" page of the Step by step tab: the whole network on this image —
activations and gradient maps of every layer, the loss — then ``W ← W − lr·dW`` on a copy
of the model: the chosen kernel before and after, and the loss before and after."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.step_forward import equation_row
from cnnlab.app.panels.step_grid import GridView, compact
from cnnlab.app.widgets import LogSpinBox, mosaic
from cnnlab.lab.step_walk import SgdStepReport


def as_map(values: np.ndarray) -> np.ndarray:
    """A layer's output for one image as one 2-D map: channels side by side in a mosaic
    (NaN gaps), a vector as one row."""
    if values.ndim == 3:
        tiles, _, _ = mosaic(values, columns=min(len(values), 4) if len(values) <= 8 else None)
        return tiles.astype(np.float64)
    values = values.reshape(-1)
    if values.size <= 16:
        return values[None]
    side = int(np.ceil(np.sqrt(values.size)))  # a long vector as a square block, NaN-filled
    block = np.full(side * side, np.nan)
    block[:values.size] = values
    return block.reshape(side, side)


class SgdView(QWidget):
    """Press the button (the panel runs :func:`cnnlab.lab.step_walk.sgd_step` in a job and
    calls ``show_report``)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.lr = LogSpinBox(1e-5, 10.0, 0.01)
        self.lr.setToolTip("learning rate of the plain SGD step")
        self.step_button = QPushButton("Take one SGD step (on a copy)")
        self.step_button.setToolTip("forward, loss, backward, W ← W − lr·dW, forward again — on a "
                                    "copy: the app's model does not change")
        self.summary = QLabel("Press the button to run the whole network forward and backward "
                              "on this image and take one step.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("learning rate"))
        controls.addWidget(self.lr)
        controls.addWidget(self.step_button)
        controls.addWidget(self.summary, 1)

        self.layers_box = QWidget()
        self.layers_grid = QGridLayout(self.layers_box)
        self.layers_grid.setContentsMargins(0, 0, 0, 0)
        self.layers_grid.addWidget(QLabel("forward:\nactivations"), 1, 0)
        self.layers_grid.addWidget(QLabel("backward:\n∂loss/∂output"), 2, 0)
        self.layer_views: list[tuple[QLabel, GridView, GridView]] = []
        area = QScrollArea()
        area.setWidget(self.layers_box)
        area.setWidgetResizable(True)
        area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.before = GridView("W before", min_cell=2)
        self.grad = GridView("dW", min_cell=2)
        self.after = GridView("W after", min_cell=2)
        self.kernel_title = QLabel()
        kernels, _ = equation_row(self.before, "−  lr ×", self.grad, "=", self.after)
        kernel_box = QVBoxLayout()
        kernel_box.addWidget(self.kernel_title)
        kernel_box.addLayout(kernels, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(area, 3)
        layout.addLayout(kernel_box, 2)

    def _ensure_columns(self, n: int) -> None:
        while len(self.layer_views) < n:
            col = len(self.layer_views) + 1
            name, act, grad = QLabel(), GridView(min_cell=1), GridView(min_cell=1)
            name.setAlignment(Qt.AlignmentFlag.AlignCenter)
            for w in (act, grad):
                w.setMinimumSize(90, 90)
            self.layers_grid.addWidget(name, 0, col)
            self.layers_grid.addWidget(act, 1, col)
            self.layers_grid.addWidget(grad, 2, col)
            self.layer_views.append((name, act, grad))
        for i, widgets in enumerate(self.layer_views):
            for w in widgets:
                w.setVisible(i < n)

    def clear(self, message: str = "") -> None:
        self._ensure_columns(0)
        for grid in (self.before, self.grad, self.after):
            grid.set_values(None)
        self.kernel_title.setText("")
        if message:
            self.summary.setText(message)

    def show_report(self, r: SgdStepReport, in_channel: int) -> None:
        self._ensure_columns(len(r.names))
        for (name, act, grad), title, a, g in zip(self.layer_views, r.names, r.activations,
                                                   r.gradients):
            name.setText(f"{title}\n{'×'.join(map(str, a.shape))}")
            act.set_values(as_map(a), cmap="grey" if a.ndim == 3 else "diverging")
            grad.set_values(as_map(g))
        p0, p1 = r.probabilities_before[r.label], r.probabilities_after[r.label]
        better = "lower" if r.loss_after < r.loss_before else "<b>higher</b> (lr too large?)"
        self.summary.setText(
            f"loss on label {r.label}: <b>{r.loss_before:.4g} → {r.loss_after:.4g}</b> ({better}); "
            f"p(label) {100 * p0:.2f} % → {100 * p1:.2f} %; lr = {r.lr:.3g}")
        if r.kernel_layer is None:
            self.kernel_title.setText("This model has no conv layer: no kernel to show.")
            for grid in (self.before, self.grad, self.after):
                grid.set_values(None)
            return
        i = min(in_channel, r.kernel_before.shape[0] - 1)
        change = float(np.max(np.abs(r.kernel_after[i] - r.kernel_before[i])))
        self.kernel_title.setText(
            f"kernel of layer #{r.kernel_layer}, output channel {r.channel}, input channel {i}:  "
            f"W ← W − lr·dW  (largest change {compact(change, 3)})")
        m = float(max(np.abs(r.kernel_before[i]).max(), np.abs(r.kernel_after[i]).max())) or 1.0
        self.before.set_values(r.kernel_before[i], levels=(-m, m))
        self.grad.set_values(r.kernel_grad[i])
        self.after.set_values(r.kernel_after[i], levels=(-m, m))
