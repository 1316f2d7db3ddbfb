"""Window geometry of conv and pool layers: output size and receptive field.

For the layer designer's readout of a selected Conv2D / MaxPool2D / AvgPool2D row:
the output-size formula ``floor((H + 2p − d(k−1) − 1) / s) + 1`` with the numbers filled
in, and the receptive field of one output unit on the network's input, computed with the
usual recurrence (Araujo et al., "Computing receptive fields of CNNs", Distill 2019)::

    field_out = field_in + d·(k − 1) · jump_in     jump_out = jump_in · s

``jump`` is the distance, in input pixels, between neighbouring units of a layer's output.
Element-wise layers (activations, Dropout, Normalize) change neither; Flatten and Dense end
the spatial geometry. Pools have padding 0 and dilation 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.engine import functional as F
from cnnlab.engine.layers import layer_from_config
from cnnlab.lab.kernels import output_size_formula

WINDOW_LAYERS = ("Conv2D", "MaxPool2D", "AvgPool2D")
#: Layers after which positions on the input no longer mean anything.
FLATTENING_LAYERS = ("Flatten", "Dense")


@dataclass(frozen=True)
class WindowGeometry:
    """One conv/pool layer's geometry; pairs are ``(rows, columns)`` in pixels.

    ``output_hw`` may be < 1 along an axis: then the window does not fit and the formula
    shows why. ``field`` is the receptive field of one output unit on the network input,
    ``jump`` the input-pixel distance between neighbouring output units.
    """

    index: int
    name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    input_hw: tuple[int, int]
    output_hw: tuple[int, int]
    field: tuple[int, int]
    jump: tuple[int, int]

    @property
    def fits(self) -> bool:
        return min(self.output_hw) >= 1

    @property
    def span(self) -> tuple[int, int]:
        """Input pixels one (dilated) window covers: ``d·(k − 1) + 1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))  # type: ignore[return-value]

    def formula(self, axis: int = 0) -> str:
        """The output-size formula along ``axis`` (0 = height, 1 = width), e.g.
        ``"⌊(28 + 2·1 − 1·(3 − 1) − 1) / 1⌋ + 1 = 28"``."""
        p = self.padding[axis]
        return output_size_formula(self.input_hw[axis], self.kernel[axis], self.stride[axis],
                                   (p, p), self.dilation[axis])


def window_geometry(layer_configs: list[dict], input_shape) -> list[WindowGeometry | None]:
    """One entry per layer config (resolved configs, as ``Sequential.get_config()``
    holds them): a :class:`WindowGeometry` for conv/pool layers whose input size is known,
    None for every other layer. The first layer that does not fit still gets its geometry
    (with ``output_hw`` < 1); layers after it get None, as do layers after a Flatten/Dense
    or a config that cannot be built. ``input_shape`` is ``(C, H, W)`` (no batch axis)."""
    out: list[WindowGeometry | None] = []
    shape: tuple[int, ...] | None = tuple(input_shape)
    spatial = len(shape) == 3
    field, jump = (1, 1), (1, 1)
    for i, cfg in enumerate(layer_configs):
        kind = cfg.get("type") if isinstance(cfg, dict) else None
        layer = None
        if shape is not None:
            try:
                layer = layer_from_config(cfg, allocate=False)
            except ValueError:
                shape = None
        if layer is None or kind not in WINDOW_LAYERS or not spatial:
            out.append(None)
            if layer is not None:
                if kind in FLATTENING_LAYERS:
                    spatial = False
                try:
                    shape = tuple(layer.output_shape(shape))
                except ValueError:
                    shape = None
            continue
        kernel, stride = layer.kernel_size, layer.stride
        padding = getattr(layer, "padding", (0, 0))
        dilation = getattr(layer, "dilation", (1, 1))
        hw = (shape[1], shape[2])
        out_hw = tuple(F.conv_output_size(n, k, s, p, d)
                       for n, k, s, p, d in zip(hw, kernel, stride, padding, dilation))
        field = tuple(r + d * (k - 1) * j for r, k, d, j in zip(field, kernel, dilation, jump))
        jump = tuple(j * s for j, s in zip(jump, stride))
        out.append(WindowGeometry(i, kind, kernel, stride, padding, dilation, hw,
                                  out_hw, field, jump))  # type: ignore[arg-type]
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError:
            shape = None
    return out
