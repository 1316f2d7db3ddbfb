"""Export a cnnlab model as plain PyTorch code plus its weights.

``export_pytorch(model, folder)`` writes ``model.py`` (a readable ``build_model()`` returning a
``torch.nn.Sequential`` whose module ``i`` is cnnlab layer ``i``) and ``weights.safetensors``
(its ``state_dict``). PyTorch is not needed to export, only to run the result.
"""

from __future__ import annotations

from pathlib import Path

from cnnlab import __version__
from cnnlab.engine.base import compact_pair
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
from cnnlab.files import write_atomically
from cnnlab.interop.safetensors_io import save_safetensors

MODEL_FILE = "model.py"
WEIGHTS_FILE = "weights.safetensors"

#: cnnlab layer -> the torch.nn module it becomes
TORCH_MODULES = {Conv2D: "nn.Conv2d", Dense: "nn.Linear", MaxPool2D: "nn.MaxPool2d",
                 AvgPool2D: "nn.AvgPool2d", Flatten: "nn.Flatten", ReLU: "nn.ReLU",
                 LeakyReLU: "nn.LeakyReLU", Tanh: "nn.Tanh", Sigmoid: "nn.Sigmoid",
                 Dropout: "nn.Dropout", Normalize: "Normalize"}

NORMALIZE_MODULE = '''

class Normalize(nn.Module):
    """(x - mean) / std with no parameters, as cnnlab's Normalize: one value, or one per
    channel (axis 1). The values are buffers left out of the state_dict."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float64), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float64), persistent=False)

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)  # per-channel values broadcast over axis 1
        return (x - self.mean.reshape(shape)) / self.std.reshape(shape)
'''


def _size(pair) -> str:
    value = compact_pair(pair)
    return str(value) if isinstance(value, int) else f"({value[0]}, {value[1]})"


def _number(value) -> str:
    return repr(float(value)) if not isinstance(value, list) else "[" + ", ".join(
        repr(float(v)) for v in value) + "]"


def module_code(layer) -> str:
    """The ``torch.nn`` constructor call that mirrors one cnnlab layer, e.g.
    ``nn.Conv2d(1, 8, kernel_size=3, padding=1)``; raises ``ValueError`` for a layer
    PyTorch has no counterpart for here."""
    name = TORCH_MODULES.get(type(layer))
    if name is None:
        raise ValueError(f"{layer.label}: no PyTorch counterpart for {layer.name}")
    args: list[str] = []
    if isinstance(layer, Conv2D):
        args = [str(layer.in_channels), str(layer.out_channels), f"kernel_size={_size(layer.kernel_size)}"]
        for what, default in (("stride", 1), ("padding", 0), ("dilation", 1)):
            value = getattr(layer, what)
            if value != (default, default):
                args.append(f"{what}={_size(value)}")
    elif isinstance(layer, Dense):
        args = [str(layer.in_features), str(layer.out_features)]
    elif isinstance(layer, (MaxPool2D, AvgPool2D)):
        args = [f"kernel_size={_size(layer.kernel_size)}", f"stride={_size(layer.stride)}"]
    elif isinstance(layer, LeakyReLU):
        args = [f"negative_slope={layer.negative_slope!r}"]
    elif isinstance(layer, Dropout):
        args = [f"p={layer.p!r}"]
    elif isinstance(layer, Normalize):
        args = [f"mean={_number(layer.mean)}", f"std={_number(layer.std)}"]
    if getattr(layer, "bias", True) is False:
        args.append("bias=False")
    return f"{name}({', '.join(args)})"


def _clean(text) -> str:
    """One line of file-supplied text made safe inside a docstring."""
    return " ".join(str(text).replace("\\", "/").replace('"""', "'''").split())


