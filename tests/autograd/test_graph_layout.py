"""Layered graph layout: columns follow the edges, boxes never overlap."""

import itertools
import random

import pytest

from cnnlab.autograd import graph, parse
from cnnlab.autograd.graph_layout import WAYPOINT_SIZE, GraphLayout, layered_layout

DEFAULT = "log(σ((cos(πx) + sin(πy/2)) / tanh(z²)))"


def _layout_of(text, **point):
    root = parse(text)(**point)
    nodes, edges = graph(root)
    inputs = [n.id for n in nodes if not n.op and n.label in ("x", "y", "z")]
    return nodes, edges, inputs, layered_layout(len(nodes), edges, inputs)


def _assert_valid(n, edges, inputs, layout: GraphLayout):
    assert len(layout.columns) == len(layout.rows) == n
    for c, p in edges:  # every arrow points right
        assert layout.columns[c] < layout.columns[p]
    for i in inputs:
        assert layout.columns[i] == 0
    for a, b in itertools.combinations(range(n), 2):  # no two boxes of a column overlap
        if layout.columns[a] == layout.columns[b]:
            assert abs(layout.rows[a] - layout.rows[b]) >= 1.0 - 1e-9
    lanes = [(c, r) for points in layout.waypoints for c, r in points]
    assert min([*layout.rows, *(r for _c, r in lanes)]) == pytest.approx(0.0)
    assert len(layout.waypoints) == len(edges)
    for (c, p), points in zip(edges, layout.waypoints):  # one waypoint per crossed column
        assert [col for col, _r in points] == list(range(layout.columns[c] + 1, layout.columns[p]))
    for col, r in lanes:  # arrows pass between boxes, not through them
        for v in range(n):
            if layout.columns[v] == col:
                assert abs(layout.rows[v] - r) >= (1 + WAYPOINT_SIZE) / 2 - 1e-9


def test_default_expression_layout():
    nodes, edges, inputs, layout = _layout_of(DEFAULT, x=2, y=4, z=1)
    _assert_valid(len(nodes), edges, inputs, layout)
    assert {nodes[i].label for i in inputs} == {"x", "y", "z"}
    root = len(nodes) - 1
    assert layout.columns[root] == layout.n_columns - 1 == 7  # log ∘ σ ∘ / ∘ + ∘ sin ∘ / ∘ * ∘ π
    # The constant 2 of πy/2 sits right before the division that uses it.
    two = next(n.id for n in nodes if n.label == "2")
    div = next(p for c, p in edges if c == two)
    assert layout.columns[two] == layout.columns[div] - 1
    # z feeds z² three columns to the right: its arrow gets two waypoints.
    z = next(n.id for n in nodes if n.label == "z")
    e = [c for c, _p in edges].index(z)
    assert len(layout.waypoints[e]) == layout.columns[edges[e][1]] - 1 >= 2


def test_chain_is_one_straight_row():
    nodes, edges, inputs, layout = _layout_of("exp(sin(cos(x)))", x=0.3)
    assert layout.columns == (0, 1, 2, 3)
    assert set(layout.rows) == {0.0}
    assert layout.n_rows == 1.0


def test_reused_node_and_duplicate_edges():
    nodes, edges, inputs, layout = _layout_of("x*x + x", x=3)
    assert edges.count((inputs[0], 1)) == 2  # x*x: two arrows from x
    _assert_valid(len(nodes), edges, inputs, layout)


def test_random_expressions_are_valid_layouts():
    rng = random.Random(3)
    atoms = ["x", "y", "z", "2", "pi", "0.5"]
    for _ in range(40):
        terms = [rng.choice(atoms) for _ in range(rng.randint(1, 6))]
        text = terms[0]
        for t in terms[1:]:
            text = f"{rng.choice(['sin', 'cos', 'tanh', 'σ'])}({text} {rng.choice('+-*')} {t})"
        nodes, edges, inputs, layout = _layout_of(text, x=0.1, y=0.2, z=0.3)
        _assert_valid(len(nodes), edges, inputs, layout)


def test_bad_graphs_are_refused():
    with pytest.raises(ValueError, match="outside"):
        layered_layout(2, [(0, 5)])
    with pytest.raises(ValueError, match="cycle"):
        layered_layout(2, [(0, 1), (1, 0)])
    assert layered_layout(0, []).n_columns == 0


def test_waypoint_count_predicts_the_layout_cost():
    from cnnlab.autograd.graph_layout import waypoint_count

    for text in ("+".join(["x"] * 30), "sin(x)*y + x/2", "x"):
        root, _ = parse(text).gradient(x=1.0, y=2.0)
        nodes, edges = graph(root)
        inputs = [n.id for n in nodes if not n.op and n.label in "xyz"]
        layout = layered_layout(len(nodes), edges, inputs)
        assert waypoint_count(len(nodes), edges, inputs) == sum(map(len, layout.waypoints))
    assert waypoint_count(30, [(0, k) for k in range(1, 30)] + [(k - 1, k) for k in range(2, 30)],
                          [0]) == sum(range(29))  # node k is column k; 0 → k crosses k - 1
