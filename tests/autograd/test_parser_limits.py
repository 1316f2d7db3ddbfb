"""Whatever is typed, the parser answers with an Expression or an ExpressionError, and
evaluation with a number or a DomainError: never RecursionError, a math error or a
memory blow-up (property tests with hypothesis, memory checked with tracemalloc)."""

import math
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.autograd import DomainError, ExpressionError, graph, parse
from cnnlab.autograd.gradient_check import check_gradients
from cnnlab.autograd.parser import MAX_DEPTH, MAX_LENGTH

#: Peak bytes one parse + evaluation + backward may allocate (a 1000-character
#: expression has at most ~1000 nodes; each is a few hundred bytes).
MEMORY_BUDGET = 8 * 1024 * 1024

PIECES = ["x", "y", "z", "π", "pi", "2", "0", "1e308", "9" * 400, "0.5", ".5", "1e-320", "+", "-",
          "−", "*", "/", "**", "^", "(", ")", "sin(", "cos(", "tanh(", "exp(", "log(", "σ(",
          "sigmoid(", "²", "⁻¹", "³", " ", "×", "·", "÷", "e", "inf", "nan", "_", "é", "\x00"]
grammar_like = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
points = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _parse_only_expression_errors(text):
    try:
        return parse(text)
    except ExpressionError as exc:
        assert 0 <= exc.position <= max(len(text), MAX_LENGTH)
        assert exc.message
        return None


def _evaluate_only_domain_errors(expression, point):
    try:
        root, rows = check_gradients(expression, point)
    except DomainError as exc:
        assert str(exc)
        return
    graph(root)
    assert len(rows) == 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), grammar_like), points, points, points)
def test_any_text_parses_or_says_where_and_evaluates_or_says_why(text, x, y, z):
    tracemalloc.start()
    try:
        expression = _parse_only_expression_errors(text)
        if expression is not None:
            _evaluate_only_domain_errors(expression, {"x": x, "y": y, "z": z})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * MAX_DEPTH), st.sampled_from(["(", "sin(", "-", "2**", "-(", "σ(-"]))
def test_nesting_past_the_limit_is_an_expression_error_with_a_position(depth, opener):
    closer = ")" * opener.count("(")
    text = opener * depth + "x" + closer * depth
    if len(text) > MAX_LENGTH:
        with pytest.raises(ExpressionError, match="longer than"):
            parse(text)
        return
    levels = depth * (opener.count("(") + opener.count("-") + opener.count("**"))
    if levels > MAX_DEPTH:
        with pytest.raises(ExpressionError, match=f"more than {MAX_DEPTH} levels") as info:
            parse(text)
        assert 0 < info.value.position < len(text)
    else:
        _evaluate_only_domain_errors(parse(text), {"x": 0.5, "y": 0.0, "z": 0.0})


def test_three_hundred_parentheses_report_the_limit_not_recursion():
    text = "(" * 300 + "x" + ")" * 300
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.position == MAX_DEPTH  # the first '(' past the limit
    assert f"more than {MAX_DEPTH} levels" in info.value.message


def test_the_deepest_allowed_expression_works_with_little_stack_left():
    text = "sin(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH
    old = sys.getrecursionlimit()
    depth = len(__import__("inspect").stack(0))
    # 6 parser frames per level, plus pytest's frames: a stated bound, checked.
    sys.setrecursionlimit(depth + 6 * MAX_DEPTH + 50)
    try:
        expression = parse(text)
        root, grads = expression.gradient(x=0.3)
    finally:
        sys.setrecursionlimit(old)
    value, slope = 0.3, 1.0
    for _ in range(MAX_DEPTH):
        slope *= math.cos(value)
        value = math.sin(value)
    assert root.data == pytest.approx(value, rel=1e-12)
    assert grads["x"] == pytest.approx(slope, rel=1e-9)


def test_a_long_flat_sum_is_not_limited_by_depth():
    n = MAX_LENGTH // 2  # "x+x+…+x": a left-leaning tree n deep, evaluated without recursion
    root, grads = parse("+".join(["x"] * n)).gradient(x=1.5)
    assert root.data == pytest.approx(1.5 * n) and grads == {"x": float(n)}


def test_too_long_text_is_refused_before_tokenizing():
    with pytest.raises(ExpressionError, match=f"longer than {MAX_LENGTH} characters") as info:
        parse("x" * 10 ** 6)
    assert info.value.position == MAX_LENGTH


@pytest.mark.parametrize("text, point, reason", [
    ("sin(1e308*10)", {}, "sin of inf"),
    ("cos(x*1e308*10)", {"x": 1.0}, "cos of inf"),
    ("x**400", {"x": 10.0}, "overflows"),
    ("exp(x)", {"x": 1e4}, "overflows"),
    ("1/(x-x)", {"x": 1.0}, "division by zero"),
    ("log(x)", {"x": -1.0}, "non-positive"),
    ("x**y", {"x": -2.0, "y": 0.5}, "negative base"),
])
def test_numeric_failures_are_domain_errors(text, point, reason):
    with pytest.raises(DomainError, match=reason):
        check_gradients(parse(text), {"x": 0.0, "y": 0.0, "z": 0.0} | point)


def test_a_derivative_that_overflows_is_a_domain_error():
    # x**y = 1e30 is fine, its derivative y * x**(y - 1) = 1e330 is not.
    for text in ("x**y", "x**-0.1"):
        with pytest.raises(DomainError, match="overflows"):
            parse(text).gradient(x=1e-300, y=-0.1)
