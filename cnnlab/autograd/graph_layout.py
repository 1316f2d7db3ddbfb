"""Layered layout of a computation graph, for drawing it left (inputs) to right (output).

The Backprop tab draws the graph of :func:`cnnlab.autograd.parser.graph` as boxes with
arrows. This module decides where the boxes go, in abstract grid units (a column per
layer, rows one box apart), so the panel only multiplies by pixel sizes. It is a small
Sugiyama-style layout: layers by longest path, order within a layer by the barycentre of
the neighbours (a few sweeps both ways), then rows pulled towards the neighbours' rows
without ever putting two boxes of one column closer than one row apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Height of the lane an arrow reserves where it crosses a column (a box is 1.0).
WAYPOINT_SIZE = 0.4


@dataclass(frozen=True)
class GraphLayout:
    """Positions of ``n`` nodes: ``columns[i]`` (int, 0 = inputs) and ``rows[i]`` (float,
    ≥ 0, boxes of one column at least 1.0 apart). ``waypoints[e]`` lists ``(column, row)``
    points that edge ``e`` (in the order given) passes through in the columns between its
    ends, empty for an edge between adjacent columns; they keep at least
    ``(1 + WAYPOINT_SIZE) / 2`` rows from the centre of any box. ``n_columns`` and ``n_rows``
    (the extent, max row + 1) size the drawing."""

    columns: tuple[int, ...]
    rows: tuple[float, ...]
    waypoints: tuple[tuple[tuple[int, float], ...], ...] = ()

    @property
    def n_columns(self) -> int:
        return max(self.columns, default=-1) + 1

    @property
    def n_rows(self) -> float:
        lanes = [r for points in self.waypoints for _c, r in points]
        return max([*self.rows, *lanes], default=-1.0) + 1.0


def layered_layout(n_nodes: int, edges: Sequence[tuple[int, int]],
                   inputs: Sequence[int] = (), sweeps: int = 4) -> GraphLayout:
    """Lay out a DAG of ``n_nodes`` nodes with ``edges`` ``(child, parent)`` (operand →
    operation, as :func:`cnnlab.autograd.parser.graph` returns them).

    Nodes listed in ``inputs`` (the variables) share column 0; every other node sits one
    column before its first use, so ``2`` in ``y/2`` does not stretch an arrow across the
    whole drawing. Every edge goes from a lower column to a higher one.
    Raises ``ValueError`` for an edge naming a node out of range or a cycle.
    """
    column, order, children, parents = _columns(n_nodes, edges, inputs)

    kids, pars, col, size, chains = _waypoints(column, edges, children, parents)
    layers: list[list[int]] = [[] for _ in range(max(column, default=-1) + 1)]
    for v in order:
        layers[column[v]].append(v)
    for chain in chains:
        for d in chain:
            layers[col[d]].append(d)

    # Order within layers: barycentre of the neighbours in the adjacent layer.
    position = {v: i for layer in layers for i, v in enumerate(layer)}

    def reorder(layer: list[int], neighbours: list[list[int]]) -> None:
        def key(v: int) -> tuple[float, int]:
            ns = neighbours[v]
            return (sum(position[u] for u in ns) / len(ns) if ns else position[v], position[v])
        layer.sort(key=key)
        for i, v in enumerate(layer):
            position[v] = i

    for _ in range(sweeps):
        for layer in layers[1:]:
            reorder(layer, kids)
        for layer in reversed(layers[:-1]):
            reorder(layer, pars)

    # Rows: start stacked, then pull each box towards its neighbours' mean row while
    # keeping boxes of a column apart (a few passes, both directions).
    row = [0.0] * len(col)
    for layer in layers:
        y = 0.0
        for i, v in enumerate(layer):
            y += 0.0 if i == 0 else (size[layer[i - 1]] + size[v]) / 2
            row[v] = y
    for _ in range(sweeps):
        for layer in layers[1:]:
            _pull(layer, kids, row, size)
        for layer in reversed(layers[:-1]):
            _pull(layer, pars, row, size)
    low = min(row, default=0.0)
    return GraphLayout(
        tuple(column), tuple(row[v] - low for v in range(n_nodes)),
        tuple(tuple((col[d], row[d] - low) for d in chain) for chain in chains))


def _waypoints(column: list[int], edges, children, parents):
    """Long edges get a waypoint in every column they cross; waypoints take part in the
    ordering and reserve a lane (thinner than a box), so arrows pass between boxes.
    Returns ``(kids, pars, col, size, chains)`` over nodes and waypoints together."""
    size = [1.0] * len(column)
    kids: list[list[int]] = [list(cs) for cs in children]
    pars: list[list[int]] = [list(ps) for ps in parents]
    chains: list[list[int]] = []
    col = list(column)
    for c, p in edges:
        chain = []
        prev = c
        for k in range(column[c] + 1, column[p]):
            d = len(col)
            col.append(k)
            size.append(WAYPOINT_SIZE)
            kids.append([prev])
            pars.append([])
            pars[prev].append(d)
            chain.append(d)
            prev = d
        if chain:  # replace the direct link c -> p by c -> d1 … dk -> p
            pars[c].remove(p)
            kids[p].remove(c)
            pars[chain[-1]].append(p)
            kids[p].append(chain[-1])
        chains.append(chain)
    return kids, pars, col, size, chains


def waypoint_count(n_nodes: int, edges: Sequence[tuple[int, int]],
                   inputs: Sequence[int] = ()) -> int:
    """How many waypoints :func:`layered_layout` would create: the cost of the layout
    (it grows with the square of the length of a chain like ``x+x+…+x``), known cheaply
    before deciding to draw. Raises like :func:`layered_layout`."""
    column = _columns(n_nodes, edges, inputs)[0]
    return sum(max(0, column[p] - column[c] - 1) for c, p in edges)


def _columns(n_nodes: int, edges: Sequence[tuple[int, int]], inputs: Sequence[int]):
    """``(column, order, children, parents)``: each node's column, a topological order and
    the adjacency lists; checks the edges."""
    if n_nodes < 0:
        raise ValueError(f"n_nodes must be ≥ 0, got {n_nodes}")
    for c, p in edges:
        if not (0 <= c < n_nodes and 0 <= p < n_nodes):
            raise ValueError(f"edge ({c}, {p}) names a node outside 0…{n_nodes - 1}")
    children: list[list[int]] = [[] for _ in range(n_nodes)]
    parents: list[list[int]] = [[] for _ in range(n_nodes)]
    for c, p in edges:
        children[p].append(c)
        parents[c].append(p)
    order = _topological(n_nodes, children)
    inputs_set = set(inputs)
    # Longest path from the leaves fixes the number of columns; then every node except
    # the inputs moves as far right as its consumers allow, so the long arrows are the
    # ones leaving the inputs column rather than ones crossing the middle of the drawing.
    column = [0] * n_nodes
    for v in order:
        if children[v]:
            column[v] = 1 + max(column[c] for c in children[v])
    for v in reversed(order):  # parents are final before their children move
        if v not in inputs_set and parents[v]:
            column[v] = min(column[p] for p in parents[v]) - 1
    return column, order, children, parents


def _pull(layer: list[int], neighbours: list[list[int]], row: list[float],
          size: list[float]) -> None:
    """Move the rows of ``layer`` (already ordered) towards the mean row of their
    neighbours, then resolve overlaps: neighbours in a column stay half their sizes
    apart (1 between two boxes)."""
    want = [sum(row[u] for u in neighbours[v]) / len(neighbours[v]) if neighbours[v] else row[v]
            for v in layer]
    placed = list(want)
    for i in range(1, len(placed)):
        gap = (size[layer[i - 1]] + size[layer[i]]) / 2
        placed[i] = max(placed[i], placed[i - 1] + gap)
    # Pushing only down drifts the column; shift it so it is centred on what it wanted.
    if placed:
        shift = sum(w - p for w, p in zip(want, placed)) / len(placed)
        placed = [p + shift for p in placed]
    for v, r in zip(layer, placed):
        row[v] = r


def _topological(n: int, children: list[list[int]]) -> list[int]:
    """Nodes with every child before its parents (Kahn); raises on a cycle."""
    pending = [len(set(cs)) for cs in children]
    parents_of: list[set[int]] = [set() for _ in range(n)]
    for p, cs in enumerate(children):
        for c in cs:
            parents_of[c].add(p)
    ready = [v for v in range(n) if pending[v] == 0]
    order = []
    while ready:
        v = ready.pop()
        order.append(v)
        for p in sorted(parents_of[v]):
            pending[p] -= 1
            if pending[p] == 0:
                ready.append(p)
    if len(order) != n:
        raise ValueError("the graph has a cycle; a computation graph cannot")
    return order
