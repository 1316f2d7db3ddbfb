"""The Kernels & Blur tab: the blur lab, the current model's filters, kernel recovery.

The tab loads its own CIFAR-10 photos (the bundled sample, or full CIFAR-10's test set
when it is in the download cache), independent of the dataset the session trains on.
"""

from __future__ import annotations

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.panels.blur_view import BlurLabView
from cnnlab.app.panels.filters_view import ModelFiltersView
from cnnlab.app.panels.recovery_view import KernelRecoveryView
from cnnlab.app.session import Session, WeightsSnapshot
from cnnlab.lab.image_source import CifarImages, load_cifar_images

SOURCES = [("sample", "CIFAR-10 sample (bundled)"), ("full", "full CIFAR-10 (when downloaded)")]


class KernelsPanel(QWidget):
    """Three sub-tabs sharing one pool of CIFAR-10 photos; ``images`` is that pool."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.images: CifarImages | None = None
        self._load_job = None

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Photos:"))
        self.source_combo = QComboBox()
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        self.source_combo.currentIndexChanged.connect(self._on_source_choice)
        row.addWidget(self.source_combo)
        self.source_message = QLabel()
        self.source_message.setWordWrap(True)
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

        self.set_images(load_cifar_images("sample"))
        session.model_changed.connect(self._on_model_changed)
        session.weights_updated.connect(self._on_weights)
        self._on_model_changed(session.snapshot())

    # ---------------------------------------------------------------- photos
    def set_images(self, images: CifarImages) -> None:
        self.images = images
        self.blur_view.set_images(images)
        self.recovery_view.set_images(images)

    def _on_source_choice(self) -> None:
        source = self.source_combo.currentData()
        if self.images is not None and source == self.images.source:
            return
        if source == "sample":
            self.source_message.setText("")
            self.set_images(load_cifar_images("sample"))
            return
        self.source_combo.setEnabled(False)
        self.source_message.setText("loading full CIFAR-10 …")
        self._load_job = self.session.run_job("load CIFAR-10 for the blur lab",
                                              lambda ctx: load_cifar_images(source))
        self._load_job.finished.connect(self._on_loaded)
        self._load_job.failed.connect(self._on_load_failed)
        self._load_job.cancelled.connect(lambda _r: self._on_load_failed("cancelled"))

    def _on_loaded(self, images: CifarImages) -> None:
        self.source_combo.setEnabled(True)
        self.source_message.setText("")
        self.set_images(images)

    def _on_load_failed(self, message: str) -> None:
        """Stay on the sample and say why (e.g. full CIFAR-10 is not downloaded)."""
        self.source_combo.setEnabled(True)
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(self.source_combo.findData(self.images.source))
        self.source_combo.blockSignals(False)
        self.source_message.setText(f"Full CIFAR-10 is not available, staying on "
                                    f"{self.images.name}: {message}")

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
