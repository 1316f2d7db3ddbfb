"""Models for the interop tests: every engine layer type, with random weights and biases."""

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
from cnnlab.engine.model import Sequential
from cnnlab.lab.presets import PRESETS, build_preset


def randomize(model, seed: int = 0):
    """Random biases (presets start with zero biases, which would hide a bias that is dropped
    or mislaid) and random weights where the initializer left zeros; the initializer's
    scale is kept elsewhere, so logits stay of a realistic size."""
    rng = np.random.default_rng(seed)
    weights = model.get_weights()
    for key, value in weights.items():
        if key.endswith(".b") or not value.any():
            weights[key] = rng.normal(0, 0.1, value.shape)
    model.set_weights(weights)
    return model


def every_layer_model(dtype=np.float32, seed: int = 0) -> Sequential:
    """One of each layer type, with non-square kernels, strides, padding and dilation."""
    layers = [Normalize([0.1, 0.2], [0.5, 2.0]), Conv2D(2, 4, (3, 2), stride=(1, 2), padding=(1, 2),
                                                        dilation=(2, 1), dtype=dtype),
              LeakyReLU(0.1), MaxPool2D((2, 3), stride=(2, 1)), Conv2D(4, 3, 3, bias=False, dtype=dtype),
              Tanh(), AvgPool2D(2), Dropout(0.3), Flatten(), Dense(27, 7, dtype=dtype), Sigmoid(),
              Dense(7, 5, bias=False, dtype=dtype), ReLU(), Normalize(0.5, 3.0), Dense(5, 4, dtype=dtype)]
    return randomize(Sequential(layers, (2, 21, 17), dtype=dtype), seed)


def presets(seed: int = 0):
    """``(name, model)`` for every preset, random weights and biases."""
    return [(name, randomize(build_preset(name, seed=seed), seed)) for name in PRESETS]
