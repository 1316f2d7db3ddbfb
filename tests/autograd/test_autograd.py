"""Scalar autograd and the expression parser, against math-module oracles."""

import math
import random

import pytest

from cnnlab.autograd import DomainError, ExpressionError, Value, graph, numeric_gradient, parse, tokenize

DEFAULT = "log(σ((cos(πx) + sin(πy/2)) / tanh(z²)))"


# ----------------------------------------------------------------------------- Value

def test_value_ops_and_gradients_match_hand_derivatives():
    a, b = Value(2.0), Value(-3.0)
    out = (a * b + a ** 2 - b / a) * 3 + 1 - a.exp() + 2 / b
    out.backward()
    # out = 3ab + 3a² - 3b/a + 1 - e^a + 2/b
    assert out.data == pytest.approx(3 * -6 + 12 + 4.5 + 1 - math.exp(2) - 2 / 3)
    assert a.grad == pytest.approx(3 * -3 + 6 * 2 + 3 * -3 / 4 - math.exp(2))
    assert b.grad == pytest.approx(3 * 2 - 3 / 2 - 2 / 9)


@pytest.mark.parametrize("op, f, df", [
    ("sin", math.sin, math.cos),
    ("cos", math.cos, lambda t: -math.sin(t)),
    ("tanh", math.tanh, lambda t: 1 - math.tanh(t) ** 2),
    ("exp", math.exp, math.exp),
    ("log", math.log, lambda t: 1 / t),
    ("sigmoid", lambda t: 1 / (1 + math.exp(-t)),
     lambda t: math.exp(-t) / (1 + math.exp(-t)) ** 2),
])
def test_unary_functions(op, f, df):
    for t in (0.3, 1.7, 2.5):
        v = Value(t)
        out = getattr(v, op)()
        out.backward()
        assert out.op == op and out.children == (v,)
        assert out.data == pytest.approx(f(t), rel=1e-12)
        assert v.grad == pytest.approx(df(t), rel=1e-10)


def test_numbers_on_either_side_and_powers():
    x = Value(3.0)
    for out, value, grad in [
        (2 + x, 5, 1), (x + 2, 5, 1), (2 - x, -1, -1), (x - 2, 1, 1), (2 * x, 6, 2),
        (6 / x, 2, -6 / 9), (x / 2, 1.5, 0.5), (x ** 2, 9, 6), (2 ** x, 8, 8 * math.log(2)),
        (x ** x, 27, 27 * (math.log(3) + 1)), (-x, -3, -1),
    ]:
        out.backward()
        assert out.data == pytest.approx(value)
        assert x.grad == pytest.approx(grad)


def test_reused_node_accumulates_and_backward_is_repeatable():
    x = Value(3.0, label="x")
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad == 7.0
    y.backward()  # resets first, does not double
    assert x.grad == 7.0
    order = y.topological_order()
    assert order[-1] is y and order.index(x) < order.index(y.children[0])


def test_domain_errors_are_clear():
    with pytest.raises(DomainError, match="log of a non-positive"):
        Value(0.0).log()
    with pytest.raises(DomainError, match="division by zero"):
        Value(1.0) / 0
    with pytest.raises(DomainError, match="fractional power"):
        Value(-2.0) ** 0.5
    with pytest.raises(DomainError, match="overflows"):
        Value(1000.0).exp()
    assert (Value(-2.0) ** 3).data == -8.0
    with pytest.raises(TypeError):
        Value(1.0) + "2"


def test_deep_graph_does_not_hit_recursion_limit():
    x = Value(0.5)
    out = x
    for _ in range(5000):
        out = out * 1.0 + 0.0
    out.backward()
    assert x.grad == pytest.approx(1.0)


# ----------------------------------------------------------------------------- parser

def _default_analytic(x, y, z):
    """Hand derivative of log(σ(u)), u = (cos(πx) + sin(πy/2)) / tanh(z²)."""
    n = math.cos(math.pi * x) + math.sin(math.pi * y / 2)
    d = math.tanh(z * z)
    u = n / d
    sig = 1 / (1 + math.exp(-u))
    f = math.log(sig)
    dfdu = 1 - sig
    return f, {
        "x": dfdu * -math.pi * math.sin(math.pi * x) / d,
        "y": dfdu * (math.pi / 2) * math.cos(math.pi * y / 2) / d,
        "z": dfdu * -n * (1 - d * d) * 2 * z / d ** 2,
    }


