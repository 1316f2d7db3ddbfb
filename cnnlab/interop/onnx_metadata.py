"""The cnnlab config stored beside an exported ONNX graph, so a round trip is exact.

ONNX has no place for what only matters to cnnlab (the initializer of each layer, Dropout
layers that inference leaves out, the model's ``meta``). ``export_onnx`` keeps
``Sequential.get_config()`` as the metadata entry ``cnnlab.config``; ``load_onnx`` uses it
only when it describes exactly the layers the graph itself was translated into.
"""

from __future__ import annotations

import json

import numpy as np

from cnnlab.engine.base import WeightedLayer
from cnnlab.engine.model import Sequential

KEY = "cnnlab.config"


def add_config(proto, model) -> None:
    """Store ``model``'s config in the ``onnx.ModelProto``'s metadata."""
    entry = proto.metadata_props.add()
    entry.key, entry.value = KEY, json.dumps(model.get_config())


def _as_float32(value):
    """Numbers as ONNX stores them (float32), so a config compares with its graph."""
    if isinstance(value, list):
        return [_as_float32(v) for v in value]
    if isinstance(value, float):
        return float(np.float32(value))
    return value


def _without_init(cfg: dict) -> dict:
    return {k: _as_float32(v) for k, v in cfg.items() if k != "init"}


def restore_config(proto, model: Sequential) -> Sequential:
    """``model`` rebuilt from the stored cnnlab config when that config, without its
    Dropout layers and initializer names and with its numbers rounded to float32, is
    exactly ``model``'s; otherwise ``model``. The weights always come from the graph."""
    stored = next((p.value for p in proto.metadata_props if p.key == KEY), None)
    if stored is None:
        return model
    try:
        cfg = json.loads(stored)
        mine = model.get_config()
        kept = [c for c in cfg["layers"] if c.get("type") != "Dropout"]
        same = (cfg.get("input_shape") == mine["input_shape"] and cfg.get("dtype") == mine["dtype"]
                and [_without_init(c) for c in kept] == [_without_init(c) for c in mine["layers"]])
        if not same:
            return model
        layers = Sequential._layers_from_config(cfg, allocate=False)
        weighted = iter(layer for layer in model.layers if isinstance(layer, WeightedLayer))
        for layer in layers:
            if isinstance(layer, WeightedLayer):
                layer.set_params(next(weighted).params)
        meta = cfg.get("meta") if isinstance(cfg.get("meta"), dict) else None
        return Sequential(layers, model.input_shape, model.dtype, meta).eval()
    except (ValueError, TypeError, KeyError, AttributeError, StopIteration):
        return model  # a damaged or foreign entry: the graph alone decides
