"""Data ▸ Browse…: the loaded dataset as a grid of images with their labels — filter by
class, page through, jump to an index (what the MNIST notebooks show first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QIcon, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.experiment_widgets import image_to_qimage
from cnnlab.app.widgets import ERROR_COLOR
from cnnlab.lab.browsing import BrowseView

if TYPE_CHECKING:
    from cnnlab.app.session import Session

PAGE_SIZE = 60
ICON_PX = 56


class DatasetBrowser(QDialog):
    """A window over ``session.dataset`` that follows dataset changes. ``split`` picks the
    training or test images, ``class_filter`` one class, ``show_index(i)`` jumps."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Browse the dataset")
        self.resize(900, 640)
        self.view: BrowseView | None = None
        self.page = 0

        self.split = QComboBox()
        self.split.addItems(["training images", "test images"])
        self.class_filter = QComboBox()
        self.class_filter.setToolTip("show only the images of one class")
        self.jump = QSpinBox()
        self.jump.setToolTip("an image's index in the chosen set")
        self.jump_button = QPushButton("Go")
        self.jump_button.setToolTip("show the page with this image and select it")
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.page_label = QLabel()
        self.message = QLabel()
        self.message.setStyleSheet(f"color: {ERROR_COLOR.name()}")
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setIconSize(QSize(ICON_PX, ICON_PX))
        self.grid.setGridSize(QSize(ICON_PX + 28, ICON_PX + 34))
        self.grid.setUniformItemSizes(True)
        self.note = EmptyNote(self.grid, "load a dataset (Data menu): its images appear here")

        top = QHBoxLayout()
        for w in (QLabel("show"), self.split, QLabel("class"), self.class_filter):
            top.addWidget(w)
        top.addStretch(1)
        for w in (QLabel("jump to #"), self.jump, self.jump_button):
            top.addWidget(w)
        bottom = QHBoxLayout()
        bottom.addWidget(self.prev_button)
        bottom.addWidget(self.page_label, 1, Qt.AlignmentFlag.AlignCenter)
        bottom.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.grid, 1)
        layout.addLayout(bottom)

        self.split.currentIndexChanged.connect(lambda _i: self._rebuild())
        self.class_filter.currentIndexChanged.connect(lambda _i: self._rebuild())
        self.prev_button.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next_button.clicked.connect(lambda: self.show_page(self.page + 1))
        self.jump_button.clicked.connect(lambda: self.show_index(self.jump.value()))
        self.jump.editingFinished.connect(lambda: self.show_index(self.jump.value()))
        session.dataset_changed.connect(lambda _ds: self._on_dataset())
        self._on_dataset()

    # ---------------------------------------------------------------- data
    def arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The images ``(N, C, H, W)`` uint8 and labels ``(N,)`` of the chosen split."""
        ds = self.session.dataset
        if ds is None:
            return None
        return (ds.x_train, ds.y_train) if self.split.currentIndex() == 0 else (ds.x_test, ds.y_test)

    def _on_dataset(self) -> None:
        ds = self.session.dataset
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("all classes", None)
        for k, name in enumerate(ds.class_names if ds is not None else ()):
            self.class_filter.addItem(f"{k}: {name}" if name != str(k) else name, k)
        self.class_filter.blockSignals(False)
        self.setWindowTitle(f"Browse {ds.name}" if ds is not None else "Browse the dataset")
        self._rebuild()

    def _rebuild(self) -> None:
        arrays = self.arrays()
        self.message.setText("")
        if arrays is None:
            self.view = None
            self.grid.clear()
            self.note.set_empty(True)
            self._update_paging()
            return
        _x, y = arrays
        self.jump.setRange(0, max(0, len(y) - 1))
        self.view = BrowseView(y, PAGE_SIZE, self.class_filter.currentData())
        self.show_page(0)

    # ---------------------------------------------------------------- paging
    def show_page(self, page: int) -> None:
        if self.view is None:
            return
        self.page = min(max(page, 0), self.view.pages - 1)
        x, y = self.arrays()
        ds = self.session.dataset
        self.grid.clear()
        scale = max(1, ICON_PX // x.shape[-1])
        for i in self.view.page_indices(self.page):
            label = int(y[i])
            item = QListWidgetItem(QIcon(QPixmap.fromImage(image_to_qimage(x[i], scale))),
                                   f"#{i}\n{ds.class_names[label]}")
            item.setToolTip(f"{('training', 'test')[self.split.currentIndex()]} image #{i}: "
                            f"{ds.class_names[label]} (label {label})")
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            self.grid.addItem(item)
        self.note.set_empty(not len(self.view.indices),
                            "no images of this class in this set" if ds is not None else None)
        self._update_paging()

    def show_index(self, index: int) -> bool:
        """Show the page holding image ``index`` and select it; False (with the reason
        shown) when it is out of range or filtered out."""
        if self.view is None:
            return False
        try:
            page, slot = self.view.locate(index)
        except ValueError as exc:
            self.message.setText(str(exc))
            return False
        self.show_page(page)
        self.message.setText("")
        self.grid.setCurrentRow(slot)
        self.grid.scrollToItem(self.grid.item(slot))
        return True

    def shown_indices(self) -> list[int]:
        return [self.grid.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.grid.count())]

    def _update_paging(self) -> None:
        v = self.view
        n = 0 if v is None else len(v.indices)
        pages = 1 if v is None else v.pages
        self.prev_button.setEnabled(v is not None and self.page > 0)
        self.next_button.setEnabled(v is not None and self.page < pages - 1)
        first = self.page * PAGE_SIZE
        self.page_label.setText(f"page {self.page + 1} of {pages} · images {first + 1:,}–"
                                f"{min(first + PAGE_SIZE, n):,} of {n:,}" if n else "no images")
