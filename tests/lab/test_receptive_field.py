"""Receptive fields and output sizes of conv/pool stacks, checked against back-propagation."""

import numpy as np
import pytest

from cnnlab.engine.layers import AvgPool2D, Conv2D, ReLU
from cnnlab.engine.model import Sequential
from cnnlab.lab.presets import preset_specs, resolve_specs
from cnnlab.lab.receptive_field import window_geometry


def _measured_field(layers, input_shape):
    """Oracle: the input pixels that influence the centre output unit, found by
    back-propagating a one-hot gradient through all-positive weights (float64)."""
    model = Sequential(layers, input_shape, dtype=np.float64)
    for layer in model.layers:
        if "W" in layer.params:
            layer.params["W"][...] = 1.0
    x = np.ones((1, *input_shape))
    out = model.forward(x)
    grad = np.zeros_like(out)
    grad[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    g = model.backward(grad)[0].sum(axis=0)  # (H, W)
    rows, cols = np.nonzero(g)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


STACKS = [
    [dict(k=3, s=1, p=1, d=1)],
    [dict(k=3, s=2, p=0, d=1), dict(k=3, s=1, p=0, d=2)],
    [dict(k=5, s=1, p=2, d=1), "pool2", dict(k=5, s=1, p=2, d=1), "pool2"],
    [dict(k=3, s=1, p=0, d=1), "pool3s2", dict(k=(3, 5), s=(1, 2), p=0, d=(2, 1))],
]


@pytest.mark.parametrize("stack", STACKS)
def test_field_matches_backpropagated_support(stack):
    layers, configs, c = [], [], 1
    for item in stack:
        if item == "pool2":
            layers.append(AvgPool2D(2))
        elif item == "pool3s2":
            layers.append(AvgPool2D(3, stride=2))
        else:
            layers.append(Conv2D(c, 2, item["k"], item["s"], item["p"], item["d"], bias=False,
                                 dtype=np.float64))
            c = 2
        layers.append(ReLU())
        configs += [layers[-2].get_config(), layers[-1].get_config()]
    shape = (1, 41, 41)
    geometry = window_geometry(configs, shape)
    last = [g for g in geometry if g is not None][-1]
    assert last.field == _measured_field(layers, shape)
    model = Sequential(layers, shape)
    assert (1, *last.output_hw) == (1, *model.output_shape[1:])
    assert geometry[1] is None  # the ReLU after the first window layer


def test_lenet_geometry_and_formula_text():
    shape, specs = preset_specs("LeNet-like (32-64 conv, 128 dense)")
    geometry = window_geometry(resolve_specs(specs, shape), shape)
    conv1, pool1, conv2, pool2 = (geometry[i] for i in (0, 2, 3, 5))
    assert conv1.field == (5, 5) and conv1.jump == (1, 1) and conv1.output_hw == (28, 28)
    assert pool1.field == (6, 6) and pool1.jump == (2, 2) and pool1.output_hw == (14, 14)
    assert conv2.field == (14, 14) and conv2.input_hw == (14, 14)
    assert pool2.field == (16, 16) and pool2.jump == (4, 4) and pool2.output_hw == (7, 7)
    assert conv1.formula(0) == "⌊(28 + 2·2 − 1·(5 − 1) − 1) / 1⌋ + 1 = 28"
    assert pool2.formula(1) == "⌊(14 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1 = 7"
    assert all(g is None for g in geometry[6:])  # Flatten, Dense, ...


def test_a_misfit_keeps_its_geometry_and_stops_the_rest():
    configs = [{"type": "MaxPool2D", "kernel_size": 7},  # 28 -> 4
               {"type": "Conv2D", "in_channels": 1, "out_channels": 2, "kernel_size": 9},
               {"type": "MaxPool2D", "kernel_size": 2}]
    geometry = window_geometry(configs, (1, 28, 28))
    bad = geometry[1]
    assert bad.input_hw == (4, 4) and not bad.fits and bad.output_hw == (-4, -4)
    assert bad.formula(0).endswith("= -4")
    assert bad.span == (9, 9)
    assert geometry[2] is None


def test_unbuildable_config_and_flat_input_give_none():
    assert window_geometry([{"type": "Nope"}, {"type": "MaxPool2D", "kernel_size": 2}],
                           (1, 8, 8)) == [None, None]
    assert window_geometry([{"type": "Dense", "in_features": 4, "out_features": 2}], (4,)) == [None]
