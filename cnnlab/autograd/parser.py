"""A safe expression parser: text in x, y and z becomes a graph of :class:`Value` s.

``parse(text)`` reads expressions in x, y and z such as the default
``log(σ((cos(πx) + sin(πy/2)) / tanh(z²)))`` with a hand-written tokenizer and
recursive-descent parser; nothing is ever passed to ``eval``. Grammar, loosest first::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary | unary-not-starting-with-a-number)*
    unary   := ("-" | "+") unary | power
    power   := postfix (("**" | "^") unary)?          # right-associative
    postfix := primary superscript*                    # z² is z**2, x⁻¹ is x**-1
    primary := number | x | y | z | pi | π | func "(" expr ")" | "(" expr ")"
    func    := sin | cos | tanh | exp | log | sigmoid | σ

As in Python, ``-x**2`` is ``-(x**2)`` and ``2**3**2`` is ``2**(3**2)``. Implicit
multiplication (``2x``, ``πx``, ``2(x+1)``, ``(x+1)(x-1)``, ``xy``) has the same precedence
as ``*`` and ``/`` and groups left to right, so ``πy/2`` is ``(π·y)/2`` and ``1/2x`` is
``(1/2)·x``. A number never multiplies implicitly from the right (``x 2`` is an error).
``log`` is the natural logarithm. ``−`` (U+2212), ``×``, ``·`` and ``÷`` are read as ``-``,
``*``, ``*`` and ``/``.

Limits, so that no typed text can exhaust the stack or the memory: an expression has at
most :data:`MAX_LENGTH` characters and nests at most :data:`MAX_DEPTH` levels (each
parenthesis, function call, sign and ``**`` exponent is a level); past either,
``ExpressionError`` says so with the position. Evaluation, ``variables()`` and
``backward()`` walk the graph without recursion, so a long flat sum is fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cnnlab.autograd.tokenizer import (
    CONSTANTS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    VARIABLES,
    ExpressionError,
    Token,
    tokenize,
)
from cnnlab.autograd.value import Number, Value, as_value

__all__ = ["ExpressionError", "Expression", "Node", "Token", "parse", "tokenize", "VARIABLES",
           "FUNCTIONS", "MAX_LENGTH", "MAX_DEPTH"]


# --------------------------------------------------------------------------- parser

@dataclass(frozen=True, eq=False)  # identity equality: no recursion through deep trees
class Node:
    """A parse-tree node. ``kind`` is ``"number"``, ``"const"``, ``"var"``, ``"neg"``,
    ``"binary"`` (``op`` one of + - * / **) or ``"call"`` (``op`` the function name);
    ``pos`` is where it starts in the text."""
    kind: str
    op: str
    pos: int
    args: tuple[Node, ...] = ()
    value: float = 0.0

    def variables(self) -> set[str]:
        found: set[str] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if node.kind == "var":
                found.add(node.op)
            stack.extend(node.args)
        return found


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0  # current nesting; bounded by MAX_DEPTH so recursion is too

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression nests more than {MAX_DEPTH} levels deep "
                             "(parentheses, functions, signs and powers)", pos)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, pos: int | None = None) -> ExpressionError:
        return ExpressionError(message, self.tok.pos if pos is None else pos, self.text)

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("the expression is empty")
        node = self.expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "op" and t.text == ")":
                raise self.error("unmatched ')'")
            if t.kind == "number":
                raise self.error(f"a number cannot follow here without an operator: "
                                 f"write * before {t.text}")
            raise self.error(f"unexpected {t.text!r}")
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.at("+", "-"):
            op = self.take()
            node = Node("binary", op.text, node.pos, (node, self.term()))
        return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            if self.at("*", "/"):
                op = self.take().text
            elif self.tok.kind == "name" or self.at("("):
                op = "*"  # implicit multiplication: 2x, πx, 2(x+1), (x+1)(x-1)
            else:
                return node
            node = Node("binary", op, node.pos, (node, self.unary()))

    def unary(self) -> Node:
        if self.at("-", "+"):
            op = self.take()
            self.enter(op.pos)
            operand = self.unary()
            self.depth -= 1
            return Node("neg", "neg", op.pos, (operand,)) if op.text == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.at("**"):
            self.enter(self.take().pos)
            exponent = self.unary()
            self.depth -= 1
            return Node("binary", "**", base.pos, (base, exponent))
        return base

    def postfix(self) -> Node:
        node = self.primary()
        while self.tok.kind == "super":
            t = self.take()
            exponent = Node("number", t.text, t.pos, (), t.value)
            node = Node("binary", "**", node.pos, (node, exponent))
        return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.take()
            return Node("number", t.text, t.pos, (), t.value)
        if t.kind == "name":
            self.take()
            if t.text in VARIABLES:
                return Node("var", t.text, t.pos)
            if t.text in CONSTANTS:
                return Node("const", "π", t.pos, (), CONSTANTS[t.text])
            if not self.at("("):
                raise self.error(f"expected '(' after the function {t.text}")
            self.enter(self.take().pos)
            arg = self.expr()
            self.close_paren(t.pos + len(t.text))
            return Node("call", t.text, t.pos, (arg,))
        if self.at("("):
            self.enter(self.take().pos)
            node = self.expr()
            self.close_paren(t.pos)
            return node
        if t.kind == "end":
            raise self.error("the expression ends too early: expected a number, a variable, "
                             "a function or '('")
        if t.kind == "super":
            raise self.error("a superscript power needs something before it")
        raise self.error(f"expected a number, a variable, a function or '(' but found {t.text!r}")

    def close_paren(self, open_pos: int) -> None:
        if not self.at(")"):
            found = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.error(f"expected ')' to close the '(' at position {open_pos}, "
                             f"found {found}")
        self.take()
        self.depth -= 1


class Expression:
    """A parsed expression: call it with the variables as keyword arguments.

    ``expr(x=2, y=4, z=1)`` builds a fresh graph and returns its root ``Value``. A number
    becomes a leaf Value labelled with the variable's name; pass a ``Value`` to read its
    ``grad`` after ``backward()``. Variables the expression does not use may be passed and
    are ignored; a missing one raises ``ValueError``. Evaluation outside the domain
    (``log(0)``, ``1/0``) raises ``DomainError``.
    """

    def __init__(self, text: str, tree: Node):
        self.text = text
        self.tree = tree
        #: the variables the expression uses, in x, y, z order
        self.variables = tuple(v for v in VARIABLES if v in tree.variables())

    def __repr__(self) -> str:
        return f"parse({self.text!r})"

    def __call__(self, **values: Value | Number) -> Value:
        unknown = sorted(set(values) - set(VARIABLES))
        if unknown:
            raise ValueError(f"unknown variable {unknown[0]!r}: expressions use x, y and z")
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ValueError(f"the expression {self.text!r} uses {', '.join(missing)} "
                             f"but no value was given for {'it' if len(missing) == 1 else 'them'}")
        leaves = {}
        for name in self.variables:
            v = values[name]
            leaves[name] = v if isinstance(v, Value) else Value(as_value(v).data, label=name)
        return _evaluate(self.tree, leaves)

    def gradient(self, **point: Number) -> tuple[Value, dict[str, float]]:
        """Evaluate at ``point``, backpropagate, and return
        ``(root, {variable: d root / d variable})`` for the variables the expression uses."""
        leaves = {name: Value(point[name], label=name) for name in self.variables if name in point}
        root = self(**{**point, **leaves})
        root.backward()
        return root, {name: leaf.grad for name, leaf in leaves.items()}


def parse(text: str) -> Expression:
    """Parse ``text`` (see the module docstring for the grammar) into a callable
    :class:`Expression`. Raises :class:`ExpressionError` with ``position`` set."""
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters "
                              f"({len(text):,})", MAX_LENGTH, text[:MAX_LENGTH])
    return Expression(text, _Parser(text).parse())


def _evaluate(root: Node, leaves: Mapping[str, Value]) -> Value:
    """The Value of ``root``'s tree, children first, with an explicit stack (a long flat
    sum is a deep left-leaning tree)."""
    done: dict[int, Value] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args))
            continue
        done[id(node)] = _apply(node, [done.pop(id(a)) for a in node.args], leaves)
    return done[id(root)]


def _apply(node: Node, args: list[Value], leaves: Mapping[str, Value]) -> Value:
    kind = node.kind
    if kind in ("number", "const"):
        return Value(node.value, label=node.op)
    if kind == "var":
        return leaves[node.op]
    if kind == "neg":
        return -args[0]
    if kind == "call":
        return getattr(args[0], node.op)()
    left, right = args
    if node.op == "**" and not node.args[1].variables():
        # A constant exponent becomes a plain number, so x**2 is one "**2" node and
        # (-2)**2 stays defined (a Value exponent would need log of the base).
        return left ** right.data
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if node.op == "/":
        return left / right
    return left ** right
