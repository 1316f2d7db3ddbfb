"""The Backprop tab: type an expression in x, y, z, see its computation graph with every
node's value and gradient, and the gradients checked against central differences."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QBrush, QColor, QFontDatabase
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QGraphicsScene,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.panels.graph_view import (
    COL_STEP,
    CONST_FILL,
    INPUT_FILL,
    OP_FILL,
    ROOT_FILL,
    ROW_STEP,
    GraphView,
    NodeBox,
    arrow,
    bigger,
    format_number,
    node_title,
)
from cnnlab.app.widgets import ERROR_COLOR
from cnnlab.autograd import DomainError, ExpressionError, graph, parse
from cnnlab.autograd.gradient_check import check_gradients
from cnnlab.autograd.graph_layout import layered_layout, waypoint_count
from cnnlab.autograd.parser import MAX_LENGTH, VARIABLES

if TYPE_CHECKING:
    from cnnlab.app.session import Session

DEFAULT_EXPRESSION = "log(σ((cos(πx) + sin(πy/2)) / tanh(z²)))"
DEFAULT_POINT = {"x": 2.0, "y": 4.0, "z": 1.0}
#: Typing pauses this long before the graph is rebuilt (keystrokes are coalesced).
LIVE_DELAY_MS = 250
#: Larger graphs are computed and checked but not drawn: their layout would take seconds
#: (a chain like x+x+…+x needs a lane in every column for each use of x).
MAX_DRAWN_NODES = 150
MAX_DRAWN_WAYPOINTS = 1500

class BackpropPanel(QWidget):
    """Expression box, x/y/z inputs, the computation graph, and the gradient check."""

    def __init__(self, session: Session | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session  # unused: the explorer needs no model or dataset
        self.expression = None  # last good autograd.Expression
        self.nodes: list = []  # GraphNode list of the drawn graph
        self.edges: list[tuple[int, int]] = []
        self.rows: list = []  # GradientCheck rows of the drawn point
        self.boxes: list[NodeBox] = []
        self._structure: tuple | None = None  # (text, ops) of the drawn graph
        self.stale = False  # the graph and table show an older expression or point
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.edit = QLineEdit(DEFAULT_EXPRESSION)
        self.edit.setFont(bigger(self._mono, 2))
        self.edit.setToolTip("an expression in x, y, z with + − * / ** (or ^), sin cos tanh exp "
                             "log σ (or sigmoid), π (or pi); 2x and z² work too")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("evaluate now (it also evaluates as you type)")
        self.reset_button = QPushButton("Default")
        self.reset_button.setToolTip("restore the default expression and point")
        self.inputs: dict[str, QDoubleSpinBox] = {}
        for name in VARIABLES:
            box = QDoubleSpinBox()
            box.setRange(-1e6, 1e6)
            box.setDecimals(4)
            box.setSingleStep(0.1)
            box.setValue(DEFAULT_POINT[name])
            box.setKeyboardTracking(True)
            box.setMinimumWidth(90)
            self.inputs[name] = box
        self.result_label = QLabel()
        self.result_label.setFont(bigger(self._mono, 1))
        self.message = QLabel()
        self.message.setFont(self._mono)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setWordWrap(False)
        self.message.hide()
        self.stale_label = QLabel()
        self.stale_label.setStyleSheet("color: #7a5a00; background: #fff4cc; padding: 2px 6px;")
        self.stale_label.hide()

        self.scene = QGraphicsScene(self)
        self.view = GraphView(self.scene)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("zoom to show the whole graph (mouse wheel zooms, drag scrolls)")

        self.table = QTableWidget(len(VARIABLES), 5)
        self.table.setHorizontalHeaderLabels(
            ["", "backward()", "central difference", "|difference|", "check"])
        self.table.setVerticalHeaderLabels([f"∂f/∂{v}" for v in VARIABLES])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setColumnHidden(0, True)
        self.table.setFont(self._mono)
        self.check_note = QLabel(
            "backward() applies the chain rule from the output back through every box; the "
            "central difference (f(p+h) − f(p−h)) / 2h with h = 1e-6 needs no calculus. "
            "ok when they agree to about 1e-5 (relative).")
        self.check_note.setWordWrap(True)

        self._build_layout()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(LIVE_DELAY_MS)
        self._timer.timeout.connect(self.evaluate)
        self.edit.textEdited.connect(self._on_edit)
        self.edit.returnPressed.connect(self.evaluate)
        for box in self.inputs.values():
            box.valueChanged.connect(self._on_edit)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.reset_button.clicked.connect(self.reset)
        self.fit_button.clicked.connect(self.view.fit)
        self.evaluate()

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("f(x, y, z) ="))
        top.addWidget(self.edit, 1)
        top.addWidget(self.evaluate_button)
        top.addWidget(self.reset_button)
        point = QHBoxLayout()
        for name, box in self.inputs.items():
            point.addWidget(QLabel(f"{name} ="))
            point.addWidget(box)
            point.addSpacing(12)
        point.addWidget(self.result_label, 1)
        point.addWidget(self.fit_button)

        graph_box = QWidget()
        gl = QVBoxLayout(graph_box)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addWidget(self.stale_label)
        gl.addWidget(self.view)
        check_box = QWidget()
        cl = QVBoxLayout(check_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.table)
        cl.addWidget(self.check_note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(graph_box)
        split.addWidget(check_box)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([520, 170])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(point)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)

    # ----------------------------------------------------------------- actions
    def point(self) -> dict[str, float]:
        return {name: box.value() for name, box in self.inputs.items()}

    def reset(self) -> None:
        self.edit.setText(DEFAULT_EXPRESSION)
        for name, box in self.inputs.items():
            box.blockSignals(True)
            box.setValue(DEFAULT_POINT[name])
            box.blockSignals(False)
        self.evaluate()

    def _on_edit(self, *_args) -> None:
        """Typing or a new point: the shown results belong to the old input until the
        (debounced) evaluation, so they are marked stale at once."""
        self._timer.start()
        self._set_stale("the expression or the point changed; evaluating…")

    def evaluate(self) -> bool:
        """Parse, evaluate, backpropagate and redraw. Returns False (and shows why) for a
        malformed expression or a point outside the domain; the last good graph stays,
        marked stale."""
        self._timer.stop()
        text = self.edit.text()
        try:
            expression = parse(text)
        except ExpressionError as exc:
            self._show_parse_error(exc)
            self._set_stale("the graph below is the last expression that could be evaluated, "
                            "not the one typed above (it has an error)")
            return False
        point = self.point()
        try:
            root, rows = check_gradients(expression, point)
        except (DomainError, ArithmeticError) as exc:  # every numeric failure: DomainError
            where = ", ".join(f"{k} = {format_number(v)}" for k, v in point.items())
            shown = self.expression.text if self.expression is not None else ""
            still = ("the last point where it was defined" if shown == text
                     else "the last expression that could be evaluated, "
                     + (shown if len(shown) <= 60 else shown[:59] + "…"))
            self._show_message(f"f is undefined at {where}: {exc}.\n"
                               f"The graph below still shows {still}.")
            self.result_label.setText("   f undefined")
            self._set_stale("f is undefined here; the graph below shows "
                            + ("the last point where it was defined" if shown == text
                               else "the last expression that could be evaluated"))
            return False
        self.expression = expression
        nodes, edges = graph(root)
        self.nodes, self.edges, self.rows = nodes, edges, rows
        self._set_stale(None)
        self._draw(text, nodes, edges)
        self._fill_table(rows)
        self.result_label.setText(f"   f = {format_number(root.data)}")
        notes = {r.note for r in rows if r.note}
        if not math.isfinite(root.data):
            notes.add(f"f = {format_number(root.data)}: a number or an intermediate result "
                      "is beyond float64 (about ±1.8e308)")
        if notes:
            self._show_message("; ".join(sorted(notes)))
        else:
            self.message.hide()
        self.edit.setStyleSheet("")
        return True

    def _show_parse_error(self, exc: ExpressionError) -> None:
        pos = min(max(exc.position, 0), len(self.edit.text()))
        self._show_message(f"{exc.pointer()}  {exc.message} (position {pos + 1})")
        self.edit.setStyleSheet(f"QLineEdit {{ border: 2px solid {ERROR_COLOR.name()}; }}")
        self.edit.setCursorPosition(pos)

    def _set_stale(self, why: str | None) -> None:
        """Grey out the graph and table (or restore them) with a banner saying why."""
        self.stale = why is not None and bool(self.boxes or self.rows)
        if self.stale:
            self.stale_label.setText(f"⚠ Stale: {why}.")
        self.stale_label.setVisible(self.stale)
        for item in self.scene.items():
            if item.parentItem() is None:
                item.setOpacity(0.35 if self.stale else 1.0)
        self.table.setEnabled(not self.stale)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {ERROR_COLOR.name()};")
        self.message.show()

    # ----------------------------------------------------------------- drawing
    def _draw(self, text: str, nodes, edges) -> None:
        structure = (text, tuple((n.op, n.label) for n in nodes))
        inputs = [n.id for n in nodes if not n.op and n.label in VARIABLES]
        if len(nodes) > MAX_DRAWN_NODES or waypoint_count(len(nodes), edges, inputs) > MAX_DRAWN_WAYPOINTS:
            self._structure = None
            self.view.focus_item = None
            self.scene.clear()
            self.boxes = []
            self.scene.addText(f"{len(nodes)} boxes: too many to draw clearly.\n"
                               "f and its gradients are in the table below.").setFont(self._mono)
            return
        if structure != self._structure:  # a new graph: new boxes and arrows
            self._build_scene(nodes, edges)
            self._structure = structure
            self.view.fit()
        for box, node in zip(self.boxes, nodes):
            box.set_numbers(node.value, node.grad)

    def _build_scene(self, nodes, edges) -> None:
        self.view.focus_item = None
        self.scene.clear()
        self.boxes = []
        inputs = [n.id for n in nodes if not n.op and n.label in VARIABLES]
        layout = layered_layout(len(nodes), edges, inputs)
        root = len(nodes) - 1
        for node in nodes:
            if node.id == root:
                fill = ROOT_FILL
            elif not node.op:
                fill = INPUT_FILL if node.id in inputs else CONST_FILL
            else:
                fill = OP_FILL
            box = NodeBox(node_title(node.op, node.label), fill, self._mono)
            box.setPos(layout.columns[node.id] * COL_STEP, layout.rows[node.id] * ROW_STEP)
            box.setZValue(1)
            box.setToolTip(self._node_tip(node))
            self.scene.addItem(box)
            self.boxes.append(box)
        self.view.focus_item = self.boxes[inputs[0] if inputs else 0]
        seen: dict[tuple[int, int], int] = {}
        for (child, parent), lanes in zip(edges, layout.waypoints):
            k = seen.get((child, parent), 0)  # x*x: a second arrow, slightly offset
            seen[(child, parent)] = k + 1
            self.scene.addItem(arrow(self.boxes[child], self.boxes[parent], lanes, 8.0 * k))

    @staticmethod
    def _node_tip(node) -> str:
        if not node.op:
            return f"{node.label}: a leaf (input or constant)"
        return (f"{node_title(node.op, node.label)}: its value from its inputs on the left; "
                "grad = ∂f/∂(this box), summed over the arrows leaving it")

    def _fill_table(self, rows) -> None:
        for i, row in enumerate(rows):
            cells = [row.variable, format_number(row.backward), format_number(row.numeric),
                     f"{row.difference:.1e}" if math.isfinite(row.difference) else "—",
                     "ok ✓" if row.ok else "not ok ✗"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if j == 4:
                    item.setForeground(QBrush(QColor(30, 130, 50) if row.ok else ERROR_COLOR))
                    item.setToolTip(row.note or f"tolerance {row.tolerance:.1e}")
                self.table.setItem(i, j, item)

    # ---------------------------------------------------------------- settings
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("backprop/expression", self.edit.text())
        for name, box in self.inputs.items():
            settings.setValue(f"backprop/{name}", box.value())

    def restore_settings(self, settings: QSettings) -> None:
        text = stored.read(settings, "backprop/expression", "", "str", max_len=MAX_LENGTH)
        if text.strip():
            self.edit.setText(text)  # evaluate() below reports any error in it on screen
        for name, box in self.inputs.items():
            box.blockSignals(True)
            stored.read_spin(settings, f"backprop/{name}", box)
            box.blockSignals(False)
        self.evaluate()
