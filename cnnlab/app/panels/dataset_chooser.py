"""The Train tab's dataset chooser: a combo of the datasets on offer and a line describing
the one the session has open. Choosing loads it (through ``DatasetActions`` when the window
has one, else through the session); the combo follows the session's dataset."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject
from PyQt6.QtWidgets import QComboBox, QLabel

from cnnlab.app.session import load_dataset

if TYPE_CHECKING:
    from cnnlab.app.session import Session

#: Datasets offered when no ``DatasetActions`` is given: (label, kind, source).
FALLBACK_OPTIONS = [("MNIST sample", "mnist", "sample"), ("CIFAR-10 sample", "cifar10", "sample"),
                    ("MNIST full", "mnist", "full"), ("CIFAR-10 full", "cifar10", "full")]


class DatasetChooser(QObject):
    """``combo`` and ``label`` for a panel to lay out; ``message(text)`` shows a failure."""

    def __init__(self, session: Session, data_actions, message: Callable[[str], None],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.data_actions, self.message = session, data_actions, message
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.combo.activated.connect(self._on_activated)
        self.label = QLabel()
        self.label.setWordWrap(True)
        session.dataset_changed.connect(self._on_dataset_changed)
        if data_actions is not None:
            data_actions.options_changed.connect(self.fill)
        self.fill()

    def _on_dataset_changed(self, _dataset) -> None:
        self.sync()

    def _options(self) -> list[tuple[str, str, str]]:
        if self.data_actions is not None:
            return list(self.data_actions.options())
        return list(FALLBACK_OPTIONS)

    def fill(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for label, kind, source in self._options():
            self.combo.addItem(label, (kind, source))
        self.combo.blockSignals(False)
        self.sync()

    def sync(self) -> None:
        """Point the combo at the session's dataset and describe it."""
        ds = self.session.dataset
        if ds is None:
            self.label.setText("no dataset loaded")
            return
        index = self.index(ds.kind, ds.source)
        if index < 0:
            self.combo.addItem(ds.name, (ds.kind, ds.source))
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)
        self.label.setText(f"{ds.describe()} · images {'×'.join(map(str, ds.input_shape))}"
                                   f" · {ds.n_classes} classes")

    def index(self, kind: str, source: str) -> int:
        """Row of ``(kind, source)`` in the dataset combo, or -1."""
        combo = self.combo
        return next((i for i in range(combo.count()) if combo.itemData(i) == (kind, source)), -1)

    def _on_activated(self, index: int) -> None:
        kind, source = self.combo.itemData(index)
        ds = self.session.dataset
        if ds is not None and (ds.kind, ds.source) == (kind, source):
            return
        try:
            job = self._choose(kind, source)
        except (OSError, ValueError, RuntimeError) as exc:
            self.message(f"Could not load that dataset: {exc}")
            self.sync()
            return
        if job is not None:
            self.label.setText(f"loading {self.combo.itemText(index)}…")
            job.failed.connect(lambda msg: self.message(f"Could not load that dataset: {msg}"))
            job.done.connect(self.sync)
        else:
            self.sync()

    def _choose(self, kind: str, source: str):
        if self.data_actions is not None:
            return self.data_actions.choose(kind, source)
        if source == "sample":
            self.session.set_dataset(load_dataset(kind, "sample"))
            return None
        return self.session.load_dataset_async(kind, source)
