"""The layer designer's list: a table of layer specs with their inferred shapes, the
Add/Duplicate/Remove/Up/Down buttons, the parameter total and the message line.

It only renders: :class:`LayerList` shows what ``ModelPanel`` computed (``infer_shapes``
rows and the first error) and emits what the user asked for.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction, QBrush, QColor, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.layer_form import NEW_LAYER_SPECS, describe_spec
from cnnlab.app.widgets import ERROR_COLOR, format_count
from cnnlab.lab.network_design import shape_text

COLUMNS = ("#", "layer", "parameters", "output shape", "params")
_BAD_ROW = QColor(253, 222, 222)
_GREY_TEXT = QColor(150, 150, 150)


class LayerList(QWidget):
    """Table + buttons + totals + message. Signals carry the user's requests."""

    add_requested = pyqtSignal(str)  # layer kind
    duplicate_requested = pyqtSignal()
    remove_requested = pyqtSignal()
    move_requested = pyqtSignal(int)  # -1 up, +1 down
    selection_changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.input_label = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        fit, stretch = QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Stretch
        for col, mode in enumerate((fit, fit, stretch, fit, fit)):
            header.setSectionResizeMode(col, mode)
        self.table.itemSelectionChanged.connect(self.selection_changed)
        delete = QAction(self.table)
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self.remove_requested)
        self.table.addAction(delete)

        self.add_menu = QMenu(self)
        for kind in NEW_LAYER_SPECS:
            self.add_menu.addAction(kind, lambda k=kind: self.add_requested.emit(k))
        self.add_button = QToolButton()
        self.add_button.setText("Add layer ▾")
        self.add_button.setMenu(self.add_menu)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.duplicate_button = QPushButton("Duplicate")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("▲ Up")
        self.down_button = QPushButton("▼ Down")
        self.duplicate_button.clicked.connect(self.duplicate_requested)
        self.remove_button.clicked.connect(self.remove_requested)
        self.up_button.clicked.connect(lambda: self.move_requested.emit(-1))
        self.down_button.clicked.connect(lambda: self.move_requested.emit(+1))
        buttons = QHBoxLayout()
        self.buttons = (self.add_button, self.duplicate_button, self.remove_button,
                        self.up_button, self.down_button)
        for w in self.buttons:
            buttons.addWidget(w)
        buttons.addStretch(1)

        self.total_label = QLabel()
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.input_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.total_label)
        layout.addWidget(self.message_label)

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def show_design(self, specs: list[dict], rows, error: str | None,
                    error_row: int | None) -> None:
        """Fill the table from specs and their ``ShapeRow``s; the ``error_row`` turns red
        with ``error`` as tooltip; rows after it (with errors of their own) turn grey."""
        table = self.table
        table.blockSignals(True)
        table.setRowCount(len(specs))
        for i, (spec, row) in enumerate(zip(specs, rows)):
            cells = (str(i), spec.get("type", "?"), describe_spec(spec),
                     shape_text(row.output_shape), format_count(row.n_params) if row.n_params else "")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (0, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if i == error_row:
                    item.setBackground(QBrush(_BAD_ROW))
                    item.setForeground(QBrush(ERROR_COLOR))
                    item.setToolTip(error or "")
                elif row.error:
                    item.setForeground(QBrush(_GREY_TEXT))
                    item.setToolTip(row.error)
                table.setItem(i, col, item)
        table.blockSignals(False)
        self.total_label.setText(f"Total params: {format_count(sum(r.n_params for r in rows))}"
                                 f"  ·  {len(specs)} layers")

    def show_message(self, text: str, is_error: bool) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(f"color: {ERROR_COLOR.name()};" if is_error else "")