@pytest.mark.parametrize("point", [(2, 4, 1), (9, 14, 3), (0.3, 0.7, 1.3)])
def test_default_expression_matches_analytic_derivative(point):
    x, y, z = point
    expr = parse(DEFAULT)
    assert expr.variables == ("x", "y", "z")
    root, grads = expr.gradient(x=x, y=y, z=z)
    f, expected = _default_analytic(x, y, z)
    assert root.data == pytest.approx(f, rel=1e-12, abs=1e-12)
    for name in "xyz":
        assert grads[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("text, x, y, z, expected", [
    ("-x**2", 3, 0, 0, -9), ("-x^2", 3, 0, 0, -9), ("2**3**2", 0, 0, 0, 512),
    ("2^-1", 0, 0, 0, 0.5), ("πy/2", 0, 2, 0, math.pi), ("1/2x", 4, 0, 0, 2),
    ("2x²", 3, 0, 0, 18), ("x³", 2, 0, 0, 8), ("x⁻¹", 4, 0, 0, 0.25), ("2(x+1)", 2, 0, 0, 6),
    ("(x+1)(x-1)", 3, 0, 0, 8), ("xy", 2, 5, 0, 10), ("pi x", 2, 0, 0, 2 * math.pi),
    ("1e-3 + .5", 0, 0, 0, 0.501), ("2.5E2", 0, 0, 0, 250), ("-+-x", 3, 0, 0, 3),
    ("x − y × z ÷ 2", 5, 2, 3, 2), ("sigmoid(0) + σ(0)", 0, 0, 0, 1), ("exp(log(z))", 0, 0, 7, 7),
    ("x - y - z", 10, 3, 2, 5), ("x / y / z", 12, 3, 2, 2), ("2πx", 1, 0, 0, 2 * math.pi),
])
def test_parse_precedence_and_syntax(text, x, y, z, expected):
    assert parse(text)(x=x, y=y, z=z).data == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text, position", [
    ("2+", 2), ("sin(", 4), ("x $ y", 2), ("foo(x)", 0), ("(x", 2), (")", 0), ("", 0),
    ("   ", 3), ("x 2", 2), ("sin x", 4), ("2*/3", 2), ("x)", 1), ("((x)", 4), ("x + bar", 4),
    ("²", 0), ("3 @", 2), ("2e", 1),
])
def test_malformed_expressions_report_the_position(text, position):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.position == position, err.message
    assert f"position {position}" in str(err)
    assert err.pointer().splitlines()[1] == " " * position + "^"


def test_missing_and_unknown_variables():
    expr = parse("x + y")
    assert expr.variables == ("x", "y")
    with pytest.raises(ValueError, match="uses y"):
        expr(x=1)
    with pytest.raises(ValueError, match="unknown variable 'w'"):
        expr(x=1, y=2, w=3)
    assert expr(x=1, y=2, z=99).data == 3  # unused z is fine


def test_parse_never_evaluates_python():
    for text in ("__import__('os')", "x.__class__", "[x]", "x; y", "lambda: 1", "'x'"):
        with pytest.raises(ExpressionError):
            parse(text)


def test_values_can_be_passed_in_and_read_back():
    x = Value(2.0, label="x")
    out = parse("x^3 + 2x")(x=x)
    out.backward()
    assert x.grad == pytest.approx(3 * 4 + 2)


def test_tokenizer_keeps_positions():
    toks = tokenize("2πx²")
    assert [(t.kind, t.text, t.pos) for t in toks] == [
        ("number", "2", 0), ("name", "π", 1), ("name", "x", 2), ("super", "2", 3), ("end", "", 4)]


def test_graph_lists_nodes_and_edges_for_drawing():
    root = parse("x*x + sin(y)")(x=3, y=0)
    root.backward()
    nodes, edges = graph(root)
    assert nodes[-1].op == "+" and nodes[-1].grad == 1.0
    x_node = next(n for n in nodes if n.label == "x")
    assert x_node.op == "" and x_node.grad == 6.0 and x_node.value == 3.0
    mul = next(n for n in nodes if n.op == "*")
    assert edges.count((x_node.id, mul.id)) == 2
    sin = next(n for n in nodes if n.op == "sin")
    assert sin.grad == 1.0
    assert len(edges) == 5 and all(c < p for c, p in edges)  # topological order


