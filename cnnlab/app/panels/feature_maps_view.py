"""What the network does with the drawn digit: every spatial layer's feature maps (one
tile per channel, one colour scale per layer) and the first conv layer's kernels."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnnlab.app.widgets import TileGrid
from cnnlab.lab.filter_views import conv_layers, kernel_tiles


def grid_columns(n: int, width: float, height: float) -> int:
    """How many columns make ``n`` square tiles largest in a ``width`` × ``height`` area."""
    best, best_side = 1, 0.0
    for cols in range(1, max(1, n) + 1):
        rows = -(-n // cols)
        side = min(width / cols, height / rows)
        if side > best_side:
            best, best_side = cols, side
    return best


def _fitting_columns(grid: TileGrid, n: int) -> int:
    # leave room for the colour bar and the title
    return grid_columns(n, max(grid.width() - 80, 50), max(grid.height() - 40, 30))


class FeatureMapsView(QWidget):
    """Feature maps (with a layer picker) beside the first conv layer's kernels.

    ``show_kernels(model)`` on every model change or weight snapshot;
    ``show_activations(model, x)`` with the network input ``x`` float32 ``(28, 28)``
    (None clears the maps). Tiles re-flow to fill the area when the view is resized.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.feature_maps: dict[int, tuple[str, np.ndarray]] = {}  # layer index -> (name, (C, H, W))
        self.layer_picker = QComboBox()
        self.layer_picker.setToolTip("which layer's output to show, one tile per channel")
        self.layer_picker.currentIndexChanged.connect(self._show_feature_maps)
        self.maps_grid = TileGrid()
        maps_box = QGroupBox("Feature maps for the drawn digit (one tile per channel, shared colour scale)")
        maps_layout = QVBoxLayout(maps_box)
        picker_row = QHBoxLayout()
        picker_row.addWidget(QLabel("Layer:"))
        picker_row.addWidget(self.layer_picker, 1)
        maps_layout.addLayout(picker_row)
        maps_layout.addWidget(self.maps_grid, 1)
        self.kernels_grid = TileGrid()
        kernels_box = QGroupBox("First conv layer's kernels")
        QVBoxLayout(kernels_box).addWidget(self.kernels_grid)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(maps_box, 3)
        layout.addWidget(kernels_box, 2)
        self._kernel_model = None

    # ------------------------------------------------------------ feature maps
    def show_activations(self, model, x: np.ndarray | None) -> None:
        """Run ``model`` (a snapshot safe on the GUI thread) on ``x`` ``(28, 28)`` and show
        the output of every layer that keeps a spatial layout ``(C, H, W)``."""
        previous = self.layer_picker.currentData()
        self.feature_maps = {}
        if model is not None and x is not None:
            for index, name, a in model.activations(x[None, None]):
                if a.ndim == 4:  # (1, C, H, W): a stack of feature maps
                    self.feature_maps[index] = (name, np.array(a[0], dtype=np.float32))
        self.layer_picker.blockSignals(True)
        self.layer_picker.clear()
        for index, (name, maps) in self.feature_maps.items():
            c, h, w = maps.shape
            self.layer_picker.addItem(f"#{index} {name} — {c} maps of {h}×{w}", index)
        if self.feature_maps:
            first_conv = next((i for i, (n, _) in self.feature_maps.items() if n == "Conv2D"),
                              next(iter(self.feature_maps)))
            pick = previous if previous in self.feature_maps else first_conv
            self.layer_picker.setCurrentIndex(self.layer_picker.findData(pick))
        self.layer_picker.blockSignals(False)
        self._show_feature_maps()

    def _show_feature_maps(self) -> None:
        index = self.layer_picker.currentData()
        if index is None or index not in self.feature_maps:
            self.maps_grid.clear()
            self.maps_grid.set_title("draw a digit to see its feature maps")
            return
        name, maps = self.feature_maps[index]
        self.maps_grid.set_tiles(maps, cmap="viridis", columns=_fitting_columns(self.maps_grid, len(maps)))
        lo, hi = self.maps_grid.levels
        self.maps_grid.set_title(f"#{index} {name}: {maps.shape[0]} channels, "
                                 f"values {lo:.2g} … {hi:.2g}")

    # ----------------------------------------------------------------- kernels
    def show_kernels(self, model) -> None:
        """The first Conv2D's kernels of ``model`` on one diverging scale centred at 0."""
        self._kernel_model = model
        layers = conv_layers(model) if model is not None else []
        if not layers:
            self.kernels_grid.clear()
            self.kernels_grid.set_title("no conv layer in this model")
            return
        index, conv = layers[0]
        tiles = kernel_tiles(conv.params["W"])  # W: (C_out, C_in, kh, kw)
        columns = (_fitting_columns(self.kernels_grid, len(tiles.tiles))
                   if conv.params["W"].shape[1] == 1 else tiles.columns)
        self.kernels_grid.set_tiles(tiles.tiles, levels=tiles.levels, cmap=tiles.cmap, columns=columns)
        self.kernels_grid.set_title(f"#{index} Conv2D: {tiles.description}")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # re-flow the tiles for the new shape of their area, once the layout has run
        QTimer.singleShot(0, self._reflow)

    def _reflow(self) -> None:
        self._show_feature_maps()
        self.show_kernels(self._kernel_model)
