"""Export a cnnlab model as an ONNX file (float32, inference graph).

Every engine layer becomes the ONNX operation PyTorch's exporter would write: Conv (symmetric
``pads``), MaxPool / AveragePool (no padding, floor mode), Flatten (axis 1), Gemm with
``transB=1`` (the ``Linear`` layout ``(out, in)``; MatMul when there is no bias), Relu,
LeakyRelu, Tanh, Sigmoid, and Sub + Div for ``Normalize``. Dropout is the identity at
inference and is left out (the cnnlab config, kept in the metadata, restores it on import).
The graph input is ``"input"`` ``(N, *input_shape)`` with a symbolic batch axis ``N``; the
output is ``"logits"``. Needs the optional ``onnx`` package (``pip install 'cnnlab[onnx]'``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnlab.engine.layers import (
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    MaxPool2D,
    Normalize,
    ReLU,
    Sigmoid,
    Tanh,
)
from cnnlab.files import write_atomically
from cnnlab.interop.onnx_common import INPUT_NAME, MIN_OPSET, OUTPUT_NAME, require_onnx
from cnnlab.interop.onnx_metadata import add_config

_ACTIVATIONS = {ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid"}


def _pair(p) -> list[int]:
    return [int(p[0]), int(p[1])]


def _constant(values, shape: tuple[int, ...]) -> np.ndarray:
    """A Normalize value as a float32 array that broadcasts over the input's axis 1:
    a scalar stays a scalar, per-channel values become ``(C, 1, 1)`` for images."""
    if not isinstance(values, list):
        return np.array(values, dtype=np.float32)
    return np.array(values, dtype=np.float32).reshape((len(values),) + (1,) * (len(shape) - 1))


def layer_nodes(layer, index: int, x: str, out: str, in_shape: tuple[int, ...]):
    """``(nodes, initializers)`` computing ``out`` from ``x`` for one layer; names are
    prefixed with the layer index (``"3.weight"``), as in the PyTorch ``state_dict``."""
    from onnx import helper, numpy_helper

    def tensor(name, array):
        return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), f"{index}.{name}")

    node_name = f"{index}_{layer.name}"
    if isinstance(layer, Conv2D):
        inits = [tensor("weight", layer.params["W"])] + ([tensor("bias", layer.params["b"])]
                                                        if layer.bias else [])
        ph, pw = layer.padding
        node = helper.make_node("Conv", [x, *(t.name for t in inits)], [out], name=node_name,
                                kernel_shape=_pair(layer.kernel_size), strides=_pair(layer.stride),
                                pads=[ph, pw, ph, pw], dilations=_pair(layer.dilation), group=1)
        return [node], inits
    if isinstance(layer, Dense) and not layer.bias:  # as PyTorch writes a bias-free Linear
        w = tensor("W", layer.params["W"])  # cnnlab's (in, out) layout
        return [helper.make_node("MatMul", [x, w.name], [out], name=node_name)], [w]
    if isinstance(layer, Dense):
        inits = [tensor("weight", layer.params["W"].T), tensor("bias", layer.params["b"])]
        node = helper.make_node("Gemm", [x, *(t.name for t in inits)], [out], name=node_name,
                                alpha=1.0, beta=1.0, transB=1)
        return [node], inits
    if isinstance(layer, (MaxPool2D, AvgPool2D)):
        op = "MaxPool" if isinstance(layer, MaxPool2D) else "AveragePool"
        node = helper.make_node(op, [x], [out], name=node_name, kernel_shape=_pair(layer.kernel_size),
                                strides=_pair(layer.stride), pads=[0, 0, 0, 0])
        return [node], []
    if isinstance(layer, Flatten):
        return [helper.make_node("Flatten", [x], [out], name=node_name, axis=1)], []
    if isinstance(layer, LeakyReLU):
        return [helper.make_node("LeakyRelu", [x], [out], name=node_name,
                                 alpha=layer.negative_slope)], []
    if type(layer) in _ACTIVATIONS:
        return [helper.make_node(_ACTIVATIONS[type(layer)], [x], [out], name=node_name)], []
    if isinstance(layer, Normalize):
        mean = numpy_helper.from_array(_constant(layer.mean, in_shape), f"{index}.mean")
        std = numpy_helper.from_array(_constant(layer.std, in_shape), f"{index}.std")
        centred = f"{index}.centred"
        return [helper.make_node("Sub", [x, mean.name], [centred], name=f"{node_name}_sub"),
                helper.make_node("Div", [centred, std.name], [out], name=f"{node_name}_div")], [mean, std]
    raise ValueError(f"{layer.label}: no ONNX operation for {layer.name}")


def build_onnx(model, opset: int = 17):
    """The ``onnx.ModelProto`` of ``model`` (float32), checked by ``onnx.checker``."""
    onnx = require_onnx()
    from onnx import TensorProto, helper

    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export_onnx: opset must be an integer in {MIN_OPSET}..{newest}, got {opset!r}")
    layers = [(i, layer) for i, layer in enumerate(model.layers) if not isinstance(layer, Dropout)]
    nodes, inits = [], []
    current = INPUT_NAME
    shapes = [tuple(model.input_shape), *map(tuple, model.shapes)]
    for n, (i, layer) in enumerate(layers):
        out = OUTPUT_NAME if n == len(layers) - 1 else f"{i}.output"
        more_nodes, more_inits = layer_nodes(layer, i, current, out, shapes[i])
        nodes += more_nodes
        inits += more_inits
        current = out
    if current == INPUT_NAME:  # only Dropout layers: the graph still needs an operation
        nodes.append(helper.make_node("Identity", [INPUT_NAME], [OUTPUT_NAME], name="identity"))
    graph = helper.make_graph(
        nodes, str((model.meta or {}).get("name") or "cnnlab model"),
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", *model.input_shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", *model.output_shape])],
        inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="cnnlab",
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto.doc_string = ("A cnnlab model. Input: float32 (N, " + ", ".join(map(str, model.input_shape))
                        + ") pixels in [0, 1]; output: logits.")
    add_config(proto, model)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, opset: int = 17) -> Path:
    """Write ``model`` to the ONNX file ``path`` (atomically) and return the path.

    float32 weights and activations (a float64 model is rounded); input ``"input"``
    ``(N, *input_shape)`` with a dynamic batch axis, output ``"logits"``; Dropout left out.
    Raises ``OnnxUnavailable`` (an ``ImportError``) without the ``onnx`` package and
    ``ValueError`` for an opset outside what the installed ``onnx`` knows."""
    path = Path(path)
    data = build_onnx(model, opset).SerializeToString()
    write_atomically(path, lambda f: f.write(data))
    return path
