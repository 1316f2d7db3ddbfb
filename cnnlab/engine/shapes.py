"""Shape inference for layer configs, for the layer designer: it never raises."""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.engine.layers import layer_from_config


@dataclass(frozen=True)
class ShapeRow:
    """One row of shape inference for the layer designer. ``output_shape`` is None when
    ``error`` says why the layer is invalid (or that it follows an invalid one)."""

    index: int
    name: str
    output_shape: tuple[int, ...] | None
    n_params: int
    weight_shapes: dict[str, tuple[int, ...]]
    error: str | None


def at_position(exc: Exception, name: str, index: int) -> str:
    """``"Conv2D: kernel_size ..."`` from a layer built outside a model, as
    ``"Conv2D #3: kernel_size ..."``."""
    message = str(exc)
    if message.startswith(f"{name}: "):
        message = message[len(name) + 2:]
    return f"{name} #{index}: {message}"


def infer_shapes(layer_configs: list[dict], input_shape) -> list[ShapeRow]:
    """Shape of every layer's output for ``input_shape`` (no batch axis), without
    drawing weights. Never raises for a bad layer: its row carries the error, and the
    rows after it ``error="follows an invalid layer"``."""
    rows: list[ShapeRow] = []
    shape = tuple(input_shape)
    broken = False
    for i, cfg in enumerate(layer_configs):
        name = cfg.get("type", "?") if isinstance(cfg, dict) else "?"
        try:
            layer = layer_from_config(cfg, allocate=False)
        except ValueError as exc:
            # After a broken layer the sizes this one needs are unknown: say so, not why.
            error = "follows an invalid layer" if broken else at_position(exc, name, i)
            rows.append(ShapeRow(i, str(name), None, 0, {}, error))
            broken = True
            continue
        layer.index = i
        n_params, weights = layer.n_params, layer.param_shapes()
        if broken:
            rows.append(ShapeRow(i, layer.name, None, n_params, weights,
                                 "follows an invalid layer"))
            continue
        try:
            shape = layer.output_shape(shape)
        except ValueError as exc:
            rows.append(ShapeRow(i, layer.name, None, n_params, weights, str(exc)))
            broken = True
            continue
        rows.append(ShapeRow(i, layer.name, shape, n_params, weights, None))
    return rows
