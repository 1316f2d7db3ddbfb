"""The Draw tab's "Fool it" view: an adversarial attack on the drawing.

An ε slider (0 … 0.3) runs FGSM or its 10-step iterative version (``lab.explain.fgsm``),
untargeted or towards a chosen digit, and shows the perturbed image, the perturbation
(stretched so ±ε fills the colour bar), the new probabilities beside the old ones, and the
smallest ε that changes the answer. Attacks run in session jobs on a private model copy.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.drawing_job_view import DrawingJobView
from cnnlab.app.panels.explain_view import ImageArea
from cnnlab.app.widgets import PREVIOUS_COLOR, TRAIN_COLOR, diverging_colormap, image_plot
from cnnlab.lab.explain import fgsm, smallest_flipping_eps

EPS_STEP = 0.005  # one slider notch
EPS_MAX = 0.3
ITERATIVE_STEPS = 10


def _percent(p: float) -> str:
    return "> 99.9 %" if p >= 0.9995 else f"{100 * p:.1f} %"


class FoolView(DrawingJobView):
    """``FoolView(session, canvas)``; call :meth:`set_input` after every prediction.
    "Send to canvas" pastes the perturbed image onto ``canvas`` (undoable)."""

    job_name = "fool the network"

    def __init__(self, session, canvas, parent: QWidget | None = None):
        super().__init__(session, parent)
        self.canvas = canvas
        self._smallest_key = None  # what the shown "smallest ε" was computed for
        self.adversarial: np.ndarray | None = None  # (1, 28, 28) of the latest attack
        self.smallest_eps: float | None = None
        self._build()

    def _build(self) -> None:
        self.eps_slider = QSlider(Qt.Orientation.Horizontal)
        self.eps_slider.setRange(0, round(EPS_MAX / EPS_STEP))
        self.eps_slider.setValue(20)
        self.eps_slider.setToolTip("ε: the most any pixel may change (pixels are 0 … 1)")
        self.eps_label = QLabel()
        self.eps_label.setMinimumWidth(70)
        self.method = QComboBox()
        self.method.addItem("FGSM (one step)", 1)
        self.method.addItem(f"iterative FGSM ({ITERATIVE_STEPS} steps)", ITERATIVE_STEPS)
        self.method.setToolTip("FGSM moves every pixel by ±ε along the sign of the loss gradient;"
                               "\nthe iterative version takes smaller steps and re-aims each time")
        self.goal = QComboBox()
        self.goal.addItem("any other digit", None)
        for d in range(10):
            self.goal.addItem(f"towards {d}", d)
        self.send_button = QPushButton("Send to canvas")
        self.send_button.setToolTip("paste the perturbed image onto the canvas (Ctrl+Z undoes it);"
                                    "\nthe canvas crops and centres it again, which may undo the trick")
        self.send_button.clicked.connect(self.send_to_canvas)
        self.send_button.setEnabled(False)
        self.eps_slider.valueChanged.connect(self._on_controls)
        self.method.currentIndexChanged.connect(self._on_controls)
        self.goal.currentIndexChanged.connect(self._on_controls)
        controls = QGridLayout()
        controls.addWidget(QLabel("ε"), 0, 0)
        controls.addWidget(self.eps_slider, 0, 1)
        controls.addWidget(self.eps_label, 0, 2)
        controls.addWidget(self.method, 1, 0, 1, 2)
        controls.addWidget(self.goal, 2, 0, 1, 2)
        controls.addWidget(self.send_button, 1, 2, 2, 1)
        self.result_label = QLabel("draw a digit, then move ε")
        self.result_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.smallest_label = QLabel()
        self.smallest_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        left = QVBoxLayout()
        left.addLayout(controls)
        left.addWidget(self.result_label)
        left.addWidget(self.smallest_label)
        left.addStretch(1)

        self.images = ImageArea((420, 180), (200, 80))
        self.adv_plot = image_plot(self.images, "perturbed image")
        self.adv_image = pg.ImageItem()
        self.adv_plot.addItem(self.adv_image)
        self.delta_plot = image_plot(self.images, "perturbation")
        self.delta_image = pg.ImageItem()
        self.delta_plot.addItem(self.delta_image)
        self.delta_bar = pg.ColorBarItem(values=(-0.1, 0.1), colorMap=diverging_colormap(),
                                         interactive=False, width=10)
        self.delta_bar.setImageItem(self.delta_image)
        self.images.addItem(self.delta_bar)

        self.bars_plot = pg.PlotWidget()
        self.bars_plot.setBackground("w")
        self.bars_plot.setMinimumSize(150, 80)
        self.bars_plot.setTitle("probabilities: before (grey) · after (blue)", size="9pt")
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.setMenuEnabled(False)
        self.bars_plot.hideButtons()
        self.bars_plot.setXRange(-0.6, 9.6, padding=0)
        self.bars_plot.setYRange(0, 1.0, padding=0.02)
        self.bars_plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(10)]])
        self.before_bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.8,
                                           brush=PREVIOUS_COLOR.lighter(130), pen=None)
        self.after_bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.45,
                                          brush=TRAIN_COLOR, pen=None)
        self.bars_plot.addItem(self.before_bars)
        self.bars_plot.addItem(self.after_bars)

        self.bars_plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(left, 2)
        layout.addWidget(self.images, 3)
        layout.addWidget(self.bars_plot, 2)
        self._show_eps()

    # ------------------------------------------------------------- settings
    @property
    def eps(self) -> float:
        return self.eps_slider.value() * EPS_STEP

    @property
    def steps(self) -> int:
        return int(self.method.currentData())

    def _show_eps(self) -> None:
        self.eps_label.setText(f"{self.eps:.3f}")

    def _on_controls(self, *_args) -> None:
        self._show_eps()
        self.resend()

    def model_copied(self) -> None:
        self._smallest_key = None  # the smallest ε was found with another model

    # ------------------------------------------------------------- the job
    def show_empty(self, model) -> None:
        self.adversarial = None
        self.send_button.setEnabled(False)
        self.result_label.setText("draw a digit, then move ε")
        self.smallest_label.setText("")
        for item in (self.adv_image, self.delta_image):
            item.clear()
        for bars in (self.before_bars, self.after_bars):
            bars.setOpts(height=np.zeros(10))

    def make_work(self, model, guess):
        x = guess.network_input[None].astype(np.float32)  # (1, 28, 28)
        eps, steps, target = self.eps, self.steps, self.goal.currentData()
        key = (x.tobytes(), steps, target)
        need_smallest = key != self._smallest_key

        def work(_ctx):
            adv = fgsm(model, x, eps, target=target, steps=steps)
            before, after = model.predict_proba(np.stack([x, adv]))
            smallest = smallest_flipping_eps(model, x, target, steps) if need_smallest else False
            return x, adv, before, after, eps, target, key, smallest

        return work

    def show_failure(self, message: str) -> None:
        self.result_label.setText(f"attack failed: {message}")

    def show_result(self, payload) -> None:
        x, adv, before, after, eps, target, key, smallest = payload
        self.adversarial = adv
        self.send_button.setEnabled(True)
        self.adv_image.setImage(adv[0], levels=(0, 1))
        delta = (adv - x)[0]
        scale = max(eps, 1e-6)
        self.delta_image.setImage(delta)
        self.delta_bar.setLevels((-scale, scale))
        self.delta_plot.setTitle(f"perturbation ×{1 / scale:.0f}" if eps > 0
                                 else "perturbation (none)")
        self.delta_plot.setToolTip(f"each pixel's change, stretched so that ±ε = ±{eps:.3f} "
                                   f"fills the colour bar")
        self.before_bars.setOpts(height=before)
        self.after_bars.setOpts(height=after)
        was, now = int(np.argmax(before)), int(np.argmax(after))
        fooled = now != was if target is None else now == target
        verdict = ("<b style='color:#c62828'>fooled!</b>" if fooled else "not fooled")
        self.result_label.setText(f"was <b>{was}</b> ({_percent(before[was])}) → now "
                                  f"<b>{now}</b> ({_percent(after[now])}): {verdict}")
        self.result_label.setToolTip(f"at ε = {eps:.3f}")
        if smallest is not False:
            self._smallest_key = key
            self.smallest_eps = None if smallest is None else smallest[0]
        goal = "change the answer" if target is None else f"make it say {target}"
        self.smallest_label.setText(
            f"smallest ε that flips it: {self.smallest_eps:.3f}" if self.smallest_eps is not None
            else f"no ε up to {EPS_MAX} is enough to {goal} with this attack")

    def send_to_canvas(self) -> None:
        """Paste the perturbed 28×28 image onto the canvas (one undoable item)."""
        if self.adversarial is not None:
            self.canvas.paste_array(self.adversarial[0])
