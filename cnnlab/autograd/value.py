"""Scalar autograd: a ``Value`` remembers how it was computed and backpropagates.

micrograd's idea: every arithmetic result remembers its inputs (``children``) and the
operation that made it (``op``); ``backward()`` walks that graph in reverse topological
order applying the chain rule, filling ``.grad`` on every node. The Backprop tab draws the
graph with :func:`graph` and checks it with :func:`numeric_gradient`. Public names are
re-exported by :mod:`cnnlab.autograd.parser`, which adds the expression parser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Number = int | float


class DomainError(ValueError):
    """An expression evaluated outside its domain: log of a non-positive number, division
    by zero, overflow, a negative base to a variable or fractional power, sin or cos of
    infinity. Every numeric failure of evaluation or ``backward()`` is one of these."""


# --------------------------------------------------------------------------- Value

class Value:
    """A scalar in a computation graph.

    ``data`` is the float value, ``grad`` is d(root)/d(this) after ``root.backward()``,
    ``children`` are the operand Values, ``op`` names the operation that produced it
    (``""`` for a leaf), ``label`` is a display name for leaves (``"x"``, ``"π"``, ``"2"``).
    """

    __slots__ = ("data", "grad", "children", "op", "label", "_backward")

    def __init__(self, data: Number, children: tuple[Value, ...] = (), op: str = "",
                 label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self.children = tuple(children)
        self.op = op
        self.label = label
        self._backward: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        name = f" {self.label!r}" if self.label else ""
        return f"Value({self.data:.6g}{name}, grad={self.grad:.6g}, op={self.op!r})"

    # -- arithmetic -----------------------------------------------------------------

    def __add__(self, other: Value | Number) -> Value:
        other = as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = backward
        return out

    def __sub__(self, other: Value | Number) -> Value:
        other = as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def backward():
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        other = as_value(other)
        if other.data == 0.0:
            raise DomainError(f"division by zero ({self.data:.6g} / 0)")
        out = Value(self.data / other.data, (self, other), "/")

        def backward():
            self.grad += out.grad / other.data
            other.grad -= out.grad * self.data / (other.data * other.data)  # inf, never raises
        out._backward = backward
        return out

    def __pow__(self, other: Value | Number) -> Value:
        a = self.data
        if isinstance(other, Value):  # variable exponent: a**b = exp(b log a) needs a > 0
            b = other.data
            if a < 0.0:
                raise DomainError(f"negative base {a:.6g} to a variable power")
            if a == 0.0 and b <= 1.0:
                raise DomainError(f"0 to the power {b:.6g} has no derivative")
            out = Value(_checked_pow(a, b), (self, other), "**")

            def backward():
                self.grad += b * _checked_pow(a, b - 1.0) * out.grad
                other.grad += (out.data * math.log(a) if a > 0.0 else 0.0) * out.grad
            out._backward = backward
            return out
        b = float(other)
        if a < 0.0 and not b.is_integer():
            raise DomainError(f"negative base {a:.6g} to the fractional power {b:.6g}")
        if a == 0.0 and b < 1.0 and b != 0.0:
            raise DomainError(f"0 to the power {b:.6g} has no derivative")
        out = Value(_checked_pow(a, b), (self,), f"**{b:g}")

        def backward():
            self.grad += (b * _checked_pow(a, b - 1.0) if b != 0.0 else 0.0) * out.grad
        out._backward = backward
        return out

    def __neg__(self) -> Value:
        out = Value(-self.data, (self,), "neg")

        def backward():
            self.grad -= out.grad
        out._backward = backward
        return out

    def __pos__(self) -> Value:
        return self

    def __radd__(self, other: Number) -> Value:
        return as_value(other) + self

    def __rsub__(self, other: Number) -> Value:
        return as_value(other) - self

    def __rmul__(self, other: Number) -> Value:
        return as_value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        return as_value(other) / self

    def __rpow__(self, other: Number) -> Value:
        return as_value(other) ** self

    # -- functions ------------------------------------------------------------------

    def _unary(self, op: str, data: float, local_grad: float) -> Value:
        out = Value(data, (self,), op)

        def backward():
            self.grad += local_grad * out.grad
        out._backward = backward
        return out

    def sin(self) -> Value:
        self._require_finite("sin")
        return self._unary("sin", math.sin(self.data), math.cos(self.data))

    def cos(self) -> Value:
        self._require_finite("cos")
        return self._unary("cos", math.cos(self.data), -math.sin(self.data))

    def _require_finite(self, op: str) -> None:
        if not math.isfinite(self.data):  # math.sin(inf) is a ValueError
            raise DomainError(f"{op} of {self.data:g}: a number beyond float64 (about ±1.8e308) "
                              "has no sine or cosine")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._unary("tanh", t, 1.0 - t * t)

    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise DomainError(f"exp({self.data:.6g}) overflows") from None
        return self._unary("exp", e, e)

    def log(self) -> Value:
        if self.data <= 0.0:
            raise DomainError(f"log of a non-positive number ({self.data:.6g})")
        return self._unary("log", math.log(self.data), 1.0 / self.data)

    def sigmoid(self) -> Value:
        s = _sigmoid(self.data)
        return self._unary("sigmoid", s, s * (1.0 - s))

    # -- backpropagation ------------------------------------------------------------

    def topological_order(self) -> list[Value]:
        """Every node of the graph below (and including) this one, each after all of its
        children. Iterative, so deep expressions do not hit the recursion limit."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children) if id(c) not in seen)
        return order

    def backward(self) -> None:
        """Set ``grad`` of every node below to d(self)/d(node) (self.grad becomes 1).

        Gradients are reset first, so calling it twice gives the same result."""
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            try:
                node._backward()
            except (ArithmeticError, ValueError) as exc:  # e.g. a power's derivative overflows
                if isinstance(exc, DomainError):
                    raise
                raise DomainError(f"the derivative of {node.op or node.label} cannot be "
                                  f"computed here ({exc})") from None


