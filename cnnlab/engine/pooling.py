"""``MaxPool2D`` and ``AvgPool2D`` over ``(N, C, H, W)``; no parameters."""

from __future__ import annotations

import numpy as np

from cnnlab.engine import functional as F
from cnnlab.engine.base import Layer, compact_pair


class _Pool2D(Layer):
    """Shared shape logic: ``kernel_size`` and ``stride`` (default: the kernel size)
    take an int or an ``(h, w)`` pair; ``H_out = floor((H - k) / s) + 1``. Rows and
    columns that no window reaches (when the windows do not tile) get zero gradient."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = self.size_pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else self.size_pair(stride, "stride")

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        kh, kw = self.kernel_size
        if kh > h or kw > w:
            raise self.error(f"window {kh}x{kw} does not fit input {h}x{w}")
        return ((h - kh) // self.stride[0] + 1, (w - kw) // self.stride[1] + 1)

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise self.error(f"expects input (C, H, W), got shape {shape}")
        return (shape[0], *self._out_hw(shape[1], shape[2]))

    def _config(self) -> dict:
        return {"kernel_size": compact_pair(self.kernel_size),
                "stride": compact_pair(self.stride)}

    def _check(self, x) -> tuple[np.ndarray, tuple[int, int]]:
        x = self.check_input(x, 4, "input (N, C, H, W)")
        return x, self._out_hw(*x.shape[2:])


class MaxPool2D(_Pool2D):
    """Max over each window. Backward sends each window's gradient to its first
    maximum only (ties: exactly one element); overlapping windows accumulate.

    Windows that tile the input (stride = kernel, the usual pool) take a fast path that,
    in training mode, records each window's winner while reducing; otherwise backward
    compares every kernel tap against the max again."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``, same dtype."""
        x, out_hw = self._check(x)
        if self.stride == self.kernel_size:
            # training records the winners; inference only takes the max
            out, index = F.max_pool_tiled(x, self.kernel_size, out_hw, self.training)
        else:
            out, index = F.max_pool_forward(x, self.kernel_size, self.stride, out_hw), None
        if index is not None:
            self._cache = ("tiled", x.shape, index)  # index: winners, uint8
        else:
            self._cache = ("taps", x, out)  # backward finds each window's max again
        return out

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        kind, a, b = self._cache
        expected = b[1].shape if kind == "tiled" else b.shape
        if grad_out.shape != expected:
            raise self.error(f"gradient of shape {grad_out.shape} does not match the "
                             f"last output {expected}")
        if kind == "tiled":
            return F.max_pool_tiled_backward(grad_out, b, a, self.kernel_size)
        return F.max_pool_backward(grad_out, a, b, self.kernel_size, self.stride)


class AvgPool2D(_Pool2D):
    """Mean over each window; backward spreads the gradient evenly over the window."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``, same dtype."""
        x, out_hw = self._check(x)
        self._cache = x.shape
        return F.avg_pool_forward(x, self.kernel_size, self.stride, out_hw)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        return F.avg_pool_backward(grad_out, self._cache, self.kernel_size, self.stride)
