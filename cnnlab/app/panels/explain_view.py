"""The Draw tab's "Why?" view: what in the drawing made the network say 3.

Three overlays on the 28×28 network input, each with a colour bar and one line of plain
language: saliency (the gradient of the digit's score), occlusion (the probability lost
when a patch is covered) and Grad-CAM (where the last conv layer looked). The numbers come
from ``lab.explain``; they are computed in a session job on a private copy of the model,
only while this view is visible, newest drawing first (older requests are dropped).
"""

from __future__ import annotations

import html
import math
import time

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.drawing_job_view import DrawingJobView
from cnnlab.app.widgets import diverging_colormap, image_plot, sequential_colormap
from cnnlab.lab.explain import explain_image

TEXT = {  # one line under each overlay; the tooltip says more
    "saliency": "pixels whose change moves the score of {d} most",
    "occlusion": "covering a {p}×{p} patch here costs {d} the most probability",
    "grad_cam": "where the last conv layer looked for {d}",
}
TIPS = {
    "saliency": ("Saliency: the gradient of the score (logit) of {d} with respect to each input "
                 "pixel.\nRed: brightening the pixel would raise the score; blue: lower it."),
    "occlusion": ("Occlusion: the probability of {d} minus its probability when a {p}×{p} patch "
                  "around the pixel is blacked out\n(averaged over the patches covering it). "
                  "Red: covering here costs the most; blue: covering it helps."),
    "grad_cam": ("Grad-CAM: the last conv layer's feature maps, each weighted by how much it "
                 "raises the score of {d}\n(its mean gradient), summed, negatives cut off, "
                 "and scaled up to 28×28."),
}


