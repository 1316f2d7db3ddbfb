"""Experiments → Analysis, right column: a gallery of test images (the mistakes, or one
confusion-matrix cell) and the probability bars of the selected one."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.experiment_widgets import BarChart, image_to_qimage, percent
from cnnlab.app.widgets import ERROR_COLOR, PREVIOUS_COLOR

#: The gallery shows at most this many images (the most confident mistakes first).
GALLERY_LIMIT = 200
GOOD_COLOR = QColor(44, 160, 44)


def short_name(name: str, n: int = 5) -> str:
    """Column labels of a 10-class matrix have ~40 px: ``automobile`` → ``autom``."""
    return name if len(name) <= n else name[:n]


class MistakesGallery(QSplitter):
    """``fill(analysis, x_test, test_index, idx, title)`` shows images ``idx`` of the
    analysed set; ``test_index[i]`` is image i's index in the whole test set (the analysis
    may have run on a subset)."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.analysis = None
        self.indices = np.zeros(0, dtype=np.int64)  # analysed-set index of each item
        self.selected_image: int | None = None
        self._test_index: np.ndarray | None = None
        self.title = QLabel("misclassified test images")
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(QSize(56, 56))
        self.list.setGridSize(QSize(92, 96))
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.note = EmptyNote(self.list, "the misclassified test images appear here, the most "
                                         "confident mistakes first")
        self.show_all = QPushButton("All mistakes")
        self.show_all.setToolTip("show every misclassified image again (after clicking a cell)")
        self.probabilities = BarChart("click an image to see its probabilities", "probability")
        box = QWidget()
        gl = QVBoxLayout(box)
        gl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.show_all)
        gl.addLayout(head)
        gl.addWidget(self.list, 1)
        self.addWidget(box)
        self.addWidget(self.probabilities)
        self.setSizes([400, 260])
        self.list.currentRowChanged.connect(self._on_row)

    def fill(self, analysis, x_test: np.ndarray, test_index: np.ndarray, idx: np.ndarray,
             title: str) -> None:
        a = self.analysis = analysis
        self._test_index = test_index  # not the images: the view owns them (until the data changes)
        shown = idx[:GALLERY_LIMIT]
        if len(idx) > len(shown):
            title += f" — the {len(shown)} most confident"
        self.title.setText(title)
        self.indices = shown
        self.list.clear()
        scale = max(1, 56 // x_test.shape[-1])
        for i in shown:
            t, p = int(a.y_true[i]), int(a.y_pred[i])
            item = QListWidgetItem(
                QIcon(QPixmap.fromImage(image_to_qimage(x_test[i], scale))),
                f"{short_name(a.class_names[t], 6)} → {short_name(a.class_names[p], 6)}\n"
                f"{percent(a.proba[i, p], 0)}")
            item.setToolTip(f"test image #{test_index[i]}: true {a.class_names[t]}, guessed "
                            f"{a.class_names[p]} with p = {a.proba[i, p]:.3f}")
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            self.list.addItem(item)
        self.selected_image = None
        self.note.set_empty(not len(shown), "no images here" if a is not None else None)
        if len(shown):
            self.list.setCurrentRow(0)
        else:
            self.probabilities.set_bars(np.zeros(a.n_classes), [short_name(n) for n in a.class_names])
            self.probabilities.set_title("no images in this cell")
        self.changed.emit()

    def _on_row(self, row: int) -> None:
        if self.analysis is None or not 0 <= row < len(self.indices):
            return
        self.show_probabilities(int(self.indices[row]))

    def show_probabilities(self, index: int) -> None:
        """Probability bars of analysed image ``index``: true class green, a wrong guess red."""
        a = self.analysis
        self.selected_image = index
        t, p = int(a.y_true[index]), int(a.y_pred[index])
        colors = [PREVIOUS_COLOR] * a.n_classes
        colors[p] = ERROR_COLOR if p != t else GOOD_COLOR
        colors[t] = GOOD_COLOR
        self.probabilities.set_bars(a.proba[index], [short_name(n) for n in a.class_names],
                                    colors, y_range=(0, 1))
        self.probabilities.set_title(
            f"test image #{self._test_index[index]}: true {a.class_names[t]} "
            f"(p = {a.proba[index, t]:.2f}), guess {a.class_names[p]} (p = {a.proba[index, p]:.2f})")