def training_lines(training: dict | None) -> list[str]:
    """The docstring's description of how the weights were trained (from the settings
    ``cnnlab train`` records in the model's ``meta["training"]``)."""
    if not training:
        return ["Training settings: none recorded with this model (`cnnlab train` records them)."]
    keys = ("data", "optimizer", "lr", "weight_decay", "epochs", "epochs_done", "batch_size",
            "val_fraction", "seed", "augment")
    parts = [f"{k}={_clean(training[k])}" for k in keys if k in training]
    parts += [f"{_clean(k)}={_clean(v)}" for k, v in training.items() if k not in keys]
    lines, line = ["Training settings in cnnlab:"], " "
    for part in parts:
        if len(line) + len(part) > 88:
            lines.append(line.rstrip(","))
            line = " "
        line += f" {part},"
    lines.append(line.rstrip(","))
    return lines


def model_source(model, training: dict | None = None) -> str:
    """The text of ``model.py`` for ``model`` (see :func:`export_pytorch`)."""
    shape = tuple(model.input_shape)
    meta = model.meta or {}
    name = _clean(meta.get("name") or "A cnnlab model")
    uses_normalize = any(isinstance(layer, Normalize) for layer in model.layers)
    image = "float images" if len(shape) == 3 else "float features"
    doc = [f"{name}, exported from cnnlab {__version__} for PyTorch.", "",
           f"Input: {image} of shape (N, {', '.join(map(str, shape))}); pixels scaled to [0, 1]",
           "(uint8 / 255), exactly what cnnlab feeds the model.",
           f"Output: (N, {', '.join(map(str, model.output_shape))}) logits; softmax gives "
           f"the class probabilities.",
           f"{model.n_params:,} parameters, {model.dtype.name}; module i is cnnlab layer i.", "",
           *training_lines(training if training is not None else meta.get("training")), "",
           "Load the exported weights:", "",
           "    import safetensors.torch",
           "    from model import build_model", "",
           "    model = build_model()",
           f'    model.load_state_dict(safetensors.torch.load_file("{WEIGHTS_FILE}"))',
           "    model.eval()", "",
           "Weights trained further in PyTorch come back into cnnlab to be looked into:", "",
           f'    safetensors.torch.save_file(model.state_dict(), "{WEIGHTS_FILE}")',
           f'    cnnlab.interop.load_safetensors(cnnlab_model, "{WEIGHTS_FILE}")']
    lines = ['"""' + doc[0], *doc[1:], '"""', ""]
    lines += ["import torch", "from torch import nn", "",
              f"INPUT_SHAPE = {shape!r}  # (C, H, W) or (features,), without the batch axis",
              f"DTYPE = torch.{model.dtype.name}  # the dtype of the exported weights"]
    if uses_normalize:
        lines += NORMALIZE_MODULE.rstrip("\n").split("\n")
    lines += ["", "", "def build_model() -> nn.Sequential:",
              '    """The network with fresh weights; load weights.safetensors into it."""',
              "    model = nn.Sequential("]
    for i, (layer, out) in enumerate(zip(model.layers, model.shapes)):
        lines.append(f"        {module_code(layer)},  # {i}: {layer.name} -> {tuple(out)}")
    lines.append("    )")
    lines.append("    return model.to(DTYPE)")
    return "\n".join(lines) + "\n"


def export_pytorch(model, directory, training: dict | None = None) -> Path:
    """Write ``model.py`` and ``weights.safetensors`` for ``model`` into ``directory``
    (created if needed; those two files are replaced atomically) and return the folder.

    ``model.py`` defines ``build_model() -> torch.nn.Sequential`` mirroring the layers one
    to one (a small ``Normalize`` module when the model has one) and states the input shape
    and the training settings (``training``, else the model's ``meta["training"]``) in its
    docstring with how to load the weights. The weights are the PyTorch ``state_dict``:
    ``"0.weight"``, ``"0.bias"``, ... by layer index; ``Linear`` weights are ``(out, in)``."""
    folder = Path(directory)
    source = model_source(model, training).encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    save_safetensors(model, folder / WEIGHTS_FILE)
    write_atomically(folder / MODEL_FILE, lambda f: f.write(source))
    return folder
