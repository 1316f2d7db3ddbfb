"""The kernel recovery's "Learning" settings: photos, padding, optimizer and its rate,
mini-batch size, how C starts, and the step budget — by default as the exercise sets
them (``cnnlab.lab.recovery.EXERCISE``: padding 2, mini-batches of 20, 100 photos)."""

from __future__ import annotations

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox

from cnnlab.app import settings as stored
from cnnlab.app.panels.image_views import restore_values, save_values
from cnnlab.app.widgets import LogSpinBox
from cnnlab.engine.optim import OPTIMIZERS
from cnnlab.lab import recovery as R

MAX_IMAGES = R.EXERCISE["max_images"]
CG_LABEL = "conjugate gradient"
INITS = [("uniform", "uniform ±1"), ("normal", "normal(σ)")]


class RecoveryLearningBox(QGroupBox):
    """``kwargs()`` gives ``recover_kernels``' settings; ``changed`` fires when the way C
    starts changes (the intro sentence names it)."""

    changed = pyqtSignal()

    def __init__(self):
        super().__init__("Learning")
        form = QFormLayout(self)
        self.images_spin = QSpinBox()
        self.images_spin.setRange(1, MAX_IMAGES)
        self.images_spin.setValue(MAX_IMAGES)
        self.images_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.images_spin)
        row.addWidget(self.images_label, 1)
        form.addRow("photos", row)
        self.padding_spin = QSpinBox()
        self.padding_spin.setRange(0, 4)
        self.padding_spin.setValue(R.EXERCISE["padding"])
        self.padding_spin.setToolTip("zero padding of C0 and C (the exercise uses 2: a 5×5 "
                                     "kernel then sees every pixel, the borders too)")
        form.addRow("padding", self.padding_spin)
        self.optimizer_combo = QComboBox()
        for key in R.optimizer_names():
            self.optimizer_combo.addItem(CG_LABEL if key == "cg" else OPTIMIZERS[key].label, key)
        self.optimizer_combo.setToolTip(
            "Conjugate gradient with an exact line search (the loss is quadratic).\n"
            "Photo patches are strongly correlated, so the loss is a long narrow valley:\n"
            "conjugate gradient crosses it in a few hundred steps; Adam and SGD lower the\n"
            "loss quickly but take very long to pin the kernels down.")
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer)
        form.addRow("optimizer", self.optimizer_combo)
        self.lr_spin = LogSpinBox(1e-5, 1.0, R.DEFAULT_LR["adam"])
        form.addRow("learning rate", self.lr_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, MAX_IMAGES)
        self.batch_spin.setValue(R.EXERCISE["batch_size"])
        self.batch_spin.setSuffix(" photos")
        form.addRow("mini-batch", self.batch_spin)
        self.init_combo = QComboBox()
        for key, text in INITS:
            self.init_combo.addItem(text, key)
        self.sigma_spin = LogSpinBox(1e-8, 1.0, 1e-5)  # typed as 1e-5, the exercise's σ
        self.sigma_spin.setToolTip("σ of C's normal start: type a number such as 1e-5")
        self.init_combo.currentIndexChanged.connect(self._on_init)
        row = QHBoxLayout()
        row.addWidget(self.init_combo, 1)
        row.addWidget(QLabel("σ"))
        row.addWidget(self.sigma_spin, 1)
        form.addRow("C starts", row)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setValue(1000)
        self.steps_spin.setSingleStep(100)
        self.steps_spin.setSuffix(" steps")
        form.addRow("at most", self.steps_spin)
        self.tolerance_spin = LogSpinBox(1e-6, 1.0, 1e-3)
        self.tolerance_spin.setToolTip("stop once every weight of C is this close to C0's")
        form.addRow("stop at max |C − C0| <", self.tolerance_spin)
        self._on_optimizer()
        self._on_init()

    def set_available(self, n: int) -> None:
        """``n`` photos are loaded: offer up to 100 of them, all 100 when there are more."""
        self.images_spin.setMaximum(min(MAX_IMAGES, n))
        self.images_spin.setValue(min(MAX_IMAGES, n))
        self.images_label.setText(f"of {n:,} available")

    def _on_optimizer(self) -> None:
        key = self.optimizer_combo.currentData()
        first_order = key != "cg"
        self.lr_spin.setEnabled(first_order)
        self.batch_spin.setEnabled(first_order)
        self.batch_spin.setToolTip("photos per step for Adam and SGD" if first_order else
                                   "conjugate gradient always uses every photo: its line "
                                   "search is exact only for the whole loss")
        if first_order:
            self.lr_spin.setValue(R.default_lr(key))

    def _on_init(self) -> None:
        self.sigma_spin.setEnabled(self.init_combo.currentData() == "normal")
        self.changed.emit()

    def start_text(self) -> str:
        """How C starts, in words: "uniform[−1, 1]" or "normal(σ = 1e-05)"."""
        if self.init_combo.currentData() == "normal":
            return f"normal(σ = {self.sigma_spin.value():.3g})"
        return "uniform[−1, 1]"

    def kwargs(self, n_images: int) -> dict:
        """``recover_kernels`` keyword arguments for a run on ``n_images`` photos."""
        optimizer = self.optimizer_combo.currentData()
        return dict(optimizer=optimizer, lr=None if optimizer == "cg" else self.lr_spin.value(),
                    max_steps=self.steps_spin.value(), tolerance=self.tolerance_spin.value(),
                    max_images=n_images, weights_every=10, padding=self.padding_spin.value(),
                    batch_size=None if optimizer == "cg" else self.batch_spin.value(),
                    init_sigma=(self.sigma_spin.value()
                                if self.init_combo.currentData() == "normal" else None))

    # -------------------------------------------------------------- settings
    def _spins(self) -> dict:
        return {"steps": self.steps_spin, "lr": self.lr_spin, "tolerance": self.tolerance_spin,
                "padding": self.padding_spin, "batch": self.batch_spin, "sigma": self.sigma_spin}

    def save(self, settings: QSettings, prefix: str) -> None:
        save_values(settings, prefix, self._spins())
        settings.setValue(f"{prefix}/optimizer", self.optimizer_combo.currentData())
        settings.setValue(f"{prefix}/init", self.init_combo.currentData())

    def restore(self, settings: QSettings, prefix: str) -> None:
        for key, combo in (("optimizer", self.optimizer_combo), ("init", self.init_combo)):
            choices = [combo.itemData(i) for i in range(combo.count())]
            value = stored.read(settings, f"{prefix}/{key}", None, "str", choices=choices)
            if value is not None:  # the optimizer's default rate first, the saved one after
                combo.setCurrentIndex(combo.findData(value))
        restore_values(settings, prefix, self._spins())
