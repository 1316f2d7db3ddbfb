"""ONNX nodes -> cnnlab layers, one node at a time (used by :mod:`cnnlab.interop.onnx_import`).

``Builder.add(node, ...)`` turns a supported node into a layer, checking every attribute
against what the engine's layer computes; consecutive Sub / Div / Mul / Add by constants
fold into one ``Normalize``, and an Add right after a Conv, Gemm or MatMul becomes its bias.
"""

from __future__ import annotations

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
    layer_from_config,
)

_SIMPLE = {"Relu": ReLU, "Tanh": Tanh, "Sigmoid": Sigmoid}
_NORMALIZING = ("Sub", "Div", "Mul", "Add")


class Refused(Exception):
    """Why one node cannot be imported (the caller adds the file and node)."""


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pair(values, what: str, default: int) -> tuple[int, int]:
    values = [default, default] if values is None else [int(v) for v in values]
    if len(values) != 2:
        raise Refused(f"{what} {values} is not 2-D")
    return values[0], values[1]


class Builder:
    """Turns nodes into layers, tracking the current shape (no batch axis)."""

    def __init__(self, consts: dict, shape: tuple[int, ...], dtype, opset: int):
        self.consts, self.shape, self.dtype, self.opset = consts, shape, dtype, opset
        self.layers: list = []
        self.norm: list | None = None  # pending [mean, std] from Sub/Div/Mul/Add
        self.biasable = False  # the last node made a Conv2D / Dense: an Add can be its bias
        self.dropped_softmax = None

    # ----------------------------------------------------------- helpers
    def operand(self, node, i: int, what: str) -> np.ndarray:
        """The constant that is input ``i`` of ``node``."""
        if len(node.input) <= i or not node.input[i]:
            raise Refused(f"its {what} (input {i}) is missing")
        return self.const(node.input[i], what)

    def const(self, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise Refused(f"its {what} {name!r} is not a constant in the file")
        return self.consts[name]

    def push(self, layer) -> None:
        self.flush_norm()
        self._append(layer)

    def _append(self, layer) -> None:
        layer.index = len(self.layers)
        try:
            shape = tuple(layer.output_shape(self.shape))
        except ValueError as exc:
            raise Refused(str(exc)) from None
        self.layers.append(layer)
        self.shape, self.biasable = shape, False

    def flush_norm(self) -> None:
        if self.norm is not None:
            mean, std = (v.item() if v.ndim == 0 else v.tolist() for v in self.norm)
            self.norm = None
            self._append(Normalize(mean, std))

    def weighted(self, cls, arrays: dict, *args, bias: bool) -> None:
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise Refused("its weights contain NaN or Inf")
        layer = cls(*args, bias=bias, dtype=self.dtype)
        try:
            layer.set_params(arrays)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        self.push(layer)
        self.biasable = True

    def add_bias(self, c: np.ndarray) -> None:
        """Fold ``+ c`` (one value per output channel, or a scalar) into the last layer's bias,
        as exporters write a Conv or MatMul followed by an Add."""
        layer = self.layers[-1]
        cfg = {**layer.get_config(), "bias": True}
        bias = np.broadcast_to(c, (cfg.get("out_channels") or cfg["out_features"],))
        if layer.bias:
            bias = layer.params["b"] + bias.astype(layer.params["b"].dtype)
        fused = layer_from_config(cfg, allocate=False)
        fused.set_params({"W": layer.params["W"], "b": bias})
        fused.index = layer.index
        self.layers[-1] = fused

    def per_channel(self, value: np.ndarray) -> np.ndarray:
        """A normalisation constant as a scalar or one value per channel (axis 1)."""
        if value.size == 1:
            return np.array(float(value.reshape(())), dtype=np.float64)
        full = (1,) * (len(self.shape) + 1 - value.ndim) + value.shape
        if len(full) != len(self.shape) + 1 or full[0] != 1 or full[1] != self.shape[0] or any(
                s != 1 for s in full[2:]):
            raise Refused(f"a constant of shape {value.shape} is not one value per channel "
                           f"for an input of shape {self.shape}")
        return value.reshape(-1).astype(np.float64)

    # ------------------------------------------------------------- nodes
    def add(self, node, data: str, last: bool) -> None:
        op = node.op_type
        attrs = _attrs(node)
        if op in _NORMALIZING:
            return self.arithmetic(node, data)
        if op in ("Softmax", "LogSoftmax"):
            if not last:
                raise Refused("Softmax is only supported as the last operation")
            axis = attrs.get("axis", -1 if self.opset >= 13 else 1)
            if len(self.shape) != 1 or axis not in (1, -1):
                raise Refused(f"only a softmax over the classes of (N, K) is supported (axis {axis})")
            self.flush_norm()
            self.dropped_softmax = op
            return None
        if op in _SIMPLE:
            return self.push(_SIMPLE[op]())
        if op == "LeakyRelu":
            return self.push(LeakyReLU(float(attrs.get("alpha", 0.01))))
        handler = {"Conv": self.conv, "MaxPool": self.pool, "AveragePool": self.pool,
                   "Flatten": self.flatten, "Reshape": self.reshape, "Gemm": self.gemm,
                   "MatMul": self.matmul_node, "Dropout": self.dropout}[op]
        return handler(node, attrs)

    def arithmetic(self, node, data: str) -> None:
        op = node.op_type
        others = [n for n in node.input if n != data]
        if len(node.input) != 2 or len(others) != 1 or (op in ("Sub", "Div") and node.input[0] != data):
            raise Refused(f"only (input {'-' if op == 'Sub' else '/'} constant) is supported"
                           if op in ("Sub", "Div") else "only input and one constant are supported")
        c = self.per_channel(self.const(others[0], "operand"))
        if op == "Add" and self.biasable:
            return self.add_bias(c)
        mean, std = self.norm if self.norm is not None else (np.float64(0.0), np.float64(1.0))
        # (x - m)/s - c = (x - (m + c·s))/s, and so on: Sub then Div stays exact
        if op == "Sub":
            mean = mean + c * std
        elif op == "Add":
            mean = mean - c * std
        elif op == "Div":
            std = std * c
        else:
            std = std / c
        if np.any(~np.isfinite(std)) or np.any(std <= 0) or np.any(~np.isfinite(mean)):
            raise Refused("the constants do not give (x - mean) / std with a positive std")
        self.norm = [np.asarray(mean), np.asarray(std)]
        return None

    def conv(self, node, attrs) -> None:
        w = self.operand(node, 1, "weight")
        if w.ndim != 4:
            raise Refused(f"only 2-D convolutions are supported (weight shape {w.shape})")
        if attrs.get("group", 1) != 1:
            raise Refused(f"grouped convolution (group={attrs['group']}) is not supported")
        k = w.shape[2:]
        if _pair(attrs.get("kernel_shape", k), "kernel_shape", 1) != k:
            raise Refused(f"kernel_shape {attrs['kernel_shape']} does not match the weight {w.shape}")
        stride = _pair(attrs.get("strides"), "strides", 1)
        dilation = _pair(attrs.get("dilations"), "dilations", 1)
        padding = self.conv_padding(attrs, k, stride, dilation)
        b = self.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
        arrays = {"W": w} if b is None else {"W": w, "b": b}
        self.weighted(Conv2D, arrays, w.shape[1], w.shape[0], k, stride, padding, dilation,
                      bias=b is not None)

    def conv_padding(self, attrs, k, stride, dilation) -> tuple[int, int]:
        auto = attrs.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        if auto == "VALID":
            return 0, 0
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            if len(self.shape) != 3:
                raise Refused(f"expects an image input, got shape {self.shape}")
            pads = []
            for size, kk, s, d in zip(self.shape[1:], k, stride, dilation):
                out = -(-size // s)
                total = max((out - 1) * s + d * (kk - 1) + 1 - size, 0)
                if total % 2:
                    raise Refused(f"auto_pad {auto} pads unevenly ({total} pixels); cnnlab pads "
                                   f"both sides equally")
                pads.append(total // 2)
            return pads[0], pads[1]
        if auto != "NOTSET":
            raise Refused(f"auto_pad {auto!r} is not supported")
        pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
            raise Refused(f"pads {pads} are not symmetric (cnnlab pads both sides equally)")
        return pads[0], pads[1]

    def pool(self, node, attrs) -> None:
        if len(self.shape) != 3:
            raise Refused(f"expects an image input (C, H, W), got shape {self.shape}")
        kernel = _pair(attrs.get("kernel_shape"), "kernel_shape", 0)
        stride = _pair(attrs.get("strides"), "strides", 1)
        dilation = _pair(attrs.get("dilations"), "dilations", 1)
        if any(int(p) for p in attrs.get("pads", [])) or dilation != (1, 1):
            raise Refused("padded or dilated pooling is not supported")
        auto = attrs.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else str(auto)) not in ("NOTSET", "VALID"):
            raise Refused(f"auto_pad {auto!r} is not supported for pooling")
        if attrs.get("ceil_mode", 0) and any((size - kk) % s for size, kk, s in
                                             zip(self.shape[1:], kernel, stride)):
            raise Refused("ceil_mode=1 gives a partial window here; cnnlab pools in floor mode")
        cls = MaxPool2D if node.op_type == "MaxPool" else AvgPool2D
        try:
            self.push(cls(kernel, stride))
        except ValueError as exc:
            raise Refused(str(exc)) from None

    def flatten(self, node, attrs) -> None:
        axis = int(attrs.get("axis", 1))
        if axis < 0:
            axis += len(self.shape) + 1
        if axis != 1:
            raise Refused(f"only Flatten(axis=1) to (N, features) is supported (axis {attrs.get('axis')})")
        self.push(Flatten())

    def reshape(self, node, attrs) -> None:
        target = [int(v) for v in self.operand(node, 1, "shape").reshape(-1)]
        features = int(np.prod(self.shape))
        if len(target) != 2 or target[0] not in (0, -1, 1) or target[1] not in (-1, features) or (
                target == [-1, -1]):
            raise Refused(f"only a reshape to (N, {features}) is supported, not {target}")
        self.push(Flatten())

    def gemm(self, node, attrs) -> None:
        if attrs.get("transA", 0):
            raise Refused("transA=1 is not supported")
        b = self.operand(node, 1, "weight")
        if b.ndim != 2:
            raise Refused(f"the weight must be a matrix, got shape {b.shape}")
        w = (b.T if attrs.get("transB", 0) else b) * np.asarray(attrs.get("alpha", 1.0), b.dtype)
        arrays = {"W": w}
        if len(node.input) > 2 and node.input[2]:
            c = self.const(node.input[2], "bias")
            if c.size not in (1, w.shape[1]) or c.ndim > 2:
                raise Refused(f"a bias of shape {c.shape} does not fit {w.shape[1]} outputs")
            arrays["b"] = np.broadcast_to(c.reshape(-1), (w.shape[1],)) * np.asarray(
                attrs.get("beta", 1.0), c.dtype)
        self.weighted(Dense, arrays, w.shape[0], w.shape[1], bias="b" in arrays)

    def matmul_node(self, node, attrs) -> None:
        w = self.operand(node, 1, "weight")
        if w.ndim != 2:
            raise Refused(f"the weight must be a matrix, got shape {w.shape}")
        self.weighted(Dense, {"W": w}, w.shape[0], w.shape[1], bias=False)

    def dropout(self, node, attrs) -> None:
        ratio = attrs.get("ratio", 0.5)
        if self.opset >= 12 and len(node.input) > 1 and node.input[1]:
            ratio = self.const(node.input[1], "ratio").item()
        if len(node.input) > 2 and node.input[2] and bool(self.const(node.input[2], "training_mode").item()):
            raise Refused("training_mode=True is not supported")
        try:
            self.push(Dropout(float(ratio)))
        except ValueError as exc:
            raise Refused(str(exc)) from None

