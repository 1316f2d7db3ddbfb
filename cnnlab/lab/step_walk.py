"""Walking one output channel of a :class:`~cnnlab.lab.step_by_step.LayerProblem` window by
window (the records of :mod:`cnnlab.engine.reference`'s traces), and one SGD step of the
whole network on one image, on a copy of the model.

A walk traces one image and one output channel — ``x[:1]`` and ``W[c:c + 1]`` for conv,
``x[:, c:c + 1]`` for pooling — so its records stay small however big the layer is, and
it yields exactly ``H_out·W_out`` records in row-major order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab.engine import reference
from cnnlab.engine.model import Sequential
from cnnlab.engine.optim import SGD
from cnnlab.lab.step_by_step import KINDS, ImageInput, LayerProblem, float64_copy, forward_backward

DIRECTIONS = ("forward", "backward")


class ChannelWalk:
    """``ChannelWalk(problem, channel, direction)``: step through the windows of output
    channel ``channel``; ``record`` is the latest trace record (None before the first)."""

    def __init__(self, problem: LayerProblem, channel: int, direction: str = "forward"):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
        if not 0 <= channel < problem.channels:
            raise ValueError(f"{problem.name} #{problem.index} has output channels "
                             f"0…{problem.channels - 1}, not {channel}")
        self.problem, self.channel, self.direction = problem, channel, direction
        self.total = problem.out_hw[0] * problem.out_hw[1]
        self.restart()

    def _trace(self):
        p, c = self.problem, self.channel
        if p.kind == "conv":
            if self.direction == "forward":
                return reference.trace_conv_forward(p.a_prev, p.W[c:c + 1], p.b[c:c + 1],
                                                    p.stride, p.padding, p.dilation)
            return reference.trace_conv_backward(p.dz[:, c:c + 1], p.a_prev, p.W[c:c + 1],
                                                 p.stride, p.padding, p.dilation)
        x = p.a_prev[:, c:c + 1]
        if self.direction == "forward":
            return reference.trace_pool_forward(x, p.kernel, p.stride, p.kind)
        return reference.trace_pool_backward(p.dz[:, c:c + 1], x, p.kernel, p.stride, p.kind)

    def restart(self) -> None:
        """Back to before the first window."""
        self._steps = self._trace()
        self.position = 0  # records taken so far
        self.record = None

    @property
    def done(self) -> bool:
        return self.position >= self.total

    @property
    def cell(self) -> tuple[int, int] | None:
        """The output cell of the latest record."""
        return None if self.record is None else (self.record.row, self.record.col)

    def done_mask(self) -> np.ndarray:
        """bool ``(H_out, W_out)``: True for the cells computed so far."""
        mask = np.zeros(self.total, dtype=bool)
        mask[:self.position] = True
        return mask.reshape(self.problem.out_hw)

    def step(self):
        """The next record, or None when the channel is finished."""
        if self.done:
            return None
        self.record = next(self._steps)
        self.position += 1
        return self.record

    def jump_to(self, row: int, col: int):
        """Advance (or restart and advance) until output cell (row, col) is the latest."""
        ho, wo = self.problem.out_hw
        if not (0 <= row < ho and 0 <= col < wo):
            raise ValueError(f"output cell ({row}, {col}) is outside the {ho}×{wo} output")
        target = row * wo + col + 1
        if target < self.position:
            self.restart()
        while self.position < target:
            self.step()
        return self.record

    def finish(self):
        """Compute every remaining window of this channel; returns the last record."""
        while not self.done:
            self.step()
        return self.record


def channel_input_grad(problem: LayerProblem, channel: int) -> np.ndarray:
    """The padded dA_prev ``(C_in, H + 2ph, W + 2pw)`` that conv output channel ``channel``
    alone contributes (what its backward walk ends at), vectorised over output cells: each
    kernel tap adds ``W[c, :, tap] · dZ[c]`` to the input cells it touched."""
    p = problem
    (ph, pw), (kh, kw), (sh, sw), (dh, dw) = p.padding, p.kernel, p.stride, p.dilation
    ho, wo = p.out_hw
    out = np.zeros((p.in_channels, p.a_prev.shape[2] + 2 * ph, p.a_prev.shape[3] + 2 * pw))
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + (ho - 1) * sh + 1, sh)
            cols = slice(b * dw, b * dw + (wo - 1) * sw + 1, sw)
            out[:, rows, cols] += p.W[channel, :, a, b, None, None] * p.dz[0, channel]
    return out


@dataclass(frozen=True)
class SgdStepReport:
    """One SGD step on one image (float64, a copy of the model).

    ``names[i]``, ``activations[i]`` (layer i's output for the image, no batch axis) and
    ``gradients[i]`` (d loss / d that output) for every layer; the loss and probabilities
    before and after ``W ← W − lr·dW``; ``kernel_*`` for output channel ``channel`` of conv
    layer ``kernel_layer`` (None when the model has no conv layer): ``(C_in, kh, kw)``.
    """

    names: tuple[str, ...]
    activations: tuple[np.ndarray, ...]
    gradients: tuple[np.ndarray, ...]
    label: int
    lr: float
    loss_before: float
    loss_after: float
    probabilities_before: np.ndarray
    probabilities_after: np.ndarray
    kernel_layer: int | None
    channel: int
    kernel_before: np.ndarray | None
    kernel_grad: np.ndarray | None
    kernel_after: np.ndarray | None


def sgd_step(model: Sequential, item: ImageInput, lr: float, layer_index: int,
             channel: int = 0) -> SgdStepReport:
    """Forward and backward ``item`` through a float64 copy of ``model``, take one plain SGD
    step, and forward again. The kernel shown is that of ``layer_index`` when it is a conv
    layer, else of the first conv layer."""
    net = float64_copy(model)
    outputs, loss, probs, grads = forward_backward(net, item)
    convs = [i for i, layer in enumerate(net.layers) if KINDS.get(type(layer)) == "conv"]
    k = layer_index if layer_index in convs else (convs[0] if convs else None)
    before = grad = after = None
    if k is not None:
        channel = min(max(channel, 0), net.layers[k].out_channels - 1)
        before = net.layers[k].params["W"][channel].copy()
        grad = net.layers[k].grads["W"][channel].copy()
    SGD(net.layers, lr=lr).step()
    if k is not None:
        after = net.layers[k].params["W"][channel].copy()
    _, loss_after, probs_after, _ = forward_backward(net, item)
    return SgdStepReport(
        tuple(f"#{i} {layer.name}" for i, layer in enumerate(net.layers)),
        tuple(o[0].copy() for o in outputs), tuple(g[0].copy() for g in grads), item.label,
        float(lr), loss, loss_after, probs, probs_after, k, channel, before, grad, after)
