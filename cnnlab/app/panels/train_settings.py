"""The Train tab's hyper-parameter form: one widget per ``TrainingConfig`` field.

The optimizer list and its hyper-parameter fields come from the engine's registry
(:mod:`cnnlab.app.panels.optimizer_fields`). ``config()`` reads the widgets;
``save_settings``/``restore_settings`` remember them under ``train/…`` keys.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.panels.optimizer_fields import OptimizerFields
from cnnlab.app.widgets import LogSpinBox
from cnnlab.lab.training import TrainingConfig

#: Spin boxes saved by value (the optimizer and augmentation are saved separately).
NUMERIC_FIELDS = ("epochs", "batch_size", "lr", "l2", "l1", "val_fraction", "seed", "subset")
FIELDS = NUMERIC_FIELDS + ("optimizer", "augment", "loss_reduction", "precision")


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
        self.loss_reduction = QComboBox()
        self.loss_reduction.addItem("mean over the batch", "mean")
        self.loss_reduction.addItem("sum over the batch (homework)", "sum")
        self.loss_reduction.setToolTip(
            "mean: the usual (Keras, PyTorch); sum: the batch's gradients add up, as in the\n"
            "linear-classifier homework, so its learning rates mean the same here\n"
            "(the plotted loss stays per image either way)")
        self.precision = QCheckBox("precision (macro)")
        self.precision.setToolTip("also track macro precision per epoch: the log, the "
                                  "accuracy plot and the history CSV")
        self.user_digits = QCheckBox("from the Draw tab")
        self.user_digits.setToolTip("also train on the digits saved with \"This is wrong → label\" "
                                    "on the Draw tab (MNIST-shaped data only)")

        self.form = QFormLayout(self)
        for label, widget in (("epochs", self.epochs), ("batch size", self.batch_size),
                              ("learning rate", self.lr)):
            self.form.addRow(label, widget)
        self.optimizer_fields = OptimizerFields(self.form, d.optimizer, dict(d.hyper))
        self.optimizer = self.optimizer_fields.combo
        for label, widget in (("L2 λ", self.l2), ("L1 λ", self.l1),
                              ("validation", self.val_fraction), ("seed", self.seed),
                              ("augmentation", self.augment), ("training images", self.subset),
                              ("loss", self.loss_reduction), ("metrics", self.precision),
                              ("my digits", self.user_digits)):
            self.form.addRow(label, widget)

    def hyper_box(self, name: str):
        """The chosen optimizer's spin box for hyper-parameter ``name`` (e.g. "momentum")."""
        return self.optimizer_fields.boxes[self.optimizer_fields.name, name]

    def config_widgets(self) -> list:
        """Every widget that sets a field of the config (disabled while training runs)."""
        return [self.epochs, self.batch_size, self.lr, *self.optimizer_fields.widgets(), self.l2,
                self.l1, self.val_fraction, self.seed, self.augment, self.subset,
                self.loss_reduction, self.precision]

    def config(self) -> TrainingConfig:
        """The ``TrainingConfig`` the widgets describe."""
        return TrainingConfig(
            epochs=self.epochs.value(), batch_size=self.batch_size.value(), lr=self.lr.value(),
            optimizer=self.optimizer_fields.name, hyper=self.optimizer_fields.hyper(),
            l2=self.l2.value(),
            l1=self.l1.value(), val_fraction=self.val_fraction.value(), seed=self.seed.value(),
            augment=self.augment.isChecked(), subset=self.subset.value() or None,
            include_user_digits=self.user_digits.isChecked(),
            loss_reduction=self.loss_reduction.currentData(),
            metrics=("accuracy", "precision") if self.precision.isChecked() else ("accuracy",))

    def save_settings(self, settings: QSettings) -> None:
        for name in NUMERIC_FIELDS:
            settings.setValue(f"train/{name}", getattr(self, name).value())
        self.optimizer_fields.save(settings, "train")
        settings.setValue("train/augment", self.augment.isChecked())
        settings.setValue("train/user_digits", self.user_digits.isChecked())
        settings.setValue("train/precision", self.precision.isChecked())
        settings.setValue("train/loss_reduction", self.loss_reduction.currentData())

    def restore_settings(self, settings: QSettings) -> None:
        for name in NUMERIC_FIELDS:
            stored.read_spin(settings, f"train/{name}", getattr(self, name))
        self.optimizer_fields.restore(settings, "train")
        for key, box in (("augment", self.augment), ("user_digits", self.user_digits),
                         ("precision", self.precision)):
            box.setChecked(stored.read(settings, f"train/{key}", box.isChecked(), "bool"))
        reduction = stored.read(settings, "train/loss_reduction", "mean", "str", choices=("mean", "sum"))
        self.loss_reduction.setCurrentIndex(self.loss_reduction.findData(reduction))
