"""Classic networks from the exercises, as editable layer specs.

A *spec* is a layer config without the sizes that follow from the previous layer
(``in_channels`` of a Conv2D, ``in_features`` of a Dense): the layer designer edits
specs and :func:`resolve_specs` fills those sizes in by shape inference, the way
Keras infers input sizes.
"""

from __future__ import annotations

import copy
from math import prod

import numpy as np

from cnnlab.engine.layers import layer_from_config
from cnnlab.engine.model import Sequential

MNIST_SHAPE = (1, 28, 28)
CIFAR_SHAPE = (3, 32, 32)


def _conv(filters, k, padding=0, stride=1, dilation=1, init="he_normal"):
    return {"type": "Conv2D", "out_channels": filters, "kernel_size": k, "stride": stride,
            "padding": padding, "dilation": dilation, "init": init}


def _dense(units, init="he_normal"):
    return {"type": "Dense", "out_features": units, "init": init}


def _pool(k=2):
    return {"type": "MaxPool2D", "kernel_size": k}


_RELU = {"type": "ReLU"}
_FLAT = {"type": "Flatten"}

#: name -> (input shape, layer specs, one-line description)
PRESETS: dict[str, tuple[tuple[int, ...], list[dict], str]] = {
    "Linear softmax (784→10)": (
        MNIST_SHAPE, [_FLAT, _dense(10, "zeros")],
        "multinomial logistic regression: the softmax classifier exercise"),
    "MLP (784→100→10)": (
        MNIST_SHAPE, [_FLAT, _dense(100), _RELU, _dense(10, "glorot_uniform")],
        "one hidden layer of 100 ReLU units"),
    "Conv3x3×9 → MaxPool2 → Softmax": (
        MNIST_SHAPE, [_conv(9, 3, init="glorot_uniform"), _pool(), _FLAT,
                      _dense(10, "glorot_uniform")],
        "the classic conv/pool/softmax net: 9 filters 3×3, valid, no activation"),
    "Conv 3×3×8 pad 1 → ReLU → pool → 100 → 10": (
        MNIST_SHAPE, [_conv(8, 3, padding=1), _RELU, _pool(), _FLAT, _dense(100), _RELU,
                      _dense(10, "glorot_uniform")],
        "a small CNN with a hidden dense layer"),
    "LeNet-like (32-64 conv, 128 dense)": (
        MNIST_SHAPE, [_conv(32, 5, padding=2), _RELU, _pool(), _conv(64, 5, padding=2), _RELU,
                      _pool(), _FLAT, _dense(128), _RELU, _dense(10, "glorot_uniform")],
        "two 5×5 conv blocks and a 128-unit dense layer"),
    "CIFAR-10 net (32-64 conv, 128 dense)": (
        CIFAR_SHAPE, [_conv(32, 3, padding=1), _RELU, _pool(), _conv(64, 3, padding=1), _RELU,
                      _pool(), _FLAT, _dense(128), _RELU, _dense(10, "glorot_uniform")],
        "two 3×3 conv blocks for 32×32 colour images"),
}

DEFAULT_PRESET = "Conv 3×3×8 pad 1 → ReLU → pool → 100 → 10"


def preset_specs(name: str) -> tuple[tuple[int, ...], list[dict]]:
    """``(input_shape, specs)`` of a preset; the specs are a fresh copy to edit."""
    try:
        shape, specs, _ = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
    return tuple(shape), copy.deepcopy(specs)


def resolve_specs(specs: list[dict], input_shape: tuple[int, ...]) -> list[dict]:
    """Fill ``in_channels``/``in_features`` from the shape each layer receives.

    Stops filling at the first layer whose shape cannot be inferred; later layers are
    returned as given, so :func:`cnnlab.engine.model.infer_shapes` reports the error
    on the right row. Returns new dicts; ``specs`` is not modified.
    """
    shape: tuple[int, ...] | None = tuple(input_shape)
    out = []
    for spec in specs:
        cfg = dict(spec)
        if shape is not None:
            if cfg["type"] == "Conv2D" and len(shape) == 3:
                cfg["in_channels"] = shape[0]
            elif cfg["type"] == "Dense":
                cfg["in_features"] = prod(shape)
            try:
                shape = tuple(layer_from_config(cfg).output_shape(shape))
            except (ValueError, TypeError, KeyError):
                shape = None
        out.append(cfg)
    return out


def strip_sizes(configs: list[dict]) -> list[dict]:
    """The inverse of :func:`resolve_specs`: drop the inferred input sizes."""
    return [{k: v for k, v in c.items() if k not in ("in_channels", "in_features")}
            for c in configs]


def build(specs: list[dict], input_shape: tuple[int, ...], seed: int | None = None,
          dtype=None) -> Sequential:
    """A ``Sequential`` from specs (raises ``ValueError`` naming the bad layer).

    ``seed`` makes the initial weights reproducible.
    """
    cfg = {"format": "cnnlab.sequential", "version": 1, "input_shape": list(input_shape),
           "layers": resolve_specs(specs, input_shape)}
    model = Sequential.from_config(cfg) if dtype is None else Sequential.from_config(cfg, dtype=dtype)
    if seed is not None:
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if layer.params:
                layer.reset_parameters(rng)
    return model


def build_preset(name: str, seed: int | None = 0) -> Sequential:
    """The preset ``name`` with freshly initialized weights."""
    shape, specs = preset_specs(name)
    return build(specs, shape, seed=seed)
