"""The Model tab's preset picker: a preset list, its description, and the weight seed."""

from __future__ import annotations

from PyQt6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout

from cnnlab.lab import presets


class PresetBox(QGroupBox):
    """``combo`` (first item: "choose a preset…"), ``description``, ``seed_box`` and the
    ``reinit_button`` ("New weights"). Only lays out; the Model panel wires it."""

    def __init__(self, parent=None):
        super().__init__("Presets", parent)
        self.combo = QComboBox()
        self.combo.addItem("choose a preset…")
        self.combo.addItems(list(presets.PRESETS))
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("seed of the initial weights (same seed → same weights)")
        self.reinit_button = QPushButton("New weights")
        self.reinit_button.setToolTip("rebuild the designed network with fresh, untrained "
                                      "weights for the current dataset")
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("weight seed"))
        seed_row.addWidget(self.seed_box)
        seed_row.addStretch(1)
        seed_row.addWidget(self.reinit_button)
        layout.addLayout(seed_row)
