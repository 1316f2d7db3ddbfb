"""The Blur lab's kernel designer: pick a named kernel (or type one), its size and σ, and
see it as a heatmap with its values.

For the Gaussian, "size from σ" (on by default) sizes the window ``k = 2⌈3σ⌉ + 1`` so the
kernel holds the bell; a size fixed by hand shows how much of the Gaussian it cuts off.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from cnnlab.app.panels.kernel_heatmap import KernelHeatmap
from cnnlab.app.widgets import ERROR_COLOR
from cnnlab.lab import kernels as K
from cnnlab.lab.filter_views import resize_centred

CUSTOM = "custom"
MAX_KERNEL = 31  # the size spin box's maximum (σ = 5 needs 31)
#: Below this share of the Gaussian's weight kept, a fixed size is called out.
KEPT_WARNING = 0.99


class ReservedLabel(QLabel):
    """A word-wrapped label with room for ``lines`` lines reserved, so the widgets below
    never move when its text changes. It does not ask for height-for-width layout: with
    that, a scroll area sizes a whole column by its preferred height and scrolls early."""

    def __init__(self, lines: int, text: str = ""):
        super().__init__(text)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 4)

    def hasHeightForWidth(self) -> bool:
        return False


class KernelDesigner(QObject):
    """The kernel's controls (``group``), its ``heatmap``, ``kernel_info`` line and value
    ``table`` (shown for custom kernels), for the owner to lay out. ``kernel`` is the
    current float64 ``(kh, kw)`` kernel; ``changed`` fires when it changes,
    ``problem(text)`` when typed values cannot be used."""

    changed = pyqtSignal()
    problem = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.kernel = K.make_kernel("gaussian", size=K.size_from_sigma(1.0))
        self._custom = self.kernel.copy()
        self.group = self._build_group()
        self.heatmap = KernelHeatmap()
        self.heatmap.setMinimumHeight(60)
        self.kernel_info = QLabel()
        self.kernel_info.setToolTip("a kernel summing to 1 keeps the brightness; "
                                    "one summing to 0 keeps only the changes (edges)")
        self.heatmap.hovered.connect(lambda text: self.kernel_info.setText(text or self.info_text()))
        self.table = QTableWidget()
        self.table.setToolTip("type the kernel's values (Enter applies each one)")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(100)
        self.table.itemChanged.connect(self._on_table_edit)
        self.apply_choice()

    def _build_group(self) -> QGroupBox:
        group = QGroupBox("Kernel")
        form = QFormLayout(group)
        self.kernel_combo = QComboBox()
        for spec in K.KERNELS.values():
            self.kernel_combo.addItem(spec.label, spec.name)
        self.kernel_combo.addItem("Custom (type values)", CUSTOM)
        self.kernel_combo.currentIndexChanged.connect(self.apply_choice)
        form.addRow("kernel", self.kernel_combo)
        self.classic_button = QPushButton("Classic 3×3 blur")
        self.classic_button.setToolTip("the classic blur [1 2 1; 2 4 2; 1 2 1] / 16, one click away")
        self.classic_button.clicked.connect(lambda: self.choose("classic_blur"))
        self.edit_button = QPushButton("Edit these values")
        self.edit_button.setToolTip("start a custom kernel from the one shown")
        self.edit_button.clicked.connect(lambda: self.choose(CUSTOM))
        buttons = QHBoxLayout()
        buttons.addWidget(self.classic_button)
        buttons.addWidget(self.edit_button)
        form.addRow(buttons)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, MAX_KERNEL)
        self.size_spin.setValue(self.kernel.shape[0])
        self.size_spin.setToolTip("kernel size k (k×k)")
        self.size_spin.valueChanged.connect(self._on_size)
        self.auto_size = QCheckBox("size from σ")
        self.auto_size.setChecked(True)
        self.auto_size.setToolTip("k = 2⌈3σ⌉ + 1: the window holds three σ each side of the "
                                  "centre.\nUntick to fix k yourself and see what it cuts off.")
        self.auto_size.toggled.connect(self._on_auto_size)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_spin, 1)
        size_row.addWidget(self.auto_size)
        form.addRow("size k", size_row)
        sigma_row = QHBoxLayout()
        self.sigma_spin = QDoubleSpinBox()
        self.sigma_spin.setRange(0.1, 5.0)
        self.sigma_spin.setSingleStep(0.1)
        self.sigma_spin.setDecimals(2)
        self.sigma_spin.setValue(1.0)
        self.sigma_spin.setSuffix(" px")
        self.sigma_slider = QSlider(Qt.Orientation.Horizontal)
        self.sigma_slider.setRange(1, 50)  # σ = value / 10
        self.sigma_slider.setValue(10)
        self.sigma_spin.valueChanged.connect(self._on_sigma_spin)
        self.sigma_slider.valueChanged.connect(lambda v: self.sigma_spin.setValue(v / 10.0))
        sigma_row.addWidget(self.sigma_spin)
        sigma_row.addWidget(self.sigma_slider, 1)
        form.addRow("σ", sigma_row)
        self.truncation = ReservedLabel(2)
        form.addRow(self.truncation)
        return group

    # ------------------------------------------------------------- choices
    def kernel_name(self) -> str:
        return self.kernel_combo.currentData()

    def choose(self, name: str) -> None:
        self.kernel_combo.setCurrentIndex(self.kernel_combo.findData(name))

    def takes_sigma(self) -> bool:
        spec = K.KERNELS.get(self.kernel_name())
        return spec is not None and spec.takes_sigma

    def apply_choice(self) -> None:
        """Enable what the chosen kernel takes (size, σ, typed values) and rebuild it."""
        name = self.kernel_name()
        spec = K.KERNELS.get(name)
        takes_size = name == CUSTOM or (spec is not None and spec.takes_size)
        self.sigma_spin.setEnabled(self.takes_sigma())
        self.sigma_slider.setEnabled(self.takes_sigma())
        self.auto_size.setVisible(self.takes_sigma())
        self.size_spin.setEnabled(takes_size and not (self.takes_sigma() and self.auto_size.isChecked()))
        self.size_spin.setSingleStep(2 if name == "identity" else 1)  # odd: a middle pixel
        if name == "identity" and self.size_spin.value() % 2 == 0:
            self.size_spin.setValue(self.size_spin.value() + 1)
        if name == CUSTOM:
            self._custom = self.kernel.copy()  # start from what is shown
        self.table.setVisible(name == CUSTOM)
        self.edit_button.setVisible(name != CUSTOM)
        self.rebuild()

    def _on_auto_size(self, on: bool) -> None:
        self.size_spin.setEnabled(not on or not self.takes_sigma())
        self.rebuild()

    def _on_size(self) -> None:
        if self.kernel_name() == CUSTOM:
            self._custom = resize_centred(self._custom, self.size_spin.value())
        self.rebuild()

    def _on_sigma_spin(self, value: float) -> None:
        self.sigma_slider.blockSignals(True)
        self.sigma_slider.setValue(int(round(value * 10)))
        self.sigma_slider.blockSignals(False)
        self.rebuild()

    def size(self) -> int:
        """The kernel size in use: from σ for the Gaussian with "size from σ" ticked."""
        if self.takes_sigma() and self.auto_size.isChecked():
            return K.size_from_sigma(float(self.sigma_spin.value()))
        return self.size_spin.value()

    def rebuild(self) -> None:
        name = self.kernel_name()
        try:
            if name == CUSTOM:
                kernel = K.custom(self._custom)
            else:
                kernel = K.make_kernel(name, size=self.size(), sigma=float(self.sigma_spin.value()))
        except ValueError as exc:
            self.problem.emit(f"kernel: {exc}")
            return
        self.kernel = kernel
        self.size_spin.blockSignals(True)  # fixed 3×3 kernels and sizes from σ show their size
        self.size_spin.setValue(kernel.shape[0])
        self.size_spin.blockSignals(False)
        self.heatmap.set_kernel(kernel)
        self.kernel_info.setText(self.info_text())
        self.truncation.setText(self.truncation_text())
        self._fill_table(kernel)
        self.changed.emit()

    def truncation_text(self) -> str:
        """What the window does to the Gaussian: the rule in use, or what a fixed size cuts."""
        if not self.takes_sigma():
            return ""
        sigma = float(self.sigma_spin.value())
        k, needed = self.kernel.shape[0], K.size_from_sigma(sigma)
        if self.auto_size.isChecked():
            return f"k = 2⌈3σ⌉ + 1 = {k}: the window holds the bell"
        kept = K.gaussian_kept(k, sigma)
        if kept >= KEPT_WARNING:
            return f"the {k}×{k} window keeps {100 * kept:.1f} % of the Gaussian"
        return (f"<span style='color:{ERROR_COLOR.name()}'>the {k}×{k} window keeps only "
                f"{100 * kept:.0f} % of the Gaussian: nearly flat, more box than bell "
                f"(σ = {sigma:g} needs k = {needed})</span>")

    def info_text(self) -> str:
        k = self.kernel
        return f"{k.shape[0]}×{k.shape[1]} kernel · sum {k.sum():.4g} · hover a cell for its value"

    # ---------------------------------------------------------- custom values
    @property
    def custom_values(self) -> np.ndarray:
        """The custom kernel's values (what "Custom" shows and edits), float64."""
        return self._custom

    def _fill_table(self, kernel: np.ndarray) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(kernel.shape[0])
        self.table.setColumnCount(kernel.shape[1])
        for r in range(kernel.shape[0]):
            for c in range(kernel.shape[1]):
                item = QTableWidgetItem(f"{kernel[r, c]:.4g}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)

    def _on_table_edit(self, item: QTableWidgetItem) -> None:
        """A value typed into the custom kernel's grid."""
        text = item.text().strip().replace(",", ".")
        try:
            value = float(text)
            if not np.isfinite(value):
                raise ValueError
        except ValueError:
            self.table.blockSignals(True)
            item.setForeground(ERROR_COLOR)
            self.table.blockSignals(False)
            self.problem.emit(f"row {item.row()}, column {item.column()}: "
                              f"{item.text()!r} is not a number; the kernel is unchanged")
            return
        values = self.kernel.copy()
        values[item.row(), item.column()] = value
        self._custom = values
        self.rebuild()
