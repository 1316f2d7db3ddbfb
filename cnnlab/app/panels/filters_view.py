"""The current model's conv kernels as tiles, per layer, live while training runs."""

from __future__ import annotations

from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnnlab.app.widgets import TileGrid
from cnnlab.lab.filter_views import conv_layers, kernel_tiles


class ModelFiltersView(QWidget):
    """A layer picker and the picked Conv2D's kernels (``kernel_tiles``): RGB tiles for a
    layer that sees 3 channels, one diverging tile per input channel otherwise, one shared
    scale. ``show_model`` is called on model changes and with every training snapshot;
    while the view is hidden it only remembers the latest model.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = None
        self.shown_model = None  # the model whose kernels the grid shows
        self._stale = True  # a model arrived while hidden
        self.update_text = ""
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("layer"))
        self.layer_combo = QComboBox()
        self.layer_combo.setMinimumContentsLength(36)
        self.layer_combo.currentIndexChanged.connect(self._render)
        row.addWidget(self.layer_combo)
        self.contrast_check = QCheckBox("each filter at full contrast")
        self.contrast_check.setToolTip(
            "off: one shared scale for the whole layer (compare magnitudes)\n"
            "on: each filter divided by its own max |w| (see every pattern)")
        self.contrast_check.toggled.connect(self._render)
        row.addWidget(self.contrast_check)
        self.info = QLabel()
        self.info.setWordWrap(True)
        row.addWidget(self.info, 1)
        layout.addLayout(row)
        self.grid = TileGrid()
        layout.addWidget(self.grid, 1)

    def show_model(self, model, update_text: str = "") -> None:
        """Show ``model``'s conv kernels (a Sequential safe to read on the GUI thread)."""
        self.model = model
        self.update_text = update_text
        layers = conv_layers(model) if model is not None else []
        names = [f"#{i} {layer.name} {layer.in_channels}→{layer.out_channels}, "
                 f"{layer.kernel_size[0]}×{layer.kernel_size[1]}" for i, layer in layers]
        if names != [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())]:
            keep = self.layer_combo.currentIndex()
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            for name, (i, _layer) in zip(names, layers):
                self.layer_combo.addItem(name, i)
            self.layer_combo.setCurrentIndex(keep if 0 <= keep < len(names) else 0)
            self.layer_combo.blockSignals(False)
        self._stale = True
        if self.isVisible():
            self._render()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._render()

    def _render(self) -> None:
        self.shown_model, self._stale = self.model, False
        position = self.layer_combo.currentData()
        if self.model is None or position is None:
            self.grid.clear()
            self.info.setText("no model loaded" if self.model is None
                              else "the current model has no conv layers")
            return
        layer = self.model.layers[position]
        per_filter = self.contrast_check.isChecked()
        tiles = kernel_tiles(layer.params["W"], per_filter=per_filter)  # W: (C_out, C_in, kh, kw)
        self.grid.set_tiles(tiles.tiles, levels=tiles.levels, cmap=tiles.cmap,
                            columns=tiles.columns)
        scale = ("each filter scaled to its own max |w|" if per_filter
                 else f"shared scale ±{tiles.levels[1]:.3g}")
        self.info.setText(" · ".join(t for t in (tiles.description, scale, self.update_text) if t))
