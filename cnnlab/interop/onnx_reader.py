"""Reading an untrusted ONNX file safely: the protobuf, its constants and its one input.

Nothing declared in the file is trusted: every constant's dims are checked (non-negative,
bounded element count, data present and of exactly that size, no external data files) before
NumPy allocates it. Problems raise ``ModelFileError`` naming the file and the tensor or node.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cnnlab.engine.model import ModelFileError
from cnnlab.interop.onnx_common import MIN_IMPORT_OPSET, require_onnx

#: files larger than this are refused before reading (a small CNN is a few MB)
MAX_FILE_BYTES = 1 << 30
#: the most elements one constant may declare
MAX_ELEMENTS = 200_000_000

# TensorProto data types read here -> (NumPy dtype, the repeated field holding unpacked data)
_TYPES = {1: (np.float32, "float_data"), 11: (np.float64, "double_data"), 7: (np.int64, "int64_data"),
          6: (np.int32, "int32_data")}


#: Constant-node attributes holding plain numbers -> (AttributeProto field, dtype)
_PLAIN = {"value_float": ("f", np.float32), "value_floats": ("floats", np.float32),
          "value_int": ("i", np.int64), "value_ints": ("ints", np.int64)}


def read_model(path):
    """The parsed ``onnx.ModelProto`` of ``path`` and the default-domain opset version."""
    onnx = require_onnx()
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX file at {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: {size:,} bytes is too large for a cnnlab model")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: not an ONNX model ({exc or 'protobuf decode error'})") from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise ModelFileError(f"{path}: not an ONNX model (no graph with operations)")
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ModelFileError(f"{path}: the model imports no standard ONNX opset")
    if versions[0] < MIN_IMPORT_OPSET:
        raise ModelFileError(f"{path}: ONNX opset {versions[0]} is too old (cnnlab reads "
                             f"{MIN_IMPORT_OPSET}+)")
    return proto, versions[0]


def tensor_array(path, tensor, what: str) -> np.ndarray:
    """A ``TensorProto`` as a NumPy array after checking its declared dims against the
    data actually present."""
    from onnx import numpy_helper

    where = f"{path}: {what}"
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise ModelFileError(f"{where}: negative dimension in {dims}")
    count = math.prod(dims)
    if count > MAX_ELEMENTS:
        raise ModelFileError(f"{where}: declares {count:,} elements, more than cnnlab accepts")
    if tensor.data_location == 1 or tensor.external_data:
        raise ModelFileError(f"{where}: weights in an external file are not supported")
    if tensor.data_type not in _TYPES:
        raise ModelFileError(f"{where}: data type {tensor.data_type} is not supported "
                             f"(float32, float64, int32 or int64)")
    dtype, field = _TYPES[tensor.data_type]
    if tensor.HasField("raw_data"):
        present = len(tensor.raw_data)
        needed = count * np.dtype(dtype).itemsize
    else:
        present, needed = len(getattr(tensor, field)), count
    if present != needed:
        raise ModelFileError(f"{where}: dims {dims} need {needed:,} "
                             f"{'bytes' if tensor.HasField('raw_data') else 'values'} but it has {present:,}")
    try:
        return np.array(numpy_helper.to_array(tensor), dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: unreadable data ({exc})") from None


def graph_constants(path, graph) -> dict[str, np.ndarray]:
    """Initializers and ``Constant`` node outputs by name (arrays, checked)."""
    consts = {t.name: tensor_array(path, t, f"initializer {t.name!r}") for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "Constant":
            continue
        attrs = {a.name: a for a in node.attribute}
        where = f"Constant node {node.name or node.output[:1]!r}"
        if len(attrs) != 1 or len(node.output) != 1 or not set(attrs) & {"value", *_PLAIN}:
            raise ModelFileError(f"{path}: {where}: only one value, value_float(s) or "
                                 f"value_int(s) is supported")
        (name, attr), = attrs.items()
        if name == "value":
            consts[node.output[0]] = tensor_array(path, attr.t, where)
        else:
            field, dtype = _PLAIN[name]
            consts[node.output[0]] = np.array(getattr(attr, field), dtype=dtype)
    for node in graph.node:  # exporters reshape some weights in the graph: do it once here
        if node.op_type == "Reshape" and len(node.input) == 2 and all(n in consts for n in node.input):
            consts[node.output[0]] = _reshaped(path, node, consts[node.input[0]], consts[node.input[1]])
    return consts


def _reshaped(path, node, data: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """ONNX Reshape of a constant (0 copies the input's size, -1 is inferred)."""
    target = [int(v) for v in shape.reshape(-1)]
    target = [data.shape[i] if v == 0 and i < data.ndim else v for i, v in enumerate(target)]
    try:
        return data.reshape(target)
    except ValueError:
        raise ModelFileError(f"{path}: node {node.name!r} (Reshape): cannot reshape a constant of "
                             f"shape {data.shape} to {target}") from None


def graph_input(path, graph, consts) -> tuple[str, tuple[int, ...], type]:
    """``(name, shape without the batch axis, float dtype)`` of the one real graph input."""
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1:
        raise ModelFileError(f"{path}: expected one input, found {len(inputs)} "
                             f"({', '.join(v.name for v in inputs) or 'none'})")
    value = inputs[0]
    ttype = value.type.tensor_type
    if ttype.elem_type not in (1, 11):
        raise ModelFileError(f"{path}: input {value.name!r} must be float32 or float64 "
                             f"(element type {ttype.elem_type})")
    dims = list(ttype.shape.dim)
    if len(dims) not in (2, 4):
        raise ModelFileError(f"{path}: input {value.name!r} must be (N, C, H, W) or (N, features), "
                             f"has {len(dims)} axes")
    shape = []
    for d in dims[1:]:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            raise ModelFileError(f"{path}: input {value.name!r} needs fixed sizes after the "
                                 f"batch axis (found {d.dim_param or '?'!r})")
        shape.append(int(d.dim_value))
    if math.prod(shape) > MAX_ELEMENTS:
        raise ModelFileError(f"{path}: input {value.name!r} of shape {shape} is too large")
    return value.name, tuple(shape), (np.float64 if ttype.elem_type == 11 else np.float32)
