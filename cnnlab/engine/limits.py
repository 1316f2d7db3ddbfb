"""How big a network may be: the one place the engine and the layer designer agree on.

``LAYER_LIMITS`` bounds every size option of a layer (the designer's spin boxes use the
same ranges, so a file cannot build what the form could not). On top of that a memory
budget is checked *before* anything is allocated: a layer's parameters
(:func:`check_layer_memory`, called before weights are drawn) and a whole model's
parameters plus activations (:func:`check_model_memory`, called when a ``Sequential`` is
built). The estimate counts what training really holds:

- parameters x 4: the weights, their gradients and an optimizer's two moment arrays;
- activations x 2 for a batch of ``REFERENCE_BATCH`` samples: every layer's output
  kept for backward, plus the gradient flowing back through it.
"""

from __future__ import annotations

import math

#: layer type -> option -> (smallest, largest). Pair options (kernel_size, ...) bound both.
LAYER_LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "Conv2D": {"in_channels": (1, 4096), "out_channels": (1, 1024), "kernel_size": (1, 64),
               "stride": (1, 64), "padding": (0, 64), "dilation": (1, 32)},
    "MaxPool2D": {"kernel_size": (1, 64), "stride": (1, 64)},
    "AvgPool2D": {"kernel_size": (1, 64), "stride": (1, 64)},
    "Dense": {"in_features": (1, 10_000_000), "out_features": (1, 100_000)},
}
#: an input image may have at most this many channels and this height/width
MAX_INPUT_CHANNELS = 64
MAX_INPUT_SIDE = 4096
MAX_INPUT_VALUES = 16_000_000
MAX_LAYERS = 200

#: bytes the estimate above may reach (parameters, gradients, optimizer state, activations)
MEMORY_BUDGET_BYTES = 4 * 1024**3
REFERENCE_BATCH = 32
#: the largest model file read back (its weight arrays)
MAX_MODEL_BYTES = 1024**3


class ModelTooLarge(ValueError):
    """A layer or model would need more memory than :data:`MEMORY_BUDGET_BYTES`."""


def limit(kind: str, option: str) -> tuple[int, int]:
    """``(smallest, largest)`` for ``option`` of layer type ``kind``."""
    return LAYER_LIMITS[kind][option]


def check_range(owner: str, kind: str, option: str, values) -> None:
    """ValueError naming ``owner`` when an int (or each of a pair) is outside the limit."""
    bounds = LAYER_LIMITS.get(kind, {}).get(option)
    if bounds is None:
        return
    lo, hi = bounds
    for v in values if isinstance(values, (tuple, list)) else (values,):
        if not lo <= v <= hi:
            raise ValueError(f"{owner}: {option} {v:,} is outside the allowed {lo:,}..{hi:,}")


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB" if n < 10 * 1024**3 else f"{n / 1024**3:,.0f} GiB"


def check_layer_memory(owner: str, n_params: int, itemsize: int) -> None:
    """ModelTooLarge when one layer's parameters (x4, see above) exceed the budget."""
    need = 4 * n_params * itemsize
    if need > MEMORY_BUDGET_BYTES:
        raise ModelTooLarge(f"{owner}: {n_params:,} parameters would need about {_mib(need)} "
                            f"to train (weights, gradients, optimizer state); the limit is "
                            f"{_mib(MEMORY_BUDGET_BYTES)}")


def check_input_shape(shape: tuple[int, ...]) -> None:
    """ValueError for an input shape no lab image has (checked before any layer runs)."""
    if len(shape) == 3 and (shape[0] > MAX_INPUT_CHANNELS or max(shape[1:]) > MAX_INPUT_SIDE):
        raise ValueError(f"Sequential: input_shape {shape} is too large (at most "
                         f"{MAX_INPUT_CHANNELS} channels of {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE})")
    if len(shape) > 3 or math.prod(shape) > MAX_INPUT_VALUES:
        raise ValueError(f"Sequential: input_shape {shape} is too large")


def layer_bytes(n_params: int, output_shape, itemsize: int = 4) -> int:
    """One layer's share of the estimate: 4 x its parameters plus 2 x its output for a
    ``REFERENCE_BATCH`` batch (see the module docstring)."""
    return (4 * n_params + 2 * REFERENCE_BATCH * math.prod(output_shape)) * itemsize


def check_budget(owner: str, total: int, shape) -> None:
    """ModelTooLarge naming ``owner`` when the running estimate ``total`` passes the budget."""
    if total > MEMORY_BUDGET_BYTES:
        raise ModelTooLarge(f"{owner}: the network up to here needs about {_mib(total)} to "
                            f"train a batch of {REFERENCE_BATCH} (output "
                            f"{'x'.join(map(str, shape))}); the limit is {_mib(MEMORY_BUDGET_BYTES)}")


def check_model_memory(layers, shapes, itemsize: int) -> None:
    """ModelTooLarge naming the first layer at which parameters plus the activations of a
    ``REFERENCE_BATCH`` batch pass the budget. ``shapes``: each layer's output shape."""
    total = 0
    for layer, shape in zip(layers, shapes):
        total += layer_bytes(layer.n_params, shape, itemsize)
        check_budget(layer.label, total, shape)
