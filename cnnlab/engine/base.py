"""The ``Layer`` base class and the checks every layer shares.

A layer's ``forward(x)`` stores what its ``backward`` needs and nothing else;
``backward(grad_out)`` fills ``grads`` (in place, same arrays every step, so an optimizer
may hold on to them) and returns the gradient with respect to the input. Shapes passed
to ``output_shape`` leave out the batch axis.
"""

from __future__ import annotations

import math

import numpy as np

from cnnlab.engine import init as initializers
from cnnlab.engine import limits
from cnnlab.engine.functional import pair as pair_of_ints

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype, owner: str) -> np.dtype:
    """``np.dtype`` of ``dtype`` (``np.float32``, ``"float64"``, …); only float32 and
    float64 are accepted."""
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except Exception:  # NumPy's dtype parser raises TypeError, ValueError, KeyError, ...
        dt = None
    if dt is None or dt not in FLOAT_DTYPES:  # (np.dtype("float64") == None is True)
        raise ValueError(f"{owner}: dtype must be float32 or float64, got {dtype!r}")
    return dt


def shape_str(shape) -> str:
    """``(1, 28, 28)`` as ``"1x28x28"`` (an int as itself) for error messages."""
    if isinstance(shape, (int, np.integer)):
        return str(shape)
    return "x".join(str(s) for s in shape)


def compact_pair(pair: tuple[int, int]):
    """``(3, 3) -> 3``, ``(3, 5) -> [3, 5]``: how configs and messages show a size."""
    return pair[0] if pair[0] == pair[1] else [pair[0], pair[1]]


def positive_int(value, what: str, owner: str, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum`` or a ``ValueError`` naming ``owner``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{owner}: {what} must be {kind}, got {value!r}")
    return int(value)


_KEPT = ("_buffers", "_buffer_shapes")  # what clear_cache keeps unless asked for buffers


def _holds_array(value) -> bool:
    """True for an array, or a tuple/list/dict with an array among its items."""
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value)


class Layer:
    """Base class: ``params``/``grads`` dicts, a ``training`` flag, an ``index`` (its
    position in a ``Sequential``, or None) and the config / shape protocol."""

    #: names of the arrays in ``params`` (layers with weights override it)
    param_names: tuple[str, ...] = ()

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self.index: int | None = None
        self._buffers: dict[str, np.ndarray] = {}  # scratch space reused between steps
        self._buffer_shapes: dict[str, tuple[int, ...]] = {}

    # ------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        """The class name, e.g. ``"Conv2D"``."""
        return type(self).__name__

    @property
    def label(self) -> str:
        """``"Conv2D #2"`` inside a Sequential, ``"Conv2D"`` on its own (for messages)."""
        return self.name if self.index is None else f"{self.name} #{self.index}"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{self.name}({args})"

    def error(self, message: str) -> ValueError:
        """A ``ValueError`` whose message starts with this layer's label."""
        return ValueError(f"{self.label}: {message}")

    # -------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Layer:
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    # --------------------------------------------------------- the protocol
    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):  # pragma: no cover
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Output shape for an input of ``input_shape`` (both without the batch axis);
        raises ``ValueError`` naming the layer and the sizes when they do not fit."""
        return tuple(int(s) for s in input_shape)

    def _config(self) -> dict:
        """Constructor arguments as JSON values (subclasses extend)."""
        return {}

    def get_config(self) -> dict:
        """``{"type": "Conv2D", "in_channels": 1, ...}``: JSON-serializable; feeding it to
        ``layer_from_config`` builds the same layer (with fresh weights)."""
        return {"type": self.name, **self._config()}

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter array, known before (or without) allocating them."""
        return {}

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(math.prod(s) for s in self.param_shapes().values())

    # ----------------------------------------------------------- helpers
    def size_pair(self, value, what: str, minimum: int = 1) -> tuple[int, int]:
        """An int or ``(h, w)`` pair of ints ≥ ``minimum`` (and within the layer's
        :data:`~cnnlab.engine.limits.LAYER_LIMITS`) as a pair, or a ValueError naming
        this layer."""
        try:
            pair = pair_of_ints(value, what)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        if min(pair) < minimum:
            bound = "positive" if minimum == 1 else f">= {minimum}"
            raise self.error(f"{what} must be {bound}, got {value!r}")
        limits.check_range(self.label, self.name, what, pair)
        return pair

    def check_input(self, x, ndim: int, what: str) -> np.ndarray:
        """``x`` as a float array of rank ``ndim`` (other dtypes are converted);
        raises a ``ValueError`` that names the layer and says what it expected."""
        x = np.asarray(x)
        if x.ndim != ndim:
            raise self.error(f"expects {what}, got an array of shape {x.shape}")
        if x.dtype not in FLOAT_DTYPES:  # ints, bools, float16: compute in the weights' dtype
            x = x.astype(getattr(self, "dtype", np.float32))
        return x

    def clear_cache(self, buffers: bool = False) -> None:
        """Forget what the last ``forward`` kept for ``backward`` (inputs, masks, im2col
        columns: every private attribute holding arrays), and with ``buffers=True`` the
        reusable scratch too, so an idle or eval-mode layer holds only its parameters."""
        attrs = vars(self)
        for key in [key for key, value in attrs.items()
                    if key[:1] == "_" and key not in _KEPT and _holds_array(value)]:
            del attrs[key]
        if buffers:
            self._buffers.clear()
            self._buffer_shapes.clear()

    def scratch(self, key: str, shape: tuple[int, ...], dtype) -> tuple[np.ndarray, bool]:
        """A reusable buffer of ``shape``/``dtype`` and whether it is freshly (re)made.

        Big fresh allocations cost page faults on every step, so im2col columns and
        padded images live in buffers that grow only when a larger batch arrives.
        """
        size = math.prod(shape)
        buf = self._buffers.get(key)
        fresh = buf is None or buf.dtype != dtype or buf.size < size
        if fresh:
            buf = np.empty(size, dtype=dtype)
            self._buffers[key] = buf
        fresh = fresh or self._buffer_shapes.get(key) != shape
        self._buffer_shapes[key] = shape
        return buf[:size].reshape(shape), fresh


