"""The Kernels & Blur tab: the blur lab, the current model's filters, kernel recovery.

The photos are those of the dataset the session has open when it is CIFAR-10 (its arrays,
not a copy: switching datasets releases them), else the bundled CIFAR-10 sample.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.panels.blur_view import BlurLabView
from cnnlab.app.panels.filters_view import ModelFiltersView
from cnnlab.app.panels.recovery_view import KernelRecoveryView
from cnnlab.app.session import Session, WeightsSnapshot
from cnnlab.app.widgets import ElidedLabel
from cnnlab.lab.image_source import CifarImages, dataset_images, load_cifar_images


class KernelsPanel(QWidget):
    """Three sub-tabs sharing one pool of CIFAR-10 photos; ``images`` is that pool."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.images: CifarImages | None = None

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Photos:"))
        self.source_message = ElidedLabel()  # which photos, and how to get others
        row.addWidget(self.source_message, 1)
        layout.addLayout(row)

        self.tabs = QTabWidget()
        self.blur_view = BlurLabView()
        self.filters_view = ModelFiltersView()
        self.recovery_view = KernelRecoveryView(session)
        self.tabs.addTab(self.blur_view, "Blur lab")
        self.tabs.addTab(self.filters_view, "Filters of the current model")
        self.tabs.addTab(self.recovery_view, "Kernel recovery")
        layout.addWidget(self.tabs, 1)

        self._follow_dataset(session.dataset)
        session.dataset_changed.connect(self._follow_dataset)
        session.model_changed.connect(self._on_model_changed)
        session.weights_updated.connect(self._on_weights)
        self._on_model_changed(session.snapshot())

    # ---------------------------------------------------------------- photos
    def set_images(self, images: CifarImages) -> None:
        self.images = images
        self.blur_view.set_images(images)
        self.recovery_view.set_images(images)

    def _follow_dataset(self, ds) -> None:
        """The open dataset's photos when it is CIFAR-10, else the bundled sample (the old
        pool is dropped at once, so a replaced dataset is freed)."""
        if ds is not None and ds.kind == "cifar10":
            if self.images is not None and self.images.x is ds.x_test:
                return
            self.set_images(dataset_images(ds.name, ds.source, ds.x_train, ds.y_train,
                                           ds.x_test, ds.y_test, ds.class_names))
            self.source_message.setText(f"{self.images.description} — the open dataset")
            return
        if self.images is None or self.images.source != "sample":
            self.set_images(load_cifar_images("sample"))
        self.source_message.setText(f"{self.images.description} (bundled) — open CIFAR-10 from "
                                    f"the Data menu to filter and learn from its photos")

    # ----------------------------------------------------------------- model
    def _on_model_changed(self, _model) -> None:
        self.filters_view.show_model(self.session.snapshot())

    def _on_weights(self, snapshot: WeightsSnapshot) -> None:
        when = ("after training" if snapshot.epoch < 0
                else f"live: epoch {snapshot.epoch}, batch {snapshot.batch}")
        self.filters_view.show_model(snapshot.model, when)

    # -------------------------------------------------------------- settings
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("kernels/tab", self.tabs.currentIndex())
        self.blur_view.save_settings(settings, "kernels/blur")
        self.recovery_view.save_settings(settings, "kernels/recovery")

    def restore_settings(self, settings: QSettings) -> None:
        self.tabs.setCurrentIndex(stored.read(settings, "kernels/tab", 0, "int",
                                              lo=0, hi=self.tabs.count() - 1))
        self.blur_view.restore_settings(settings, "kernels/blur")
        self.recovery_view.restore_settings(settings, "kernels/recovery")
