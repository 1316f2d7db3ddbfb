"""The optimizer list and its hyper-parameter fields, made from the engine's registry.

Everything here comes from :data:`cnnlab.engine.optim.OPTIMIZERS`: the list, one spin box
per hyper-parameter (with its default, range and help), and which boxes show for the chosen
optimizer. So an optimizer added to ``optim.py`` appears in every form without an edit here.
The learning rate has its own box in each form (sweeps vary it); weight decay is the
forms' L2 λ, so neither is repeated here.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout

from cnnlab.app import settings as stored
from cnnlab.app.widgets import LogSpinBox
from cnnlab.engine.optim import OPTIMIZERS, Hyper

#: hyper-parameters the forms show elsewhere (or as the L2 penalty)
SHOWN_ELSEWHERE = ("lr", "weight_decay")


def hyper_box(h: Hyper) -> QDoubleSpinBox:
    """A spin box for one hyper-parameter: log steps for ones that span decades."""
    if h.log:
        box = LogSpinBox(h.low, h.high, h.default)
    else:
        box = QDoubleSpinBox()
        box.setDecimals(5)
        box.setRange(h.low, h.high)
        box.setSingleStep(0.01 if h.high <= 1 else 0.1)
        box.setValue(h.default)
    box.setToolTip(h.help)
    return box


class OptimizerFields:
    """``combo`` (the registered optimizers) and ``boxes[(optimizer, hyper)]``, added to
    ``form`` as rows; only the chosen optimizer's rows are visible."""

    def __init__(self, form: QFormLayout, default: str, hyper: dict[str, float] | None = None):
        self.form = form
        self.combo = QComboBox()
        self.combo.setToolTip("how the weights are updated from their gradients")
        for info in OPTIMIZERS.values():
            self.combo.addItem(info.label, info.name)
        self.combo.setCurrentIndex(max(0, self.combo.findData(default)))
        form.addRow("optimizer", self.combo)
        self.boxes: dict[tuple[str, str], QDoubleSpinBox] = {}
        for info in OPTIMIZERS.values():
            for h in info.hyper:
                if h.name in SHOWN_ELSEWHERE:
                    continue
                box = hyper_box(h)
                if info.name == default and hyper and h.name in hyper:
                    box.setValue(hyper[h.name])
                self.boxes[info.name, h.name] = box
                form.addRow(h.name.replace("beta", "β").replace("eps", "ε"), box)
        self.combo.currentIndexChanged.connect(self._show)
        self._show()

    @property
    def name(self) -> str:
        return self.combo.currentData()

    def set_name(self, name: str) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(name)))

    def hyper(self) -> dict[str, float]:
        """The chosen optimizer's hyper-parameters (without lr and weight decay)."""
        return {h: box.value() for (opt, h), box in self.boxes.items() if opt == self.name}

    def widgets(self) -> list:
        return [self.combo, *self.boxes.values()]

    def _show(self, *_args) -> None:
        for (opt, _h), box in self.boxes.items():
            self.form.setRowVisible(box, opt == self.name)

    def save(self, settings: QSettings, prefix: str) -> None:
        settings.setValue(f"{prefix}/optimizer", self.name)
        for (opt, h), box in self.boxes.items():
            settings.setValue(f"{prefix}/{opt}/{h}", box.value())

    def restore(self, settings: QSettings, prefix: str) -> None:
        name = stored.read(settings, f"{prefix}/optimizer", self.name, "str",
                           choices=list(OPTIMIZERS))
        self.set_name(name)
        for (opt, h), box in self.boxes.items():
            stored.read_spin(settings, f"{prefix}/{opt}/{h}", box)