class WeightedLayer(Layer):
    """A layer with ``W`` (and optionally ``b``) created at construction from an
    initializer; ``dtype`` is the dtype of its parameters (float32 unless asked)."""

    def _setup_weights(self, bias: bool, init, dtype) -> None:
        if not isinstance(bias, (bool, np.bool_)):
            raise ValueError(f"{self.label}: bias must be True or False, got {bias!r}")
        self.bias = bool(bias)
        self.init = initializers.get_initializer(init)
        self.dtype = float_dtype(dtype, self.name)
        self.param_names = ("W", "b") if self.bias else ("W",)
        limits.check_layer_memory(self.label, self.n_params, self.dtype.itemsize)

    def fans(self) -> tuple[int, int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_parameters(self, rng=None) -> None:
        """Draw new weights from the layer's initializer (bias: zeros). ``rng`` is a
        ``np.random.Generator``, a seed, or None for fresh entropy."""
        rng = np.random.default_rng(rng)
        shapes = self.param_shapes()
        fan_in, fan_out = self.fans()
        arrays = {"W": self.init(shapes["W"], fan_in, fan_out, rng, self.dtype)}
        if self.bias:
            arrays["b"] = np.zeros(shapes["b"], dtype=self.dtype)
        if self.params:
            self.set_params(arrays)  # in place: an optimizer holding them sees the new values
        else:  # first draw: keep the fresh arrays rather than copying them
            self.params.update(arrays)
            self.grads.update({k: np.zeros_like(v) for k, v in arrays.items()})

    def set_params(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy ``arrays`` (cast to the layer dtype) into the parameters and zero the
        gradients; existing arrays of the right dtype are overwritten in place, so
        anything holding them sees the new values. Checks names and shapes."""
        shapes = self.param_shapes()
        if set(arrays) != set(shapes):
            raise self.error(f"expected parameters {sorted(shapes)}, got {sorted(arrays)}")
        for key, shape in shapes.items():
            if tuple(np.shape(arrays[key])) != shape:
                raise self.error(f"parameter {key} must have shape {shape}, "
                                 f"got {tuple(np.shape(arrays[key]))}")
        for key in self.param_names:
            current = self.params.get(key)
            if current is not None and current.dtype == self.dtype:
                np.copyto(current, arrays[key], casting="unsafe")
                self.grads[key].fill(0)
            else:
                self.params[key] = np.array(arrays[key], dtype=self.dtype)
                self.grads[key] = np.zeros_like(self.params[key])

    def weight(self, dtype) -> np.ndarray:
        """``params["W"]`` in the compute dtype (a cast copy only when they differ)."""
        w = self.params["W"]
        return w if w.dtype == dtype else w.astype(dtype)

    def store_grad(self, key: str, value: np.ndarray) -> None:
        """Write ``value`` into ``grads[key]`` in place (cast to the layer dtype)."""
        np.copyto(self.grads[key], value.reshape(self.grads[key].shape), casting="same_kind")

    def _weight_config(self) -> dict:
        return {"bias": self.bias, "init": self.init.spec, "dtype": self.dtype.name}
