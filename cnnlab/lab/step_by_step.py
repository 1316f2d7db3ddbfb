"""The logic behind the Step by step tab: one layer of the current model, one image, and
the plain loops of :mod:`cnnlab.engine.reference` walked window by window.

    problem = layer_problem(model, image_input, layer_index)   # forward + dZ, float64
    walk = ChannelWalk(problem, channel=0, direction="backward")   # cnnlab.lab.step_walk
    record = walk.step()          # a ConvBackwardStep (or Conv/Pool Forward/Backward step)
    walk.jump_to(row, col); walk.finish()
    check = loops_vs_engine(problem)          # max |loops - engine|, ~1e-16 in float64
    report = sgd_step(model, image_input, lr=0.1, layer_index=0, channel=0)   # step_walk

Everything runs on a float64 copy of the model, in inference mode: nothing here changes
the model it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab.data.preprocess import mnist_from_drawing
from cnnlab.engine import reference
from cnnlab.engine.conv import Conv2D
from cnnlab.engine.losses import SoftmaxCrossEntropy, softmax
from cnnlab.engine.model import Sequential, as_input
from cnnlab.engine.pooling import AvgPool2D, MaxPool2D

#: Layers the tab can step through, and the kind each one is.
KINDS = {Conv2D: "conv", MaxPool2D: "max", AvgPool2D: "avg"}


@dataclass(frozen=True)
class LayerChoice:
    """A steppable layer: ``index`` in the model, ``kind`` "conv", "max" or "avg"."""

    index: int
    kind: str
    text: str  # "#0 Conv2D 3×3, 9 filters · 1×28×28 → 9×26×26"


@dataclass(frozen=True)
class ImageInput:
    """One image for the tab: ``image`` float64 ``(C, H, W)`` in [0, 1], its ``label``."""

    image: np.ndarray
    label: int
    caption: str


def _shape(shape) -> str:
    return "×".join(map(str, shape))


def steppable_layers(model: Sequential) -> list[LayerChoice]:
    """The model's conv and pooling layers, in order."""
    choices, shape = [], model.input_shape
    for i, layer in enumerate(model.layers):
        kind = KINDS.get(type(layer))
        if kind is not None:
            kh, kw = layer.kernel_size
            what = f"{kh}×{kw}, {layer.out_channels} filters" if kind == "conv" else f"{kh}×{kw}"
            choices.append(LayerChoice(i, kind, f"#{i} {layer.name} {what} · {_shape(shape)} → "
                                                f"{_shape(model.shapes[i])}"))
        shape = model.shapes[i]
    return choices


def default_layer(choices: list[LayerChoice]) -> int | None:
    """Index (into ``choices``) of the first conv layer, else the first one, else None."""
    for n, choice in enumerate(choices):
        if choice.kind == "conv":
            return n
    return 0 if choices else None


def drawing_input(drawing: np.ndarray, label: int) -> ImageInput:
    """A canvas drawing (2-D, ink high) as the 1×28×28 MNIST input, with the ``label``
    the student says it is."""
    x = mnist_from_drawing(drawing).astype(np.float64)  # (28, 28)
    return ImageInput(x[None], int(label), f"your drawing, label {label}")


def drawing_or_guess(model: Sequential | None, drawing: np.ndarray | None,
                     label: int | None) -> ImageInput | None:
    """:func:`drawing_input` with ``label``, or with the model's guess when ``label`` is None
    (0 when the model cannot read the drawing); None when there is no ink."""
    if drawing is None or not np.any(drawing):
        return None
    item = drawing_input(drawing, 0 if label is None else label)
    if label is None and model is not None and tuple(model.input_shape) == item.image.shape \
            and len(model.output_shape) == 1:
        item = drawing_input(drawing, int(model.predict(item.image.astype(model.dtype))))
    return item


def dataset_input(images: np.ndarray, labels: np.ndarray, index: int,
                  class_names=None, split: str = "test") -> ImageInput:
    """Image ``index`` of ``images`` (uint8 or float ``(N, C, H, W)``) with its label."""
    if not 0 <= index < len(images):
        raise ValueError(f"image index {index} is outside the {split} set (0…{len(images) - 1})")
    label = int(labels[index])
    name = class_names[label] if class_names is not None else str(label)
    image = as_input(images[index], np.float64)  # uint8 pixels scaled to [0, 1]
    return ImageInput(image, label, f"{split} image {index:,}: {name}")


def input_problem(model: Sequential | None, item: ImageInput | None) -> str | None:
    """Why ``item`` cannot go through ``model`` (a sentence), or None."""
    if model is None:
        return "There is no model yet."
    if item is None:
        return "Pick an input: draw a digit on the Draw tab, or choose a dataset image."
    if tuple(item.image.shape) != tuple(model.input_shape):
        return (f"The current model takes {_shape(model.input_shape)} inputs, but this image is "
                f"{_shape(item.image.shape)}.")
    if len(model.output_shape) != 1 or not 0 <= item.label < model.output_shape[0]:
        return (f"The model's output {_shape(model.output_shape)} cannot be scored against "
                f"label {item.label} with softmax cross-entropy.")
    if not steppable_layers(model):
        return "The current model has no Conv2D or pooling layer to step through."
    return None


def float64_copy(model: Sequential) -> Sequential:
    """An independent float64 copy in inference mode (the loops compare to ~1e-16)."""
    copy = model.copy()
    return Sequential(copy.layers, copy.input_shape, dtype=np.float64, meta=copy.meta).eval()


