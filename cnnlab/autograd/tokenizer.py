"""The tokenizer of the expression parser: text becomes numbers, names and operators.

Kept apart from :mod:`cnnlab.autograd.parser` (the grammar) so each reads in one go;
``ExpressionError`` lives here because both raise it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

VARIABLES = ("x", "y", "z")
#: The longest expression accepted, in characters.
MAX_LENGTH = 1000
#: The deepest nesting accepted: parentheses, function calls, signs and ``**`` exponents.
MAX_DEPTH = 100


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
