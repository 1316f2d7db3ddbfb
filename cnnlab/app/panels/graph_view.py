"""The Backprop tab's drawing pieces: a box per autograd node (op, value, gradient), arrows
that follow the layout's lanes, and a zoomable view."""

from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PyQt6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from cnnlab.app.widgets import TRAIN_COLOR, VAL_COLOR

BOX_W, BOX_H = 128.0, 62.0  # scene units (pixels at zoom 1)
COL_STEP, ROW_STEP = BOX_W + 56.0, BOX_H + 22.0
_OP_TITLES = {"+": "+", "-": "−", "*": "×", "/": "÷", "**": "^", "neg": "negate",
              "sigmoid": "σ", "sin": "sin", "cos": "cos", "tanh": "tanh", "exp": "exp",
              "log": "log"}
INPUT_FILL = QColor(222, 235, 247)
CONST_FILL = QColor(238, 238, 238)
OP_FILL = QColor(255, 255, 255)
ROOT_FILL = QColor(255, 239, 219)


def node_title(op: str, label: str) -> str:
    """What a box is called: the leaf's label, or the operation in math notation
    (``**2`` → ``^2``, ``sigmoid`` → ``σ``)."""
    if not op:
        return label
    if op.startswith("**") and len(op) > 2:
        return "^" + op[2:]
    return _OP_TITLES.get(op, op)


def format_number(v: float) -> str:
    """Four significant digits, exponent only when needed; tiny round-off shows as such."""
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


class NodeBox(QGraphicsRectItem):
    """One node: its title (operation or leaf), value and gradient."""

    def __init__(self, title: str, fill: QColor, mono: QFont):
        super().__init__(0, 0, BOX_W, BOX_H)
        self.setBrush(QBrush(fill))
        self.setPen(QPen(QColor(90, 90, 90), 1.2))
        bold = QFont(mono)
        bold.setBold(True)
        self.title = QGraphicsSimpleTextItem(title, self)
        self.title.setFont(bold)
        self.value = QGraphicsSimpleTextItem("", self)
        self.grad = QGraphicsSimpleTextItem("", self)
        for item in (self.value, self.grad):
            item.setFont(mono)
        self._center(self.title, 4)

    def _center(self, item: QGraphicsSimpleTextItem, y: float) -> None:
        item.setPos((BOX_W - item.boundingRect().width()) / 2, y)

    def set_numbers(self, value: float, grad: float) -> None:
        self.value.setText(f"val  {format_number(value)}")
        self.grad.setText(f"grad {format_number(grad)}")
        # Gradient sign in the train/validation palette: blue ≥ 0, orange < 0.
        self.grad.setBrush(QBrush(TRAIN_COLOR if grad >= 0 else VAL_COLOR.darker(130)))
        self._center(self.value, 23)
        self._center(self.grad, 41)


class GraphView(QGraphicsView):
    """A scrollable view that zooms with the mouse wheel around the cursor."""

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(250, 250, 250)))
        self.focus_item: QGraphicsItem | None = None  # shown first when the graph is too big

    #: Largest zoom ``fit`` uses: small graphs grow until their text is easy to read.
    MAX_FIT_SCALE = 2.0

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        factor = 1.15 ** steps
        scale = self.transform().m11() * factor
        if 0.1 <= scale <= 4.0:
            self.scale(factor, factor)
            self._auto_fit = False  # the user chose a zoom: keep it on resize

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_auto_fit", True):
            self.fit()

    def fit(self) -> None:
        """Show the whole graph, zoomed in up to 2× when there is room; a graph too big
        to show at ≥ 50 % is shown at 50 % from the left (scroll for the rest)."""
        self._auto_fit = True
        self.resetTransform()
        rect = self.scene().itemsBoundingRect().adjusted(-12, -12, 12, 12)
        self.setSceneRect(rect)
        view = self.viewport().rect()
        if rect.width() <= 0 or rect.height() <= 0:
            return
        scale = min(view.width() / rect.width(), view.height() / rect.height(), self.MAX_FIT_SCALE)
        if scale >= 0.5:
            self.scale(scale, scale)
            self.centerOn(rect.center())
        else:
            self.scale(0.5, 0.5)
            # the rectangle's corner may hold only arrows: start at an input box instead
            focus = self.focus_item.sceneBoundingRect() if self.focus_item is not None else None
            if focus is not None:
                left = focus.left() - 24  # at 50 % the view spans 2 × its width in scene units
                self.centerOn(left + self.viewport().width(), focus.center().y())
            else:
                self.ensureVisible(QRectF(rect.left(), rect.top(), 10, 10))


def _curve_to(path: QPainterPath, end: QPointF) -> None:
    """An S-curve leaving and arriving horizontally."""
    start = path.currentPosition()
    dx = (end.x() - start.x()) * 0.5
    path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)


def bigger(font: QFont, points: int) -> QFont:
    f = QFont(font)
    f.setPointSize(max(6, f.pointSize() + points))
    return f


def arrow(source: QGraphicsItem, target: QGraphicsItem, lanes, offset: float) -> QGraphicsPathItem:
    """An arrow from the right edge of ``source`` to the left edge of ``target``, running
    straight along each lane ``(column, row)`` it crosses and curving between them."""
    a = source.pos() + QPointF(BOX_W, BOX_H / 2 + offset)
    b = target.pos() + QPointF(0, BOX_H / 2 + offset)
    path = QPainterPath(a)
    for column, row in lanes:
        y = row * ROW_STEP + BOX_H / 2 + offset
        _curve_to(path, QPointF(column * COL_STEP, y))
        path.lineTo(QPointF(column * COL_STEP + BOX_W, y))
    _curve_to(path, b)
    grey = QColor(110, 110, 110)
    item = QGraphicsPathItem(path)
    item.setPen(QPen(grey, 1.3))
    head = QGraphicsPolygonItem(
        QPolygonF([b, QPointF(b.x() - 9, b.y() - 4.5), QPointF(b.x() - 9, b.y() + 4.5)]), item)
    head.setPen(QPen(grey, 1.0))
    head.setBrush(QBrush(grey))
    item.setZValue(0)
    return item
