"""Import an ONNX model made of the operations a small CNN uses as a cnnlab ``Sequential``.

Supported: Conv, Relu, LeakyRelu, Tanh, Sigmoid, MaxPool, AveragePool, Flatten / Reshape to
``(N, features)``, Gemm or MatMul (+ Add bias), Dropout, Sub / Div / Mul / Add by constants
(a ``Normalize``), and a final Softmax / LogSoftmax (dropped: cnnlab models output logits
and apply softmax themselves). The graph must be one chain from its input to its output.
Anything else is refused with ``ModelFileError`` naming the node and its operation.
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.engine.layers import Flatten
from cnnlab.engine.model import ModelFileError, Sequential
from cnnlab.interop.onnx_layers import Builder, Refused
from cnnlab.interop.onnx_metadata import restore_config
from cnnlab.interop.onnx_reader import graph_constants, graph_input, read_model

SUPPORTED = ("Conv", "Relu", "LeakyRelu", "Tanh", "Sigmoid", "MaxPool", "AveragePool", "Flatten",
             "Reshape", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Dropout", "Softmax",
             "LogSoftmax", "Constant")


def _node_label(node, k: int) -> str:
    return f"node {node.name!r} ({node.op_type})" if node.name else f"node #{k} ({node.op_type})"


def _data_input(node, current: str, consts: dict) -> str:
    """The node's input that carries the activations (the others must be constants)."""
    if current not in node.input:
        reads = [n for n in node.input if n and n not in consts]
        raise Refused(f"the graph is not a single chain of layers: it reads "
                       f"{', '.join(map(repr, reads)) or 'only constants'} instead of {current!r}")
    if node.op_type not in ("Mul", "Add") and node.input[0] != current:
        raise Refused(f"its first input must be {current!r}")
    return current


def _check_outputs(node, graph, used: set) -> None:
    extra = [o for o in node.output[1:] if o and (o in used or o in {v.name for v in graph.output})]
    if extra:
        raise Refused(f"its extra output {extra[0]!r} is used; cnnlab models have one chain")


def load_onnx(path) -> Sequential:
    """Build the cnnlab ``Sequential`` equivalent to the ONNX model in ``path`` (eval mode;
    float32 unless the file's input is float64; final Softmax/LogSoftmax dropped). A model
    taking flat ``(N, 784)`` rows gets a leading Flatten and takes ``(N, 1, 28, 28)`` digits.

    Raises ``FileNotFoundError``, ``OnnxUnavailable`` (an ``ImportError``) without the
    ``onnx`` package, and ``ModelFileError`` for an unreadable file or any operation,
    attribute or layout cnnlab cannot represent, naming the node and its operation."""
    path = Path(path)
    proto, opset = read_model(path)
    graph = proto.graph
    consts = graph_constants(path, graph)
    current, shape, dtype = graph_input(path, graph, consts)
    nodes = [n for n in graph.node if not all(o in consts for o in n.output)]  # not constants
    used = {name for n in nodes for name in n.input}
    builder = Builder(consts, shape, dtype, opset)
    for k, node in enumerate(nodes):
        label = _node_label(node, k)
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED:
            who = f"node {node.name!r}" if node.name else f"node #{k}"
            op = f"{node.domain}.{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
            raise ModelFileError(f"{path}: {who} uses operation {op!r}, which cnnlab cannot "
                                 f"import (supported: {', '.join(SUPPORTED)})")
        last = k == len(nodes) - 1
        try:
            data = _data_input(node, current, consts)
            _check_outputs(node, graph, used)
            builder.add(node, data, last)
        except (Refused, ValueError, TypeError) as exc:  # ValueError: a layer refused the values
            raise ModelFileError(f"{path}: {label}: {exc}") from None
        current = node.output[0]
    builder.flush_norm()
    outputs = [v.name for v in graph.output]
    if outputs != [current]:
        raise ModelFileError(f"{path}: the graph outputs {outputs} but its chain of layers ends "
                             f"at {current!r}")
    if not builder.layers:
        raise ModelFileError(f"{path}: the graph has no layers cnnlab can run")
    meta = {"name": path.stem, "imported_from": path.name}
    if builder.dropped_softmax:
        meta["dropped"] = f"final {builder.dropped_softmax} (cnnlab outputs logits)"
    try:
        model = Sequential(builder.layers, shape, dtype=dtype, meta=meta)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    restored = restore_config(proto, model.eval())
    if restored is not model or shape != (28 * 28,):
        return restored
    # a digit classifier that takes flat (N, 784) rows: the same net on (N, 1, 28, 28) images,
    # so the canvas, the datasets and the Experiments tab can feed it
    meta["input"] = "the file's (N, 784) input, read as (N, 1, 28, 28) images"
    return Sequential([Flatten(), *builder.layers], (1, 28, 28), dtype=dtype, meta=meta).eval()