def test_numeric_gradient_of_plain_function():
    g = numeric_gradient(lambda x, y: x * x * y, {"x": 3.0, "y": 2.0})
    assert g["x"] == pytest.approx(12.0, rel=1e-7) and g["y"] == pytest.approx(9.0, rel=1e-7)


# ------------------------------------------------------- random expressions vs central diffs

# (name, math evaluator) — the oracle evaluates the tree with the math module only.
_UNARY = {
    "sin": math.sin, "cos": math.cos, "tanh": math.tanh, "exp": math.exp, "log": math.log,
    "sigmoid": lambda t: 1 / (1 + math.exp(-t)),
}


def _random_tree(rng: random.Random, depth: int):
    if depth == 0 or rng.random() < 0.25:
        r = rng.random()
        if r < 0.6:
            return ("var", rng.choice("xyz"))
        if r < 0.7:
            return ("pi",)
        return ("num", round(rng.uniform(0.1, 3.0), rng.choice([0, 1, 2])) or 0.5)
    r = rng.random()
    if r < 0.3:
        return ("call", rng.choice(sorted(_UNARY)), _random_tree(rng, depth - 1))
    if r < 0.4:
        return ("neg", _random_tree(rng, depth - 1))
    if r < 0.5:
        return ("pow", _random_tree(rng, depth - 1), rng.choice([2, 3]))
    return ("bin", rng.choice("+-*/"), _random_tree(rng, depth - 1), _random_tree(rng, depth - 1))


def _render(tree, rng: random.Random) -> str:
    """Text with random syntax variants: ^ or ** or superscripts, σ or sigmoid, π or pi."""
    kind = tree[0]
    if kind == "var":
        return tree[1]
    if kind == "pi":
        return rng.choice(["pi", "π"])
    if kind == "num":
        return repr(tree[1])
    if kind == "call":
        name = "σ" if tree[1] == "sigmoid" and rng.random() < 0.5 else tree[1]
        return f"{name}({_render(tree[2], rng)})"
    if kind == "neg":
        return f"(-{_render(tree[1], rng)})"
    if kind == "pow":
        op = rng.choice(["^", "**", "sup"])
        base = f"({_render(tree[1], rng)})"
        return base + ("²" if tree[2] == 2 else "³") if op == "sup" else f"{base}{op}{tree[2]}"
    left, right = _render(tree[2], rng), _render(tree[3], rng)
    if tree[1] == "*" and rng.random() < 0.3:
        return f"(({left})({right}))"  # implicit multiplication
    return f"({left}{tree[1]}{right})"


def _oracle(tree, env):
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "pi":
        return math.pi
    if kind == "num":
        return tree[1]
    if kind == "call":
        return _UNARY[tree[1]](_oracle(tree[2], env))
    if kind == "neg":
        return -_oracle(tree[1], env)
    if kind == "pow":
        return _oracle(tree[1], env) ** tree[2]
    a, b = _oracle(tree[2], env), _oracle(tree[3], env)
    return {"+": a + b, "-": a - b, "*": a * b}[tree[1]] if tree[1] != "/" else a / b


def test_random_expressions_match_oracle_and_central_differences():
    rng = random.Random(1234)
    checked = 0
    for _ in range(400):
        tree = _random_tree(rng, depth=4)
        text = _render(tree, rng)
        expr = parse(text)
        point = {v: rng.uniform(0.2, 2.0) for v in "xyz"}
        try:
            expected = _oracle(tree, point)
            root, grads = expr.gradient(**point)
            num_h = numeric_gradient(expr, point, h=1e-5)
            num_h2 = numeric_gradient(expr, point, h=5e-6)
        except (DomainError, ValueError, OverflowError, ZeroDivisionError):
            continue  # outside the domain near this point
        if not math.isfinite(expected) or abs(expected) > 1e6:
            continue
        assert root.data == pytest.approx(expected, rel=1e-9, abs=1e-12), text
        for v in "xyz":
            g = grads.get(v, 0.0)
            # Skip ill-conditioned points where two step sizes disagree.
            scale = max(1.0, abs(num_h[v]))
            if abs(num_h[v] - num_h2[v]) > 1e-6 * scale:
                continue
            assert g == pytest.approx(num_h[v], rel=1e-5, abs=1e-6), (text, v, point)
        checked += 1
    assert checked > 250