def forward_backward(model: Sequential, item: ImageInput):
    """Outputs of every layer, the loss, the probabilities, and d loss / d (output of every
    layer); the layers keep their caches and grads from this pass."""
    outputs, a = [], item.image[None]  # (1, C, H, W)
    for layer in model.layers:
        a = layer.forward(a)
        outputs.append(a)
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(a, np.array([item.label]))
    grads = [None] * len(model.layers)
    g = loss_fn.backward()
    for i in range(len(model.layers) - 1, -1, -1):
        grads[i] = g
        g = model.layers[i].backward(g)
    return outputs, loss, softmax(a)[0], grads


@dataclass(frozen=True)
class LayerProblem:
    """One layer set up like the exercise, batch of one image, float64.

    ``a_prev`` (1, C_in, H, W): the layer's input; ``z`` (1, C_out, H_out, W_out): its
    output (the engine's); ``dz``: d loss / d z for ``label``; ``engine_dx``,
    ``engine_dW``, ``engine_db``: the engine's vectorised backward (dW/db None for pooling).
    ``W``, ``b``: the conv weights (None for pooling); ``kernel``, ``stride``, ``padding``
    and ``dilation`` are (h, w) pairs.
    """

    index: int
    kind: str
    name: str
    a_prev: np.ndarray
    z: np.ndarray
    dz: np.ndarray
    W: np.ndarray | None
    b: np.ndarray | None
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    engine_dx: np.ndarray
    engine_dW: np.ndarray | None
    engine_db: np.ndarray | None
    loss: float
    probabilities: np.ndarray
    label: int

    @property
    def channels(self) -> int:
        """Output channels (what the channel picker walks)."""
        return self.z.shape[1]

    @property
    def in_channels(self) -> int:
        return self.a_prev.shape[1]

    @property
    def out_hw(self) -> tuple[int, int]:
        return self.z.shape[2], self.z.shape[3]


def layer_problem(model: Sequential, item: ImageInput, layer_index: int) -> LayerProblem:
    """Run ``item`` through a float64 copy of ``model`` and set up layer ``layer_index``
    (a Conv2D, MaxPool2D or AvgPool2D). Raises ValueError with the reason otherwise."""
    problem = input_problem(model, item)
    if problem:
        raise ValueError(problem)
    net = float64_copy(model)
    layer = net.layers[layer_index]
    kind = KINDS.get(type(layer))
    if kind is None:
        raise ValueError(f"layer #{layer_index} is a {layer.name}, not a Conv2D or pooling layer")
    outputs, loss, probs, grads = forward_backward(net, item)
    a_prev = item.image[None] if layer_index == 0 else outputs[layer_index - 1]
    a_prev = np.asarray(a_prev, dtype=np.float64).copy()
    z, dz = outputs[layer_index].copy(), grads[layer_index].copy()
    layer.forward(a_prev)  # the engine's own backward of exactly this layer, for the check
    engine_dx = layer.backward(dz).copy()
    conv = kind == "conv"
    W = layer.params["W"].copy() if conv else None
    b = (layer.params["b"].copy() if layer.bias else np.zeros(layer.out_channels)) if conv else None
    return LayerProblem(
        layer_index, kind, layer.name, a_prev, z, dz, W, b, layer.kernel_size, layer.stride,
        layer.padding if conv else (0, 0), layer.dilation if conv else (1, 1), engine_dx,
        layer.grads["W"].copy() if conv else None,
        (layer.grads["b"].copy() if layer.bias else dz.sum(axis=(0, 2, 3))) if conv else None,
        loss, probs, item.label)


@dataclass(frozen=True)
class LoopCheck:
    """Max |loops − engine| over the whole layer (every channel) in float64."""

    forward: float
    dx: float
    dW: float | None
    db: float | None

    @property
    def worst(self) -> float:
        return max(v for v in (self.forward, self.dx, self.dW, self.db) if v is not None)

    def describe(self, problem: LayerProblem) -> str:
        """One line of plain text (the panel's label elides it, so no markup):
        ``loops = engine: max |Δ| = 4.4e-16 over all 9 channels…``."""
        parts = [f"forward {self.forward:.1e}", f"dA_prev {self.dx:.1e}"]
        if self.dW is not None:
            parts += [f"dW {self.dW:.1e}", f"db {self.db:.1e}"]
        return (f"loops = engine: max |Δ| = {self.worst:.1e} over all "
                f"{problem.channels} channels of {problem.name} #{problem.index} "
                f"(float64: {', '.join(parts)})")


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


def loops_vs_engine(problem: LayerProblem) -> LoopCheck:
    """The whole layer through the plain loops, compared with the engine's forward output
    and vectorised backward. Slow for big layers (seconds): run it in a job."""
    p = problem
    if p.kind == "conv":
        y = reference.conv_forward(p.a_prev, p.W, p.b, p.stride, p.padding, p.dilation)
        dx, dW, db = reference.conv_backward(p.dz, p.a_prev, p.W, p.stride, p.padding, p.dilation)
        return LoopCheck(_max_diff(y, p.z), _max_diff(dx, p.engine_dx), _max_diff(dW, p.engine_dW),
                         _max_diff(db, p.engine_db))
    y = reference.pool_forward(p.a_prev, p.kernel, p.stride, p.kind)
    dx = reference.pool_backward(p.dz, p.a_prev, p.kernel, p.stride, p.kind)
    return LoopCheck(_max_diff(y, p.z), _max_diff(dx, p.engine_dx), None, None)
