"""The Train tab's hyper-parameter form: one widget per ``TrainingConfig`` field.

Momentum is shown for SGD, β1/β2 for Adam. ``config()`` reads the widgets;
``save_settings``/``restore_settings`` remember them under ``train/…`` keys.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.session import TrainingConfig
from cnnlab.app.widgets import LogSpinBox

OPTIMIZERS = [("Adam", "adam"), ("SGD with momentum", "sgd")]
#: Spin boxes saved by value (the optimizer and augmentation are saved separately).
NUMERIC_FIELDS = ("epochs", "batch_size", "lr", "momentum", "beta1", "beta2", "l2", "l1",
                  "val_fraction", "seed", "subset")
FIELDS = NUMERIC_FIELDS + ("optimizer", "augment")


def _double_box(lo: float, hi: float, step: float, decimals: int, value: float,
                tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _int_box(lo: int, hi: int, value: int, tip: str, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    box.setAccelerated(True)
    return box


class TrainingSettings(QGroupBox):
    """The form; its widgets are attributes named like the ``TrainingConfig`` fields."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Training", parent)
        d = TrainingConfig()
        self.epochs = _int_box(1, 1000, d.epochs, "passes over the training images")
        self.batch_size = _int_box(1, 4096, d.batch_size, "images per gradient step")
        self.lr = LogSpinBox(1e-6, 10.0, d.lr)
        self.lr.setToolTip("learning rate (arrows step 1-2-5 per decade)")
        self.optimizer = QComboBox()
        for label, key in OPTIMIZERS:
            self.optimizer.addItem(label, key)
        self.optimizer.setCurrentIndex(self.optimizer.findData(d.optimizer))
        self.momentum = _double_box(0.0, 0.999, 0.05, 3, d.momentum, "SGD momentum (0 = plain SGD)")
        self.beta1 = _double_box(0.0, 0.9999, 0.01, 4, d.beta1, "Adam β1: decay of the mean gradient")
        self.beta2 = _double_box(0.0, 0.99999, 0.001, 5, d.beta2,
                                 "Adam β2: decay of the mean squared gradient")
        self.l2 = _double_box(0.0, 10.0, 1e-4, 6, d.l2, "L2 penalty λ·ΣW² on the weights")
        self.l1 = _double_box(0.0, 10.0, 1e-4, 6, d.l1, "L1 penalty λ·Σ|W| on the weights")
        self.val_fraction = _double_box(0.0, 0.5, 0.05, 2, d.val_fraction,
                                        "fraction of the training images held out (stratified)")
        self.seed = _int_box(0, 2**31 - 1, d.seed,
                             "seed of the subset, split, shuffling, dropout and shifts")
        self.augment = QCheckBox("random shifts (±2 px)")
        self.augment.setToolTip("shift each training image by a few pixels every time it is used")
        self.augment.setChecked(d.augment)
        self.subset = _int_box(0, 10_000_000, 0, "train on N images drawn at random (fixed by "
                                                 "the seed); all = every training image", 256)
        self.subset.setSpecialValueText("all")
        self.user_digits = QCheckBox("from the Draw tab")
        self.user_digits.setToolTip("also train on the digits saved with \"This is wrong → label\" "
                                    "on the Draw tab (MNIST-shaped data only)")

        self.form = QFormLayout(self)
        for label, widget in (("epochs", self.epochs), ("batch size", self.batch_size),
                              ("learning rate", self.lr), ("optimizer", self.optimizer),
                              ("momentum", self.momentum), ("β1", self.beta1), ("β2", self.beta2),
                              ("L2 λ", self.l2), ("L1 λ", self.l1),
                              ("validation", self.val_fraction), ("seed", self.seed),
                              ("augmentation", self.augment), ("training images", self.subset),
                              ("my digits", self.user_digits)):
            self.form.addRow(label, widget)
        self.optimizer.currentIndexChanged.connect(self._show_optimizer_fields)
        self._show_optimizer_fields()

    def _show_optimizer_fields(self, *_args) -> None:
        sgd = self.optimizer.currentData() == "sgd"
        for widget, visible in ((self.momentum, sgd), (self.beta1, not sgd), (self.beta2, not sgd)):
            self.form.setRowVisible(widget, visible)

    def config(self) -> TrainingConfig:
        """The ``TrainingConfig`` the widgets describe."""
        return TrainingConfig(
            epochs=self.epochs.value(), batch_size=self.batch_size.value(), lr=self.lr.value(),
            optimizer=self.optimizer.currentData(), momentum=self.momentum.value(),
            beta1=self.beta1.value(), beta2=self.beta2.value(), l2=self.l2.value(),
            l1=self.l1.value(), val_fraction=self.val_fraction.value(), seed=self.seed.value(),
            augment=self.augment.isChecked(), subset=self.subset.value() or None,
            include_user_digits=self.user_digits.isChecked())

    def save_settings(self, settings: QSettings) -> None:
        for name in NUMERIC_FIELDS:
            settings.setValue(f"train/{name}", getattr(self, name).value())
        settings.setValue("train/optimizer", self.optimizer.currentData())
        settings.setValue("train/augment", self.augment.isChecked())
        settings.setValue("train/user_digits", self.user_digits.isChecked())

    def restore_settings(self, settings: QSettings) -> None:
        for name in NUMERIC_FIELDS:
            stored.read_spin(settings, f"train/{name}", getattr(self, name))
        optimizer = stored.read(settings, "train/optimizer", self.optimizer.currentData(), "str",
                                choices=[key for _label, key in OPTIMIZERS])
        self.optimizer.setCurrentIndex(self.optimizer.findData(optimizer))
        for key, box in (("augment", self.augment), ("user_digits", self.user_digits)):
            box.setChecked(stored.read(settings, f"train/{key}", box.isChecked(), "bool"))
