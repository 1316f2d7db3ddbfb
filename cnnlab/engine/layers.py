"""Layers, NCHW like PyTorch, and ``layer_from_config``.

``Conv2D`` lives in ``conv.py`` and the pools in ``pooling.py``; everything is importable
from here. Every layer has ``forward(x)``, ``backward(grad_out) -> grad_in``, ``params``,
``grads``, ``training``, ``output_shape(input_shape)``, ``get_config()``, ``n_params``,
``name`` and ``index`` (see ``base.Layer``). Forward and backward keep the dtype of their
input (float32 or float64).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from cnnlab.engine import functional as F
from cnnlab.engine import limits, parallel
from cnnlab.engine.base import Layer, WeightedLayer, positive_int, shape_str
from cnnlab.engine.conv import Conv2D
from cnnlab.engine.pooling import AvgPool2D, MaxPool2D

__all__ = ["Layer", "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "Dense", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "Dropout", "Normalize", "LAYER_TYPES",
           "layer_from_config"]


class Dense(WeightedLayer):
    """``Dense(in_features, out_features, bias=True, *, init="he_normal",
    dtype=np.float32, rng=None)``: ``y = x @ W + b`` with ``W`` ``(in, out)``,
    ``b`` ``(out,)``; input ``(N, in_features)``, output ``(N, out_features)``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 init="he_normal", dtype=np.float32, rng=None):
        super().__init__()
        self._configure(in_features, out_features, bias, init=init, dtype=dtype)
        self.reset_parameters(rng)

    def _configure(self, in_features, out_features, bias=True, *, init="he_normal",
                   dtype=np.float32) -> None:
        self.in_features = positive_int(in_features, "in_features", self.name)
        self.out_features = positive_int(out_features, "out_features", self.name)
        limits.check_range(self.name, self.name, "in_features", self.in_features)
        limits.check_range(self.name, self.name, "out_features", self.out_features)
        self._setup_weights(bias, init, dtype)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {"W": (self.in_features, self.out_features)}
        if self.bias:
            shapes["b"] = (self.out_features,)
        return shapes

    def fans(self) -> tuple[int, int]:
        return self.in_features, self.out_features

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = tuple(input_shape)
        if len(shape) != 1:
            raise self.error(f"expects flat input ({self.in_features},), got shape {shape}; "
                             f"put a Flatten before it")
        if shape[0] != self.in_features:
            raise self.error(f"in_features is {self.in_features} but its input has "
                             f"{shape[0]} features")
        return (self.out_features,)

    def _config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                **self._weight_config()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: ``(N, in_features)`` -> ``(N, out_features)``, same dtype."""
        x = self.check_input(x, 2, f"input (N, {self.in_features})")
        if x.shape[1] != self.in_features:
            raise self.error(f"in_features is {self.in_features} but got input of shape {x.shape}")
        y = x @ self.weight(x.dtype)
        if self.bias:
            y += self.params["b"].astype(x.dtype, copy=False)
        self._x = x  # (N, in_features)
        return y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        """grad_out: ``(N, out_features)``; fills grads, returns ``(N, in_features)``."""
        self.store_grad("W", self._x.T @ grad_out)
        if self.bias:
            self.store_grad("b", grad_out.sum(axis=0))
        if not need_input_grad:
            return None
        return grad_out @ self.weight(grad_out.dtype).T


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C·H·W)`` in NCHW (C-contiguous) order."""

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = tuple(input_shape)
        if len(shape) < 1:
            raise self.error("expects an input with at least one axis besides the batch")
        return (math.prod(shape),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2:
            raise self.error(f"expects a batch (N, ...), got an array of shape {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        return grad_out.reshape(self._shape) if need_input_grad else None


class ReLU(Layer):
    """``max(x, 0)``; the gradient at exactly 0 is 0 (as in PyTorch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        # against an array of zeros, not the scalar 0: NumPy's fast path (see zeros_view)
        y = np.empty(x.shape, dtype=x.dtype)
        zeros = F.zeros_view(x.shape, x.dtype)
        parallel.over_batch(len(x), x.size, lambda a, b: np.maximum(x[a:b], zeros[a:b], out=y[a:b]))
        self._y = y
        return y  # backward's mask is y > 0: nothing extra to store

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        y, grad = self._y, np.empty(grad_out.shape, dtype=grad_out.dtype)
        parallel.over_batch(len(y), y.size, lambda a, b: np.multiply(grad_out[a:b], y[a:b] > 0,
                                                                     out=grad[a:b]))
        return grad


class LeakyReLU(Layer):
    """``x`` where ``x > 0``, else ``negative_slope · x`` (PyTorch default 0.01)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        if not isinstance(negative_slope, Real) or not math.isfinite(negative_slope):
            raise self.error(f"negative_slope must be a finite number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def _config(self) -> dict:
        return {"negative_slope": self.negative_slope}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        # factor: 1 where x > 0, else the slope (exactly: 0/1 arithmetic). Multiplying by it
        # is np.where(x > 0, x, slope·x) without np.where's branches, which are slow on
        # activations' unpredictable signs
        factor = (x > 0).astype(np.result_type(x.dtype, np.float32))
        factor += (1 - factor) * self.negative_slope
        self._factor = factor  # same shape as x; also the local gradient
        return x * factor

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        return grad_out * self._factor


class Tanh(Layer):
    """``tanh(x)``; backward uses the stored output: ``1 - y²``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        return grad_out * (1 - self._y * self._y) if need_input_grad else None


class Sigmoid(Layer):
    """``1 / (1 + e^-x)``, computed without overflow for large ``|x|``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        negative = (x < 0).astype(e.dtype)  # 1 where x < 0, else 0
        # 1/(1+e) for x >= 0, e/(1+e) for x < 0: the numerator picked by 0/1 arithmetic
        # (exact), not np.where, whose branches are slow on unpredictable signs
        self._y = (negative * e + (1 - negative)) / (1 + e)
        return self._y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        return grad_out * (self._y * (1 - self._y)) if need_input_grad else None


class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale
    the rest by ``1 / (1 - p)``; in eval mode, the identity. ``rng`` (a Generator or
    seed) makes the masks reproducible; the Trainer reseeds it from its own seed."""

    def __init__(self, p: float = 0.5, *, rng=None):
        super().__init__()
        if not isinstance(p, Real) or not 0 <= p < 1:
            raise self.error(f"p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(rng)

    def _config(self) -> dict:
        return {"p": self.p}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self._scale = keep * np.asarray(1 / (1 - self.p), dtype=x.dtype)  # 0 or 1/(1-p), x.shape
        return x * self._scale

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        return grad_out if self._scale is None else grad_out * self._scale


STD_RANGE = (1e-6, 1e6)  # Normalize's std: outside it float32 results overflow or vanish


class Normalize(Layer):
    """``(x - mean) / std`` with no parameters. ``mean`` and ``std`` are numbers or one
    value per channel (axis 1). ``Normalize(0.5, 1.0)`` maps [0, 1] images to
    [-0.5, 0.5], so a saved model still takes [0, 1] pixels."""

    def __init__(self, mean=0.0, std=1.0):
        super().__init__()
        self.mean = self._values(mean, "mean")
        self.std = self._values(std, "std")
        if not all(STD_RANGE[0] <= s <= STD_RANGE[1] for s in np.atleast_1d(self.std)):
            # a tiny std overflows float32 (1 / 1e-300 is inf) and every output is NaN
            raise self.error(f"std must be positive, between {STD_RANGE[0]:g} and "
                             f"{STD_RANGE[1]:g}, got {std!r}")
        sizes = {len(v) for v in (self.mean, self.std) if isinstance(v, list)}
        if len(sizes) > 1:
            raise self.error(f"mean has {len(self.mean)} channels but std has {len(self.std)}")
        self.channels = sizes.pop() if sizes else None

    def _values(self, value, what: str):
        if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) \
                and abs(value) <= 1e6:
            return float(value)
        if isinstance(value, (list, tuple, np.ndarray)) and 0 < len(value) <= 4096 and all(
                isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
                and abs(v) <= 1e6 for v in value):
            return [float(v) for v in value]
        raise self.error(f"{what} must be a finite number or one per channel, got {value!r}")

    def _config(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = tuple(input_shape)
        if self.channels is not None and (len(shape) < 1 or shape[0] != self.channels):
            raise self.error(f"has {self.channels} per-channel values but the input is "
                             f"{shape_str(shape)}")
        return shape

    def _stats(self, x: np.ndarray) -> tuple:
        if self.channels is None:
            return self.mean, 1.0 / self.std
        if x.ndim < 2 or x.shape[1] != self.channels:
            raise self.error(f"has {self.channels} per-channel values but got input of "
                             f"shape {x.shape}")
        per_channel = (1, self.channels) + (1,) * (x.ndim - 2)
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(per_channel)
        return mean, (1 / np.asarray(self.std, dtype=x.dtype)).reshape(per_channel)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        mean, inv_std = self._stats(x)
        return (x - mean) * inv_std

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        return grad_out * self._stats(grad_out)[1]


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (Conv2D, MaxPool2D, AvgPool2D, Flatten, Dense, ReLU,
                                  LeakyReLU, Tanh, Sigmoid, Dropout, Normalize)
}


def layer_from_config(cfg: dict, *, allocate: bool = True, rng=None) -> Layer:
    """Build a layer from ``get_config()`` output (``{"type": "Conv2D", ...}``).

    ``allocate=False`` skips drawing weights (``params`` stay empty; shapes and
    ``n_params`` still work), so shape inference on a huge Dense costs nothing.
    ``rng`` seeds the initializer. Raises ``ValueError`` for an unknown type or option.
    """
    if not isinstance(cfg, dict) or not isinstance(cfg.get("type"), str):
        raise ValueError(f"a layer config must be a dict with a 'type', got {cfg!r}")
    kind = cfg["type"]
    cls = LAYER_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(LAYER_TYPES)}")
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    try:
        if issubclass(cls, WeightedLayer):
            if allocate:
                return cls(**kwargs, rng=rng)
            layer = cls.__new__(cls)
            Layer.__init__(layer)
            layer._configure(**kwargs)
            return layer
        return cls(**kwargs)
    except TypeError as exc:  # missing or unknown constructor argument
        raise ValueError(_explain_bad_options(kind, cls, kwargs, exc)) from None


def _explain_bad_options(kind: str, cls, kwargs: dict, exc: TypeError) -> str:
    """``Conv2D: unknown option 'filters' (options: in_channels, out_channels, …)`` rather
    than Python's "unexpected keyword argument" text."""
    import inspect

    target = cls._configure if issubclass(cls, WeightedLayer) else cls.__init__
    params = inspect.signature(target).parameters
    names = [n for n, p in params.items() if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                          p.KEYWORD_ONLY)]
    unknown = [k for k in kwargs if k not in names and k != "rng"]
    missing = [n for n, p in params.items() if n in names and p.default is p.empty
               and n not in kwargs]
    parts = []
    if unknown:
        parts.append(f"unknown option{'s' if len(unknown) > 1 else ''} "
                     + ", ".join(repr(k) for k in unknown))
    if missing:
        parts.append(f"missing {', '.join(repr(k) for k in missing)}")
    if not parts:
        return f"{kind}: bad config {kwargs!r} ({exc})"
    return f"{kind}: {'; '.join(parts)} (options: {', '.join(names) or 'none'})"
