"""Gradient check rows: agree for correct backprop, flag a wrong derivative."""

import math

import pytest

from cnnlab.autograd import DomainError, Value, parse
from cnnlab.autograd.gradient_check import check_gradients

DEFAULT = "log(σ((cos(πx) + sin(πy/2)) / tanh(z²)))"


def _default_gradient(x, y, z):
    """Hand-derived ∂f/∂(x, y, z) of log σ(u), u = (cos πx + sin(πy/2)) / tanh(z²)."""
    a = math.cos(math.pi * x) + math.sin(math.pi * y / 2)
    t = math.tanh(z * z)
    u = a / t
    dlog = 1.0 - 1.0 / (1.0 + math.exp(-u))  # d log σ(u) / du
    return (dlog * -math.pi * math.sin(math.pi * x) / t,
            dlog * math.pi / 2 * math.cos(math.pi * y / 2) / t,
            dlog * -a * (1 - t * t) * 2 * z / (t * t))


@pytest.mark.parametrize("point", [(2, 4, 1), (9, 14, 3), (0.3, -1.2, 0.7)])
def test_default_expression_rows_match_hand_derivative(point):
    x, y, z = point
    root, rows = check_gradients(parse(DEFAULT), {"x": x, "y": y, "z": z})
    assert [r.variable for r in rows] == ["x", "y", "z"]
    for row, want in zip(rows, _default_gradient(x, y, z)):
        assert row.backward == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert row.numeric == pytest.approx(want, rel=1e-5, abs=1e-7)
        assert row.ok and row.difference == pytest.approx(abs(row.backward - row.numeric))
    assert root.grad == 1.0


def test_unused_variable_has_zero_gradient():
    _root, rows = check_gradients(parse("x*y"), {"x": 3.0, "y": -2.0, "z": 5.0})
    by = {r.variable: r for r in rows}
    assert by["x"].backward == -2.0 and by["y"].backward == 3.0
    assert by["z"].backward == 0.0 and by["z"].numeric == 0.0 and by["z"].ok


def test_wrong_backward_is_flagged():
    def square_with_wrong_derivative(x, **_):
        x = x if isinstance(x, Value) else Value(x)
        out = x * x
        out._backward = lambda: setattr(x, "grad", x.grad + 3.0 * x.data * out.grad)  # 3x, not 2x
        return out

    _root, rows = check_gradients(square_with_wrong_derivative, {"x": 1.5})
    assert rows[0].backward == pytest.approx(4.5)
    assert rows[0].numeric == pytest.approx(3.0, rel=1e-6)
    assert not rows[0].ok


def test_domain_at_the_point_and_near_it():
    with pytest.raises(DomainError, match="non-positive"):
        check_gradients(parse("log(x)"), {"x": -1.0})
    # Defined at x = 1e-7 but x - h < 0: backward works, the numeric column is NaN.
    _root, rows = check_gradients(parse("log(x)"), {"x": 1e-7})
    assert rows[0].backward == pytest.approx(1e7)
    assert math.isnan(rows[0].numeric) and not rows[0].ok
    assert "domain" in rows[0].note
