"""The Draw tab's "This is wrong → label" box: save a drawing with its correct label to the
user's own digit set (``cnnlab.data.user_digits``), count and export them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt6.QtWidgets import QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from cnnlab.app.widgets import show_error

DRAW_FIRST = "Draw a digit first, then pick its label and Save."


class CorrectionBox(QGroupBox):
    """``CorrectionBox(drawing, user_digits_path=None)``: ``drawing()`` returns the current
    28×28 float32 digit in [0, 1] (all zeros when nothing is drawn)."""

    def __init__(self, drawing: Callable[[], np.ndarray],
                 user_digits_path: str | Path | None = None):
        super().__init__("This is wrong → label")
        self._drawing = drawing
        self._user_digits_path = user_digits_path
        self._user_digits = None
        self.setToolTip("Save the 28×28 drawing with its correct label to your own digit set,\n"
                        "which can be exported or added to training.")
        self.label_picker = QComboBox()
        self.label_picker.addItems([str(d) for d in range(10)])
        self.label_picker.setToolTip("the digit you meant")
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("add this drawing, with the chosen label, to your digit set")
        self.save_button.clicked.connect(self.save)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("write your saved drawings to an .npz file "
                                      "(x: uint8 N×1×28×28, y: int64 labels)")
        self.export_button.clicked.connect(self._export_dialog)
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("It is a"))
        row.addWidget(self.label_picker)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(self.count_label, 1)
        row2.addWidget(self.export_button)
        layout.addLayout(row2)
        self.update_count()

    def user_digits(self):
        """The user's dataset of corrected drawings (opened on first use)."""
        if self._user_digits is None:
            from cnnlab.data.user_digits import UserDigits

            self._user_digits = (UserDigits(self._user_digits_path) if self._user_digits_path
                                 else UserDigits())
        return self._user_digits

    def save(self) -> None:
        """Add the current 28×28 drawing with the picked label to the user's digits."""
        x = self._drawing()  # (28, 28) float32
        if not np.any(x > 0):
            self.count_label.setText(DRAW_FIRST)
            return
        try:
            self.user_digits().add(x, int(self.label_picker.currentText()))
        except (OSError, ValueError) as exc:
            show_error(self, "Could not save the drawing", str(exc))
            return
        self.update_count()

    def drawing_changed(self) -> None:
        """The hint to draw first goes once there is a drawing."""
        if self.count_label.text() == DRAW_FIRST:
            self.update_count()

    def export_user_digits(self, path: str | Path) -> None:
        """Write the user's digits to ``path`` (.npz); errors are shown, not raised."""
        try:
            self.user_digits().export(path)
        except (OSError, ValueError) as exc:
            show_error(self, "Could not export your digits", str(exc))

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export your digits", "my_digits.npz",
                                              "NumPy archive (*.npz)")
        if path:
            self.export_user_digits(path)

    def update_count(self) -> None:
        try:
            n = len(self.user_digits())
        except (OSError, ValueError) as exc:
            self.count_label.setText(f"your digits cannot be read: {exc}")
            return
        self.count_label.setText(f"{n:,} drawing{'s' if n != 1 else ''} saved")
        self.export_button.setEnabled(n > 0)
