"""The Experiments tab: analysis of the current model, hyper-parameter sweeps, and how
accuracy grows with the amount of training data (with the logistic-regression baseline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from cnnlab.app import settings as stored
from cnnlab.app.panels.analysis_view import AnalysisView
from cnnlab.app.panels.data_size_view import DataSizeView
from cnnlab.app.panels.sweeps_view import SweepsView

if TYPE_CHECKING:
    from cnnlab.app.session import Session


class ExperimentsPanel(QWidget):
    """Sub-tabs: Analysis, Sweeps, Data size."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.analysis = AnalysisView(session)
        self.sweeps = SweepsView(session)
        self.data_size = DataSizeView(session)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.analysis, "Analysis")
        self.tabs.addTab(self.sweeps, "Sweeps")
        self.tabs.addTab(self.data_size, "Data size")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)

    def views(self):
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("experiments/tab", self.tabs.currentIndex())
        for view in self.views():
            view.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.tabs.setCurrentIndex(stored.read(settings, "experiments/tab", 0, "int",
                                              lo=0, hi=self.tabs.count() - 1))
        for view in self.views():
            view.restore_settings(settings)