def overlay(base: np.ndarray, values: np.ndarray, cmap: pg.ColorMap,
            levels: tuple[float, float], signed: bool) -> np.ndarray:
    """``values`` ``(H, W)`` coloured by ``cmap`` over the dimmed grey ``base`` (in [0, 1]);
    strong values are opaque, weak ones let the digit show through. uint8 ``(H, W, 3)``."""
    lo, hi = levels
    t = np.clip((values - lo) / (hi - lo), 0, 1)
    if signed:  # the colour of the sign, opacity from the size: weak values stay clear
        ends = cmap.map(np.array([0.0, 1.0]), mode="float")[:, :3]  # (2, 3)
        colours = np.where((values >= 0)[..., None], ends[1], ends[0])
        alpha = np.clip(np.abs(values) / max(abs(lo), abs(hi)), 0, 1)
    else:
        colours = cmap.map(t.ravel(), mode="float")[:, :3].reshape(*values.shape, 3)
        alpha = t
    alpha = alpha ** 0.8 * 0.9
    grey = (0.12 + 0.5 * np.clip(base, 0, 1))[..., None]
    rgb = (1 - alpha[..., None]) * grey + alpha[..., None] * colours
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def map_levels(values: np.ndarray, signed: bool) -> tuple[float, float]:
    """Colour-bar range: symmetric around 0 for signed maps, 0 … max otherwise (never empty)."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    top = top if top > 0 and math.isfinite(top) else 1.0
    return (-top, top) if signed else (0.0, top)


class ImageArea(pg.GraphicsLayoutWidget):
    """A white plot area that asks for a useful size but shrinks to ``minimum`` on small
    windows, and never claims extra height from the drawing above (not vertically expanding)."""

    def __init__(self, hint=(220, 180), minimum=(120, 60)):
        super().__init__()
        self._hint = QSize(*hint)
        self.setBackground("w")
        self.setMinimumSize(*minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # Qt override
        return self._hint


class OverlayPane(QWidget):
    """Image with colour bar over one line: the title in bold and what it shows."""

    def __init__(self, key: str, cmap: pg.ColorMap, signed: bool, parent=None):
        super().__init__(parent)
        self.key, self.cmap, self.signed = key, cmap, signed
        self.view = ImageArea()
        self.plot = image_plot(self.view)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, width=10)
        self.view.addItem(self.bar)
        self.text = QLabel()
        # one line, clipped when narrow (the tooltip has the whole story); a word-wrapped
        # label's height-for-width would take the drawing's room above
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.text)
        self.values: np.ndarray | None = None
        self.title = ""

    def show_map(self, base: np.ndarray, values: np.ndarray | None, title: str, text: str,
                 tip: str = "") -> None:
        self.values = values
        self.title = title
        self.text.setText(f"<b>{html.escape(title)}</b>: {html.escape(text)}")
        self.setToolTip(tip)
        if values is None:
            self.image.clear()
            return
        levels = map_levels(values, self.signed)
        self.bar.setLevels(levels)
        self.image.setImage(overlay(base, values, self.cmap, levels, self.signed), levels=(0, 255))

    def clear(self, text: str = "") -> None:
        self.values = None
        self.image.clear()
        self.text.setText(text)


class ExplainView(DrawingJobView):
    """Call :meth:`set_input` with the model and ``DigitGuess`` after every prediction."""

    job_name = "explain the drawing"

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(session, parent)
        self.result = None  # the latest Explanation shown
        self.target = QComboBox()
        self.target.addItem("the prediction", None)
        for d in range(10):
            self.target.addItem(f"digit {d}", d)
        self.target.setToolTip("which digit's score to explain")
        self.patch = QSpinBox()
        self.patch.setRange(2, 14)
        self.patch.setValue(4)
        self.patch.setToolTip("occlusion: side of the covered square, in pixels")
        self.stride = QSpinBox()
        self.stride.setRange(1, 7)
        self.stride.setValue(2)
        self.stride.setToolTip("occlusion: step between patch positions, in pixels")
        self.status = QLabel("draw a digit to see why the network says what it says")
        self.status.setStyleSheet("color: #555;")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.target.currentIndexChanged.connect(self.resend)
        self.patch.valueChanged.connect(self.resend)
        self.stride.valueChanged.connect(self.resend)
        row = QHBoxLayout()
        for w in (QLabel("Explain the score of"), self.target, QLabel("occlusion patch"),
                  self.patch, QLabel("stride"), self.stride):
            row.addWidget(w)
        row.addWidget(self.status, 1)
        self.panes = {"saliency": OverlayPane("saliency", diverging_colormap(), True),
                      "occlusion": OverlayPane("occlusion", diverging_colormap(), True),
                      "grad_cam": OverlayPane("grad_cam", sequential_colormap(), False)}
        panes = QHBoxLayout()
        for pane in self.panes.values():
            panes.addWidget(pane, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addLayout(panes, 1)

    # ------------------------------------------------------------- the job
    def show_empty(self, model) -> None:
        for pane in self.panes.values():
            pane.clear()
        self.status.setText("draw a digit to see why the network says what it says"
                            if model is not None else "no digit model")

    def make_work(self, model, guess):
        target = self.target.currentData()
        target = guess.label if target is None else int(target)
        x = guess.network_input[None].copy()  # (1, 28, 28)
        patch, stride = self.patch.value(), self.stride.value()
        self.status.setText("computing…")

        def work(_ctx):
            start = time.perf_counter()
            result = explain_image(model, x, target, patch, stride)
            return x[0], result, patch, time.perf_counter() - start

        return work

    def show_failure(self, message: str) -> None:
        self.status.setText(f"could not explain: {message}")

    def show_result(self, payload) -> None:
        base, result, patch, seconds = payload
        self.result = result
        d = result.target
        p = result.probability
        shown = "> 99.9 %" if p >= 0.9995 else f"{100 * p:.1f} %"
        self.status.setText(f"explaining {d} (probability {shown}) · {1000 * seconds:.0f} ms")
        for key, values, title in (("saliency", result.saliency, "Saliency"),
                                   ("occlusion", result.occlusion, "Occlusion")):
            self.panes[key].show_map(base, values, f"{title} for {d}",
                                     TEXT[key].format(d=d, p=patch), TIPS[key].format(d=d, p=patch))
        if result.grad_cam is None:
            self.panes["grad_cam"].show_map(base, None, "Grad-CAM", "this model has no conv layer")
        else:
            self.panes["grad_cam"].show_map(base, result.grad_cam, f"Grad-CAM for {d}",
                                            TEXT["grad_cam"].format(d=d),
                                            TIPS["grad_cam"].format(d=d))
