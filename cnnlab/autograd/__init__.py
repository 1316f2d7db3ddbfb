"""Scalar autograd, the Backprop tab's engine (stands alone: no NumPy arrays, no Qt).

micrograd's idea in four small modules:

- :mod:`~cnnlab.autograd.value`: ``Value``, a number that remembers how it was computed
  and backpropagates (``backward()``), plus ``graph`` and ``numeric_gradient``;
- :mod:`~cnnlab.autograd.parser`: ``parse(text)`` turns ``log(σ(x·y + z))`` into an
  ``Expression`` of ``Value`` operations, without ``eval`` (``ExpressionError`` with a position);
- :mod:`~cnnlab.autograd.gradient_check`: backprop next to float64 central differences;
- :mod:`~cnnlab.autograd.graph_layout`: where each node of the graph goes when drawn.

::

    from cnnlab.autograd import Value, parse
    f = parse("x*y + sin(z)")
    root, grads = f.gradient(x=2.0, y=3.0, z=0.5)   # grads == {"x": 3.0, "y": 2.0, "z": cos(0.5)}
"""

from cnnlab.autograd.parser import Expression, ExpressionError, parse, tokenize
from cnnlab.autograd.value import DomainError, GraphNode, Value, graph, numeric_gradient

__all__ = ["Value", "DomainError", "GraphNode", "graph", "numeric_gradient", "Expression",
           "ExpressionError", "parse", "tokenize"]