def as_value(v: Value | Number) -> Value:
    if isinstance(v, Value):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected a Value or a number, got {type(v).__name__}")
    return Value(v, label=f"{v:g}")


def _checked_pow(a: float, b: float) -> float:
    try:
        r = a ** b
    except ZeroDivisionError:
        raise DomainError(f"0 to the negative power {b:.6g}") from None
    except OverflowError:
        raise DomainError(f"{a:.6g} ** {b:.6g} overflows") from None
    if isinstance(r, complex):  # negative base, fractional exponent
        raise DomainError(f"negative base {a:.6g} to the fractional power {b:.6g}")
    return r


def _sigmoid(t: float) -> float:
    # Two branches so neither exp overflows.
    if t >= 0.0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)


# --------------------------------------------------------------------------- graph

@dataclass(frozen=True)
class GraphNode:
    """One box of the drawn graph: ``id`` indexes ``nodes``; ``op`` is ``""`` for leaves."""
    id: int
    op: str
    label: str
    value: float
    grad: float


def graph(root: Value) -> tuple[list[GraphNode], list[tuple[int, int]]]:
    """The graph under ``root`` for drawing: ``(nodes, edges)``.

    ``nodes`` are in topological order (children before parents, ``root`` last); each
    edge ``(child_id, parent_id)`` points from an operand to the operation that uses it
    (a node used twice, like ``x`` in ``x*x``, gives two edges). Values and gradients
    are copied, so call it after ``root.backward()``.
    """
    order = root.topological_order()
    index = {id(v): i for i, v in enumerate(order)}
    nodes = [GraphNode(i, v.op, v.label, v.data, v.grad) for i, v in enumerate(order)]
    edges = [(index[id(c)], index[id(v)]) for v in order for c in v.children]
    return nodes, edges


def numeric_gradient(fn: Callable[..., Value | Number], point: Mapping[str, Number],
                     h: float = 1e-6) -> dict[str, float]:
    """Central differences ``(f(p + h e_i) - f(p - h e_i)) / 2h`` for every variable in
    ``point`` (a mapping like ``{"x": 2, "y": 4, "z": 1}``); ``fn`` takes the variables as
    keyword arguments and returns a Value or a number. Float64 throughout."""
    def f(**kw):
        r = fn(**kw)
        return r.data if isinstance(r, Value) else float(r)

    base = {k: float(v) for k, v in point.items()}
    grads = {}
    for name in base:
        plus, minus = dict(base), dict(base)
        plus[name] += h
        minus[name] -= h
        grads[name] = (f(**plus) - f(**minus)) / (2.0 * h)
    return grads

