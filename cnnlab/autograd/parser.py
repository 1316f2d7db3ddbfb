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
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cnnlab.autograd.value import Number, Value, as_value

__all__ = ["ExpressionError", "Expression", "Node", "Token", "parse", "tokenize", "VARIABLES",
           "FUNCTIONS"]

VARIABLES = ("x", "y", "z")


class ExpressionError(ValueError):
    """A malformed expression. ``position`` is the 0-based index of the offending character
    (``len(text)`` when the text ends too early); ``message`` is the reason alone."""

    def __init__(self, message: str, position: int, text: str = ""):
        self.message = message
        self.position = position
        self.text = text
        super().__init__(f"{message} (at position {position})")

    def pointer(self) -> str:
        """Two lines: the expression and a caret under the error, for a monospace label."""
        return f"{self.text}\n{' ' * self.position}^"



# --------------------------------------------------------------------------- tokenizer

FUNCTIONS = {"sin": "sin", "cos": "cos", "tanh": "tanh", "exp": "exp", "log": "log",
             "sigmoid": "sigmoid", "σ": "sigmoid"}
CONSTANTS = {"pi": math.pi, "π": math.pi}
_NAMES = sorted([*FUNCTIONS, *CONSTANTS, *VARIABLES], key=len, reverse=True)
_DIGITS = "0123456789"  # str.isdigit() would also accept "²"
_SUPERSCRIPTS = {c: str(i) for i, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")} | {"⁻": "-"}
_OPERATORS = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "·": "*", "/": "/",
              "÷": "/", "^": "**", "(": "(", ")": ")"}


@dataclass(frozen=True)
class Token:
    kind: str        # "number", "name", "op", "super" (superscript exponent), "end"
    text: str        # normalized: "**" for ^, "sigmoid" for σ
    pos: int         # index of the first character in the source text
    value: float = 0.0


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``"end"`` token at ``len(text)``.

    Raises ExpressionError at an unexpected character or an unknown name."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = _scan_number(text, i)
            tokens.append(Token("number", text[i:j], i, float(text[i:j])))
            i = j
        elif c == "*" and text.startswith("**", i):
            tokens.append(Token("op", "**", i))
            i += 2
        elif c in _OPERATORS:
            tokens.append(Token("op", _OPERATORS[c], i))
            i += 1
        elif c in _SUPERSCRIPTS:
            j = i
            while j < n and text[j] in _SUPERSCRIPTS:
                j += 1
            digits = "".join(_SUPERSCRIPTS[ch] for ch in text[i:j])
            if not any(ch.isdigit() for ch in digits) or "-" in digits[1:]:
                raise ExpressionError(f"malformed superscript power {text[i:j]!r}", i, text)
            tokens.append(Token("super", digits, i, float(digits)))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalpha() or text[j] == "_") and text[j] not in _SUPERSCRIPTS:
                j += 1
            tokens.extend(_split_names(text, i, j))
            i = j
        else:
            raise ExpressionError(f"unexpected character {c!r}", i, text)
    tokens.append(Token("end", "", n))
    return tokens


def _scan_number(text: str, i: int) -> int:
    """End index of the number starting at ``i``: digits, optional fraction, and an
    exponent only when digits follow it (``2e3``, ``1e-3``; ``2e`` stops before the e)."""
    n = len(text)

    def digits_from(k: int) -> int:
        while k < n and text[k] in _DIGITS:
            k += 1
        return k

    i = digits_from(i)
    if i < n and text[i] == ".":
        i = digits_from(i + 1)
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j] in _DIGITS:
            return digits_from(j)
    return i


def _split_names(text: str, start: int, end: int) -> Iterator[Token]:
    """A run of letters as known names, longest match first: ``xy`` is x·y, ``pix`` is π·x,
    ``πx`` is π·x. A run that does not split into known names is an unknown name."""
    i = start
    found = []
    while i < end:
        name = next((nm for nm in _NAMES if text.startswith(nm, i) and i + len(nm) <= end), None)
        if name is None:
            word = text[start:end]
            raise ExpressionError(
                f"unknown name {word!r}: use x, y, z, pi, π and the functions "
                f"{', '.join(sorted(set(FUNCTIONS) - {'σ'}))}, σ", start, text)
        found.append(Token("name", FUNCTIONS.get(name, name), i))
        i += len(name)
    return iter(found)


# --------------------------------------------------------------------------- parser

@dataclass(frozen=True)
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
        if self.kind == "var":
            return {self.op}
        return set().union(*(a.variables() for a in self.args))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

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
            operand = self.unary()
            return Node("neg", "neg", op.pos, (operand,)) if op.text == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.at("**"):
            self.take()
            return Node("binary", "**", base.pos, (base, self.unary()))
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
            self.take()
            arg = self.expr()
            self.close_paren(t.pos + len(t.text))
            return Node("call", t.text, t.pos, (arg,))
        if self.at("("):
            self.take()
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
    return Expression(text, _Parser(text).parse())


def _evaluate(node: Node, leaves: Mapping[str, Value]) -> Value:
    kind = node.kind
    if kind == "number":
        return Value(node.value, label=node.op)
    if kind == "const":
        return Value(node.value, label=node.op)
    if kind == "var":
        return leaves[node.op]
    args = node.args
    if kind == "neg":
        return -_evaluate(args[0], leaves)
    if kind == "call":
        return getattr(_evaluate(args[0], leaves), node.op)()
    left = _evaluate(args[0], leaves)
    if node.op == "**" and not args[1].variables():
        # A constant exponent becomes a plain number, so x**2 is one "**2" node and
        # (-2)**2 stays defined (a Value exponent would need log of the base).
        return left ** _evaluate(args[1], leaves).data
    right = _evaluate(args[1], leaves)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if node.op == "/":
        return left / right
    return left ** right
