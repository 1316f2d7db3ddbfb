"""Backpropagated gradients of an expression next to central differences.

The Backprop tab shows, for each of x, y and z, what ``backward()`` found and what the
float64 central difference ``(f(p + h) - f(p - h)) / 2h`` says, and whether they agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cnnlab.autograd.value import DomainError, Value, numeric_gradient


@dataclass(frozen=True)
class GradientCheck:
    """One variable's row: ``backward`` (∂f/∂v from autograd), ``numeric`` (central
    difference, NaN when f is undefined within ``h`` of the point), ``difference``
    ``|backward - numeric|``, the ``tolerance`` it was held to, ``ok``, and a ``note``
    explaining a NaN."""

    variable: str
    backward: float
    numeric: float
    difference: float
    tolerance: float
    ok: bool
    note: str = ""


def check_gradients(fn: Callable[..., Value], point: Mapping[str, float], h: float = 1e-6,
                    rtol: float = 1e-5) -> tuple[Value, list[GradientCheck]]:
    """Evaluate ``fn(**point)`` with a leaf ``Value`` per variable, run ``backward()``,
    and compare each leaf's ``grad`` with a central difference of step ``h``.

    ``fn`` is e.g. ``autograd.parse(text)``; it may ignore some variables (their
    gradient is 0). Returns ``(root, rows)`` with rows in the order of ``point``.
    Agreement means ``|backward - numeric| ≤ rtol·max(|backward|, |numeric|) + atol``
    with ``atol = 1e-6·max(1, |f|)``: rounding in f costs about ``2e-16·|f|/h`` ≈
    ``2e-10·|f|`` at the default ``h``, so the bound leaves a wide margin for that while
    a wrong derivative is off by far more. Raises ``DomainError`` when f is undefined
    at the point itself.
    """
    leaves = {name: Value(float(v), label=name) for name, v in point.items()}
    root = fn(**leaves)
    root.backward()
    try:
        numeric = numeric_gradient(fn, point, h=h)
        note = ""
    except DomainError as exc:  # defined at p but not at p ± h (e.g. log near 0)
        numeric = {name: math.nan for name in point}
        note = f"central differences step outside the domain: {exc}"
    atol = 1e-6 * max(1.0, abs(root.data))
    rows = []
    for name, leaf in leaves.items():
        a, n = leaf.grad, numeric[name]
        diff = abs(a - n)
        tol = rtol * max(abs(a), abs(n)) + atol
        ok = math.isfinite(diff) and diff <= tol
        rows.append(GradientCheck(name, a, n, diff, tol, ok, note))
    return root, rows
