"""PyTorch ``state_dict`` names and layouts of a cnnlab model.

A cnnlab ``Sequential`` maps one to one onto ``torch.nn.Sequential``: the weights of layer
``i`` are ``"{i}.weight"`` and ``"{i}.bias"``. ``Conv2D`` weights have the same layout in
both libraries, ``(C_out, C_in, kh, kw)``. A ``Dense`` ``W`` is ``(in, out)`` in cnnlab
(``y = x @ W + b``) and ``(out, in)`` in ``torch.nn.Linear`` (``y = x @ W.T + b``), so it is
transposed on the way out and back.
"""

from __future__ import annotations

import numpy as np

from cnnlab.engine.layers import Dense

#: cnnlab parameter name -> PyTorch parameter name
TORCH_NAMES = {"W": "weight", "b": "bias"}


def _transposed(layer, key: str) -> bool:
    return key == "W" and isinstance(layer, Dense)


def torch_shapes(model) -> dict[str, tuple[int, ...]]:
    """``{"0.weight": (8, 1, 3, 3), "0.bias": (8,), ...}``: every tensor of the model's
    PyTorch ``state_dict`` with its shape, in layer order."""
    out = {}
    for i, layer in enumerate(model.layers):
        for key, shape in layer.param_shapes().items():
            out[f"{i}.{TORCH_NAMES[key]}"] = tuple(reversed(shape)) if _transposed(layer, key) else shape
    return out


def torch_state_dict(model) -> dict[str, np.ndarray]:
    """The model's weights as a PyTorch ``state_dict`` of C-contiguous NumPy copies
    (model dtype), keyed as in :func:`torch_shapes`."""
    out = {}
    for i, layer in enumerate(model.layers):
        for key, value in layer.params.items():
            array = value.T if _transposed(layer, key) else value
            out[f"{i}.{TORCH_NAMES[key]}"] = np.ascontiguousarray(array).copy()
    return out


def engine_weights(model, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch-named ``tensors`` (already checked against :func:`torch_shapes`) as the
    ``"{index}.{param}"`` dict that ``Sequential.set_weights`` takes."""
    out = {}
    for i, layer in enumerate(model.layers):
        for key in layer.param_shapes():
            array = tensors[f"{i}.{TORCH_NAMES[key]}"]
            out[f"{i}.{key}"] = array.T if _transposed(layer, key) else array
    return out
