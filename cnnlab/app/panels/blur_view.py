"""The Blur lab: design a kernel, see it as a heatmap, and see what the engine's Conv2D
does with it to ten CIFAR-10 photos (before / after)."""

from __future__ import annotations

import json

import numpy as np
from PyQt6.QtCore import QBuffer, QIODevice, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.panels.image_views import BeforeAfterStrip, EnlargedPair, restore_values, save_values
from cnnlab.app.panels.kernel_designer import CUSTOM, MAX_KERNEL, KernelDesigner, ReservedLabel
from cnnlab.app.widgets import ERROR_COLOR, scrollable, show_error
from cnnlab.data.npz import atomic_write_bytes
from cnnlab.lab import kernels as K
from cnnlab.lab.filter_views import DISPLAY_MODES, pick_other_indices, to_display_rgb
from cnnlab.lab.image_source import CifarImages

MODES = [("per_channel", "per channel (3 → 3, diagonal)"),
         ("full", "full 3 → 3 (every input → every output)")]
SHOWN = 10  # images per row
COALESCE_MS = 25  # changes closer than this are filtered once


class BlurLabView(QWidget):
    """Kernel designer (left) and before/after CIFAR-10 strip (right).

    ``filtered`` fires after every recomputation; ``after`` holds the latest float32
    ``(10, 3, H', W')`` output of ``kernels.blur_images`` (None when the settings are
    impossible), ``indices`` the pool positions of the shown images.
    """

    filtered = pyqtSignal()

    def __init__(self, parent: QWidget | None = None, seed: int = 0):
        super().__init__(parent)
        self.rng = np.random.default_rng(seed)
        self.images: CifarImages | None = None
        self.indices = np.zeros(0, dtype=np.int64)
        self.after: np.ndarray | None = None
        self.error: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self.recompute)

        layout = QHBoxLayout(self)
        layout.addWidget(scrollable(self._build_controls()))
        layout.addWidget(self._build_images(), 1)
        self.designer.rebuild()

    @property
    def kernel(self) -> np.ndarray:
        """The current kernel, float64 ``(kh, kw)``."""
        return self.designer.kernel

    def kernel_name(self) -> str:
        return self.designer.kernel_name()

    # ------------------------------------------------------------ building
    def _build_controls(self) -> QWidget:
        box = QWidget()
        box.setFixedWidth(350)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)

        self.designer = KernelDesigner(self)
        d = self.designer
        d.changed.connect(self.schedule)
        d.problem.connect(self._set_message)
        # the designer's widgets, under the names the tests and settings use
        self.kernel_combo, self.size_spin, self.auto_size = d.kernel_combo, d.size_spin, d.auto_size
        self.sigma_spin, self.sigma_slider, self.heatmap = d.sigma_spin, d.sigma_slider, d.heatmap
        self.classic_button, self.edit_button, self.table = d.classic_button, d.edit_button, d.table
        self.kernel_info = d.kernel_info
        col.addWidget(d.group)

        conv_group = QGroupBox("Convolution")
        cform = QFormLayout(conv_group)
        self.stride_spin = QSpinBox()
        self.stride_spin.setRange(1, 8)
        self.padding_spin = QSpinBox()
        self.padding_spin.setRange(-1, 16)
        self.padding_spin.setSpecialValueText("same")  # -1 = "same"
        self.padding_spin.setValue(-1)
        self.padding_spin.setToolTip("zero padding p per side; 'same' keeps 32×32 at stride 1")
        self.dilation_spin = QSpinBox()
        self.dilation_spin.setRange(1, 6)
        self.mode_combo = QComboBox()
        for key, text in MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.setToolTip(
            "per channel: each colour blurred on its own.\nfull: every output channel sums the "
            "kernel over all three inputs (a blur turns grey and 3× as bright, clipped).")
        row = QHBoxLayout()  # one row: the three numbers of the output-size formula
        for spin, name in ((self.stride_spin, "stride s"), (self.padding_spin, "pad p"),
                           (self.dilation_spin, "dil. d")):
            spin.valueChanged.connect(self.schedule)
            label = QLabel(name)
            row.addWidget(label)
            row.addWidget(spin, 1)
        self.stride_spin.setToolTip("stride s: the step between windows")
        self.dilation_spin.setToolTip("dilation d: the gap between kernel taps")
        cform.addRow(row)
        self.mode_combo.currentIndexChanged.connect(self.schedule)
        cform.addRow("channels", self.mode_combo)
        self.display_combo = QComboBox()
        for key, text in DISPLAY_MODES.items():
            self.display_combo.addItem(text, key)
        self.display_combo.setToolTip("how filtered values become pixels: edge kernels (Sobel, "
                                      "Laplacian) give negative values, black when clipped")
        self.display_combo.currentIndexChanged.connect(self.schedule)
        cform.addRow("show", self.display_combo)
        col.addWidget(conv_group)
        self.formula = QLabel()
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # three lines reserved (a fourth only for non-square images): nothing below moves
        self.formula.setMinimumHeight(3 * self.formula.fontMetrics().lineSpacing() + 2)
        self.formula.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        col.addWidget(self.formula)
        # The message sits right under the settings it is about, in room reserved for it
        # (three lines): an impossible setting never moves the controls or scrolls them away
        self.message = ReservedLabel(3)
        self.message.setStyleSheet(f"color: {ERROR_COLOR.name()}")
        col.addWidget(self.message)
        # the heatmap takes what is left: the controls above keep their place at any size
        col.addWidget(d.heatmap, 1)
        col.addWidget(d.kernel_info)
        col.addWidget(d.table, 1)
        return box

    def _build_images(self) -> QWidget:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        row.addWidget(self.source_label, 1)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("show ten other images")
        self.shuffle_button.clicked.connect(self.shuffle)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("save the before/after strip as a PNG image")
        self.save_button.clicked.connect(self._ask_save_png)
        row.addWidget(self.shuffle_button)
        row.addWidget(self.save_button)
        col.addLayout(row)
        self.strip = BeforeAfterStrip()
        self.strip.image_clicked.connect(self._show_large)
        col.addWidget(self.strip)
        hint = QLabel("Click an image to see it large.")
        hint.setStyleSheet("color: grey")
        col.addWidget(hint)
        self.large = EnlargedPair()
        col.addWidget(self.large, 1)
        return box

    # ------------------------------------------------------------- images
    def set_images(self, images: CifarImages) -> None:
        """Show ten images of a new pool (the first ten, or ten random ones of a big pool)."""
        self.images = images
        n = len(images.x)
        self.indices = (np.arange(min(SHOWN, n), dtype=np.int64) if n <= 2 * SHOWN
                        else np.sort(self.rng.choice(n, SHOWN, replace=False)))
        self.source_label.setText(images.description)
        self._show_before()

    def shuffle(self) -> None:
        """Ten other images (seeded RNG; images not shown now come first)."""
        if self.images is None:
            return
        self.indices = pick_other_indices(len(self.images.x), self.indices, SHOWN, self.rng)
        self._show_before()

    def _show_before(self) -> None:
        imgs = self.images
        self.strip.set_before(to_display_rgb(imgs.x[self.indices]),
                              [imgs.class_names[int(imgs.y[i])] for i in self.indices])
        self.schedule()

    # ------------------------------------------------------------ filtering
    def padding(self) -> int | str:
        value = self.padding_spin.value()
        return "same" if value < 0 else value

    def conv_settings(self) -> dict:
        """What ``blur_images`` gets besides images and kernel."""
        return {"stride": self.stride_spin.value(), "padding": self.padding(),
                "dilation": self.dilation_spin.value(), "mode": self.mode_combo.currentData()}

    def schedule(self) -> None:
        """Recompute soon; a burst of changes (dragging σ) is filtered once."""
        self._timer.start()

    def recompute(self) -> None:
        """Filter the shown images with the current kernel through ``blur_images``."""
        self._timer.stop()
        s = self.conv_settings()
        k = self.kernel
        self.formula.setText(self._formula_text(s))
        try:
            if self.images is None:
                raise ValueError("no images loaded")
            after = K.blur_images(self.images.x[self.indices], k, **s)  # (10, 3, H', W')
        except ValueError as exc:
            self.after = None
            self.strip.set_after(None)
            self._set_message(str(exc))
        else:
            self.after = after
            self.strip.set_after(to_display_rgb(after, self.display_combo.currentData()))
            self._set_message("")
        self._show_large(self.strip.selected)
        self.filtered.emit()

    def _formula_text(self, s: dict) -> str:
        k = self.kernel
        h, w = self.images.x.shape[2:] if self.images is not None else (32, 32)
        try:
            pad_h, pad_w = K.resolve_padding(k, s["padding"], s["dilation"])
        except ValueError as exc:
            return str(exc)
        fh = K.output_size_formula(h, k.shape[0], s["stride"], pad_h, s["dilation"])
        fw = K.output_size_formula(w, k.shape[1], s["stride"], pad_w, s["dilation"])
        lines = ["output size = ⌊(H + 2p − d(k−1) − 1) / s⌋ + 1"]
        if s["padding"] == "same":
            lines.append(f"“same” padding: p = {pad_h[0]}" + (
                f" before, {pad_h[1]} after (k even)" if pad_h[0] != pad_h[1] else ""))
        lines.append("H′ = W′ = " + fh if (fh, h, pad_h) == (fw, w, pad_w)
                     else f"H′ = {fh}\nW′ = {fw}")
        return "\n".join(lines)

    def output_size_text(self) -> str:
        return self.formula.text()

    def _set_message(self, text: str) -> None:
        self.error = text or None
        self.message.setText(text)

    def _show_large(self, index: int) -> None:
        if self.images is None or not len(self.indices):
            return
        index = min(index, len(self.indices) - 1)
        i = int(self.indices[index])
        name = self.images.class_names[int(self.images.y[i])]
        before = to_display_rgb(self.images.x[i:i + 1])[0]
        after = None if self.after is None else to_display_rgb(
            self.after[index:index + 1], self.display_combo.currentData())[0]
        after_caption = ("after: " + "×".join(map(str, after.shape[:2])) if after is not None
                         else "after: — impossible settings")
        self.large.set_images(before, after, f"{name} · {self.images.name} #{i}", after_caption)

    # ---------------------------------------------------------------- saving
    def _ask_save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save before/after images", "blur.png",
                                              "PNG images (*.png)")
        if path:
            try:
                self.save_png(path)
            except OSError as exc:
                show_error(self, "Could not save the PNG", f"{path}: {exc}")

    def save_png(self, path: str) -> None:
        """Write the before/after strip (each image pixel 4×4) to ``path`` atomically."""
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self.strip.render_image(scale=4).save(buffer, "PNG"):
            raise OSError("Qt could not encode the image as PNG")
        atomic_write_bytes(path, bytes(buffer.data()))

    # -------------------------------------------------------------- settings
    def _spins(self) -> dict:
        return {"size": self.size_spin, "sigma": self.sigma_spin, "stride": self.stride_spin,
                "padding": self.padding_spin, "dilation": self.dilation_spin}

    def save_settings(self, settings: QSettings, prefix: str) -> None:
        settings.setValue(f"{prefix}/kernel", self.kernel_name())
        save_values(settings, prefix, self._spins())
        settings.setValue(f"{prefix}/mode", self.mode_combo.currentData())
        settings.setValue(f"{prefix}/custom", json.dumps(self.designer.custom_values.tolist()))
        settings.setValue(f"{prefix}/size_from_sigma", int(self.auto_size.isChecked()))

    def restore_settings(self, settings: QSettings, prefix: str) -> None:
        restore_values(settings, prefix, self._spins())
        self.auto_size.setChecked(stored.read(settings, f"{prefix}/size_from_sigma", True, "bool"))
        modes = [self.mode_combo.itemData(i) for i in range(self.mode_combo.count())]
        mode = stored.read(settings, f"{prefix}/mode", self.mode_combo.currentData(), "str",
                           choices=modes)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(mode))
        names = [self.kernel_combo.itemData(i) for i in range(self.kernel_combo.count())]
        name = stored.read(settings, f"{prefix}/kernel", None, "str", choices=names)
        if name == CUSTOM:  # JSON, never eval: the settings file is the user's to edit
            custom = stored.read(settings, f"{prefix}/custom", None, "json", max_len=50_000,
                                 check=_custom_kernel)
            if custom is None:
                name = None  # unreadable custom values: keep the default kernel
            else:
                self.designer.kernel = custom
        index = self.kernel_combo.findData(name)
        if index >= 0:
            self.kernel_combo.blockSignals(True)
            self.kernel_combo.setCurrentIndex(index)
            self.kernel_combo.blockSignals(False)
        self.designer.apply_choice()


def _custom_kernel(values) -> np.ndarray:
    """Saved custom kernel values as a kernel no larger than the editor allows."""
    kernel = K.custom(values)
    if max(kernel.shape) > MAX_KERNEL:
        raise ValueError(f"a {kernel.shape[0]}×{kernel.shape[1]} kernel is larger than "
                         f"{MAX_KERNEL}×{MAX_KERNEL}")
    return kernel
