"""``Sequential`` models: shape inference, summary, config, weights and ``.npz`` files.

A model file is one ``.npz`` (no pickles) holding:

- ``config``: the JSON of ``Sequential.get_config()`` as a 0-d unicode array
  (``{"format": "cnnlab.sequential", "version": 1, "input_shape": [...], "layers": [...],
  "dtype": "float32", "meta": {...}}``),
- ``format_version``: the same version number as an int array,
- one array per parameter, keyed ``"{layer index}.{param}"`` (``"0.W"``, ``"0.b"``, …).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np

from cnnlab.engine import limits
from cnnlab.engine.base import Layer, WeightedLayer, float_dtype, positive_int
from cnnlab.engine.layers import layer_from_config
from cnnlab.engine.losses import softmax
from cnnlab.engine.run_order import run_order
from cnnlab.engine.shapes import ShapeRow, at_position, infer_shapes
from cnnlab.files import write_atomically

__all__ = ["Sequential", "load", "ModelFileError", "ShapeRow", "infer_shapes", "as_input",
           "FORMAT", "VERSION"]

FORMAT = "cnnlab.sequential"
VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a readable cnnlab model (wrong format, truncated, bad weights)."""


def as_input(x, dtype) -> np.ndarray:
    """Images as the model's float ``dtype``: uint8 pixels are scaled to [0, 1] (so a full
    uint8 dataset never needs a float copy: call this per batch); floats are cast."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        out = x.astype(dtype)
        out *= 1 / 255
        return out
    return x if x.dtype == dtype else x.astype(dtype)


class Sequential:
    """``Sequential(layers, input_shape, dtype=None)``: layers applied in order.

    ``input_shape`` leaves out the batch axis: ``(C, H, W)`` or ``(features,)``. Shapes are
    inferred at construction, so a misfit raises ``ValueError`` naming the layer, its
    position and the sizes. ``dtype`` (float32/float64) is that of the weights: None
    takes it from the layers (float32 when none has weights); given, the layers' weights
    are cast to it. Inputs are cast to it (uint8 images scaled to [0, 1]).
    """

    def __init__(self, layers, input_shape, dtype=None, meta: dict | None = None):
        self.layers: list[Layer] = list(layers)
        if not self.layers:
            raise ValueError("Sequential: needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise ValueError(f"Sequential: item #{i} is not a layer: {layer!r}")
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else (input_shape,)
        if not shape or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                and s > 0 for s in shape):
            raise ValueError(f"Sequential: input_shape must be positive ints like (1, 28, 28) "
                             f"or (784,), got {input_shape!r}")
        self.input_shape = tuple(int(s) for s in shape)
        limits.check_input_shape(self.input_shape)
        if len(self.layers) > limits.MAX_LAYERS:
            raise ValueError(f"Sequential: {len(self.layers)} layers, at most {limits.MAX_LAYERS}")
        self.dtype = self._common_dtype(dtype)
        if meta is not None and not isinstance(meta, dict):
            raise ValueError(f"Sequential: meta must be a dict, got {type(meta).__name__}")
        self.meta = dict(meta or {})
        self.shapes = []  # output shape of every layer
        for i, layer in enumerate(self.layers):
            layer.index = i  # before output_shape: its errors name the position
            self.shapes.append(shape := layer.output_shape(shape))
        self.output_shape = self.shapes[-1]
        self._order = run_order(self.layers, [self.input_shape, *self.shapes[:-1]])
        limits.check_model_memory(self.layers, self.shapes, self.dtype.itemsize)

    def _common_dtype(self, dtype) -> np.dtype:
        weighted = [layer for layer in self.layers if isinstance(layer, WeightedLayer)]
        if dtype is None:
            found = {layer.dtype for layer in weighted}
            if len(found) > 1:
                raise ValueError("Sequential: layers mix float32 and float64 weights; "
                                 "pass dtype= to cast them to one")
            return found.pop() if found else np.dtype(np.float32)
        dtype = float_dtype(dtype, "Sequential")
        for layer in weighted:
            if layer.dtype != dtype:
                layer.dtype = dtype
                layer.set_params(layer.params)
        return dtype

    # -------------------------------------------------------------- running
    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def train(self, mode: bool = True) -> Sequential:
        """Training mode for every layer (Dropout active)."""
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self) -> Sequential:
        """Inference mode for every layer."""
        return self.train(False)

    @property
    def training(self) -> bool:
        return any(layer.training for layer in self.layers)

    def _batch(self, x) -> np.ndarray:
        x = as_input(x, self.dtype)
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"Sequential: expects input (N, {', '.join(map(str, self.input_shape))}),"
                             f" got shape {x.shape}")
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: ``(N, *input_shape)`` -> ``(N, *output_shape)`` in the model dtype."""
        x = self._batch(x)
        for i in self._order:  # as listed, but ReLU after a following max pool (run_order.py)
            x = self.layers[i].forward(x)
        return x

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        """Back-propagate ``grad_out`` ``(N, *output_shape)`` through every layer (filling
        their grads) and return the input gradient ``(N, *input_shape)``. With
        ``need_input_grad=False`` the layers before the first weighted one are skipped
        and None is returned (what a training step needs)."""
        first = 0
        if not need_input_grad:
            first = next((i for i, layer in enumerate(self.layers) if layer.params),
                         len(self.layers))
        grad = grad_out
        for at in range(len(self.layers) - 1, first - 1, -1):  # forward's order, reversed
            grad = self.layers[self._order[at]].backward(grad, need_input_grad or at > first)
        return grad if need_input_grad else None

    @contextmanager
    def inference_mode(self):
        """``with model.inference_mode():`` every layer in eval mode, then each layer's
        previous mode restored (even after an error); what the forwards kept for a backward
        is dropped on the way out."""
        modes = [layer.training for layer in self.layers]
        self.eval()
        try:
            yield self
        finally:
            for layer, mode in zip(self.layers, modes):
                layer.training = mode
                layer.clear_cache()

    def clear_cache(self, buffers: bool = False) -> None:
        """Drop every layer's forward cache (``buffers=True``: also the training scratch)."""
        for layer in self.layers:
            layer.clear_cache(buffers)

    def _inference(self, x, batch_size: int, fn):
        positive_int(batch_size, "batch_size", "Sequential")
        x = np.asarray(x)
        single = x.ndim == len(self.input_shape)
        if single:
            x = x[None]
        if x.dtype.kind == "f" and x.size and not np.isfinite(x).all():
            raise ValueError("Sequential: the input contains NaN or Inf values")

        def run(batch):
            with np.errstate(over="ignore", invalid="ignore"):
                logits = self.forward(batch)
            if not np.isfinite(logits).all():
                raise ValueError("Sequential: the model's outputs are NaN or Inf for this input (its "
                                 "weights or a Normalize layer are broken); no class can be predicted")
            return fn(logits)

        with self.inference_mode():
            if len(x) == 0:
                self._batch(x)  # still checks the shape
                out = fn(np.zeros((0, *self.output_shape), dtype=self.dtype))
            elif len(x) <= batch_size:
                out = run(x)
            else:
                out = np.concatenate([run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
        return out[0] if single else out

    def predict_proba(self, x, batch_size: int = 256) -> np.ndarray:
        """Softmax of the outputs in inference mode: ``(N, K)`` (``(K,)`` for one sample
        given without the batch axis), model dtype. Runs ``batch_size`` samples at a time."""
        return self._inference(x, batch_size, softmax)

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Predicted class ``(N,)`` int64 (a scalar for one sample without batch axis)."""
        return self._inference(x, batch_size, lambda out: out.argmax(axis=1))

    def activations(self, x) -> list[tuple[int, str, np.ndarray]]:
        """Inference-mode forward of ``x`` (one sample or a batch), returning every
        layer's output as ``(index, layer name, array)``; used for feature maps."""
        x = np.asarray(x)
        if x.ndim == len(self.input_shape):
            x = x[None]
        out = []
        with self.inference_mode():
            a = self._batch(x)
            for layer in self.layers:
                a = layer.forward(a)
                out.append((layer.index, layer.name, a))
        return out

    # ------------------------------------------------------------- weights
    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, keyed ``"{index}.{param}"``."""
        return {f"{i}.{k}": v.copy() for i, layer in enumerate(self.layers)
                for k, v in layer.params.items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy ``weights`` (as from ``get_weights``) into the parameters in place (an
        optimizer holding them keeps working). Every key must be present with its shape."""
        expected = {f"{i}.{k}": (layer, k) for i, layer in enumerate(self.layers)
                    for k in layer.params}
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        if missing or extra:
            raise ValueError(f"Sequential.set_weights: missing {missing or 'none'}, "
                             f"unexpected {extra or 'none'}")
        for key, (layer, name) in expected.items():
            value = np.asarray(weights[key])
            if value.shape != layer.params[name].shape:
                raise layer.error(f"weight {name} must have shape {layer.params[name].shape}, "
                                  f"got {value.shape}")
            if value.dtype.kind not in "fiu":
                raise layer.error(f"weight {name} must be numeric, got {value.dtype}")
            if not np.isfinite(value).all():
                raise layer.error(f"weight {name} contains NaN or Inf")
        for key, (layer, name) in expected.items():
            np.copyto(layer.params[name], weights[key], casting="unsafe")

    def reset_parameters(self, seed=None) -> None:
        """Draw fresh weights for every layer from one seeded generator."""
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            if isinstance(layer, WeightedLayer):
                layer.reset_parameters(rng)

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        """``{"format": "cnnlab.sequential", "version": 1, "input_shape": [...],
        "dtype": "float32", "layers": [...], "meta": {...}}`` (JSON-serializable)."""
        cfg = {"format": FORMAT, "version": VERSION, "input_shape": list(self.input_shape),
               "dtype": self.dtype.name, "layers": [layer.get_config() for layer in self.layers]}
        if self.meta:
            cfg["meta"] = self.meta
        return cfg

    @classmethod
    def from_config(cls, cfg: dict, *, seed=None) -> Sequential:
        """Build a model (fresh weights, drawn with ``seed``) from ``get_config()`` output."""
        # Shapes and the memory budget are checked before any weight is drawn.
        layers = cls._layers_from_config(cfg, allocate=False)
        model = cls(layers, cfg["input_shape"], dtype=cfg.get("dtype"), meta=cfg.get("meta"))
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if isinstance(layer, WeightedLayer):
                layer.reset_parameters(rng)
        return model

    @staticmethod
    def _layers_from_config(cfg, allocate: bool, seed=None) -> list[Layer]:
        if not isinstance(cfg, dict) or cfg.get("format", FORMAT) != FORMAT:
            raise ValueError(f"not a {FORMAT} config: {str(cfg)[:80]!r}")
        version = cfg.get("version", VERSION)
        if type(version) is not int or version > VERSION or version < 1:
            raise ValueError(f"{FORMAT} version {version!r} is not supported "
                             f"(this cnnlab reads version {VERSION})")
        if not isinstance(cfg.get("layers"), list) or "input_shape" not in cfg:
            raise ValueError("a Sequential config needs 'input_shape' and a 'layers' list")
        rng = np.random.default_rng(seed)
        layers = []
        for i, layer_cfg in enumerate(cfg["layers"]):
            try:
                layers.append(layer_from_config(layer_cfg, allocate=allocate, rng=rng))
            except ValueError as exc:
                name = layer_cfg.get("type", "?") if isinstance(layer_cfg, dict) else "?"
                raise ValueError(at_position(exc, name, i)) from None
        return layers

    def copy(self) -> Sequential:
        """An independent deep copy (same config, copied weights) in eval mode."""
        cfg = self.get_config()
        layers = self._layers_from_config(cfg, allocate=False)
        for layer, original in zip(layers, self.layers):
            if isinstance(layer, WeightedLayer):
                layer.set_params(original.params)
        return Sequential(layers, self.input_shape, self.dtype, self.meta).eval()

    # ------------------------------------------------------------- summary
    def summary(self) -> str:
        """A Keras-like table: layer, input shape, output shape, neurons (output values per
        image, the small-framework exercise's count), weight shapes, parameter count."""
        rows = [("#", "Layer", "Input shape", "Output shape", "Neurons", "Weights", "Params"),
                ("", "Input", "", str(self.input_shape), f"{int(np.prod(self.input_shape)):,}", "", "")]
        inputs = [tuple(self.input_shape), *self.shapes[:-1]]
        for layer, shape_in, shape in zip(self.layers, inputs, self.shapes):
            weights = " + ".join(str(s) for s in layer.param_shapes().values())
            rows.append((str(layer.index), layer.name, str(shape_in), str(shape),
                         f"{int(np.prod(shape)):,}", weights, f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(7)]
        lines = ["  ".join(cell.rjust(w) if c in (0, 4, 6) else cell.ljust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))).rstrip()
                 for row in rows]
        rule = "-" * len(max(lines, key=len))
        return "\n".join([lines[0], rule, *lines[1:], rule,
                          f"Total params: {self.n_params:,}"])

    def __repr__(self) -> str:
        return f"Sequential({len(self.layers)} layers, input {self.input_shape}, {self.n_params:,} params)"

    # ---------------------------------------------------------------- files
    def save(self, path) -> None:
        """Write the model to one ``.npz`` file at ``path`` (exactly that name),
        atomically: a temp file in the same folder, then a rename."""
        arrays = {"config": np.array(json.dumps(self.get_config())),
                  "format_version": np.array(VERSION)}
        arrays.update(self.get_weights())
        write_atomically(path, lambda f: np.savez(f, **arrays))


def load(path) -> Sequential:
    """Read a model saved with ``Sequential.save`` (eval mode); FileNotFoundError or
    ModelFileError naming the file. See :func:`cnnlab.engine.model_file.load_model`."""
    from cnnlab.engine.model_file import load_model

    return load_model(path)
