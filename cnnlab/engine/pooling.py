"""``MaxPool2D`` and ``AvgPool2D`` over ``(N, C, H, W)`` (no parameters), and the array
kernels behind them: max/mean over every window, vectorized over images and channels; the
only Python loops run over the kh·kw positions inside a window."""

from __future__ import annotations

import numpy as np

from cnnlab.engine import parallel, pool2x2
from cnnlab.engine.base import Layer, compact_pair
from cnnlab.engine.functional import conv_output_size


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
        return (conv_output_size(h, kh, self.stride[0]), conv_output_size(w, kw, self.stride[1]))

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
            out, index = max_pool_tiled(x, self.kernel_size, out_hw, self.training)
        else:
            out, index = max_pool_forward(x, self.kernel_size, self.stride, out_hw), None
        if index is not None:
            self._cache = ("tiled", x.shape, (out.shape, index))  # index: who won, uint8
        else:
            self._cache = ("taps", x, out)  # backward finds each window's max again
        return out

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        kind, a, b = self._cache
        expected = b[0] if kind == "tiled" else b.shape
        if grad_out.shape != expected:
            raise self.error(f"gradient of shape {grad_out.shape} does not match the "
                             f"last output {expected}")
        if kind == "tiled":
            return max_pool_tiled_backward(grad_out, b[1], a, self.kernel_size)
        return max_pool_backward(grad_out, a, b, self.kernel_size, self.stride)


class AvgPool2D(_Pool2D):
    """Mean over each window; backward spreads the gradient evenly over the window."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``, same dtype."""
        x, out_hw = self._check(x)
        self._cache = x.shape
        return avg_pool_forward(x, self.kernel_size, self.stride, out_hw)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        if not need_input_grad:
            return None
        return avg_pool_backward(grad_out, self._cache, self.kernel_size, self.stride)


# ------------------------------------------------------------------ window kernels

def _window_slices(offset: int, out: int, stride: int) -> slice:
    """The input positions kernel tap ``offset`` touches for ``out`` outputs."""
    return slice(offset, offset + stride * (out - 1) + 1, stride)


def pool_windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                 out_hw: tuple[int, int]):
    """Yield ``(t, view)`` for every kernel offset ``t = i·kw + j``: ``view`` is the
    ``(N, C, H_out, W_out)`` strided view of ``x`` holding that tap of every window."""
    kh, kw = kernel
    ho, wo = out_hw
    for i in range(kh):
        rows = _window_slices(i, ho, stride[0])
        for j in range(kw):
            yield i * kw + j, x[:, :, rows, _window_slices(j, wo, stride[1])]


def max_pool_forward(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                     out_hw: tuple[int, int]) -> np.ndarray:
    """Max over every window of ``x`` ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``, same
    dtype. Only the max: which element won is worked out again in backward, so
    inference pays for nothing it does not use."""
    taps = pool_windows(x, kernel, stride, out_hw)
    _, first = next(taps)
    second = next(taps, None)
    if second is None:  # a 1x1 window
        return first.copy()
    out = np.maximum(first, second[1])
    for _, view in taps:
        np.maximum(out, view, out=out)
    return out


def max_pool_backward(grad_out: np.ndarray, x: np.ndarray, out: np.ndarray,
                      kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Route ``grad_out`` ``(N, C, H_out, W_out)`` to the maximum of each window of the
    forward input ``x`` (forward output ``out``); returns ``(N, C, H, W)``.

    Taps are visited in row-major window order; the first tap equal to its window's max
    takes the window's whole remaining gradient, so tied maxima send it to exactly one
    element. Overlapping windows accumulate; elements no window covers get zero.
    """
    out_hw = grad_out.shape[2:]
    overlap = stride[0] < kernel[0] or stride[1] < kernel[1]
    covers_all = tuple(stride) == tuple(kernel) and all(  # no overlap and no gaps
        (n - 1) * s + k == size for n, s, k, size in zip(out_hw, stride, kernel, x.shape[2:]))
    # every element is written exactly once when windows tile x: no need to zero first
    grad_in = (np.empty if covers_all else np.zeros)(x.shape, dtype=grad_out.dtype)
    remaining = grad_out.copy()  # (N, C, H_out, W_out): not yet routed
    hit = np.empty(out.shape, dtype=bool)
    routed = np.empty(out.shape, dtype=grad_out.dtype)
    taps = list(zip(pool_windows(x, kernel, stride, out_hw),
                    pool_windows(grad_in, kernel, stride, out_hw)))
    for (_, src), (_, dst) in taps[:-1]:
        np.equal(src, out, out=hit)
        if overlap:
            np.multiply(remaining, hit, out=routed)
            dst += routed
        else:
            routed = np.multiply(remaining, hit, out=dst)
        remaining -= routed
    last = taps[-1][1][1]
    if overlap:
        last += remaining  # whatever no earlier tap took belongs to the last one
    else:
        last[...] = remaining
    return grad_in


def _running_max(views, with_index: bool = True, first_index_dtype=np.uint8):
    """Max over ``views`` (same shape) and the index of the first view holding it
    (None when ``with_index`` is False)."""
    out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
    if not with_index:
        for view in views[2:]:
            np.maximum(out, view, out=out)
        return out, None
    if len(views) == 1:
        return out, np.zeros(out.shape, dtype=first_index_dtype)
    index = np.greater(views[1], views[0]).view(first_index_dtype)  # bool is 0/1
    better = np.empty(out.shape, dtype=bool) if len(views) > 2 else None
    for t, view in enumerate(views[2:], start=2):
        np.greater(view, out, out=better)  # strict: the first maximum keeps a tie
        # index = t where better: t exceeds every index so far, so a max does it without
        # np.copyto(where=), whose branches are slow on unpredictable masks
        np.maximum(index, better.view(first_index_dtype) * first_index_dtype(t), out=index)
        np.maximum(out, view, out=out)
    return out, index


def _route(grad: np.ndarray, index: np.ndarray, targets: list) -> None:
    """Write ``grad`` into ``targets[index]`` and zero into the other targets (all of
    ``grad``'s shape): ``targets[i] = grad * (index == i)``, done by subtraction so the
    last target needs no comparison."""
    hit = np.empty(index.shape, dtype=bool)
    remaining = grad
    for i in range(len(targets) - 1):
        np.equal(index, i, out=hit)
        np.multiply(remaining, hit, out=targets[i])
        rest = targets[i + 1] if i == len(targets) - 2 else None
        remaining = np.subtract(remaining, targets[i], out=rest)
    if len(targets) == 1:
        targets[0][...] = grad


def max_pool_tiled(x: np.ndarray, kernel: tuple[int, int], out_hw: tuple[int, int],
                   with_index: bool = True):
    """Max pooling when the stride equals the kernel (windows tile ``x``; a remainder
    row/column is dropped). Returns ``(out, index)``: ``out`` ``(N, C, H_out, W_out)``,
    ``index = (column index (N, C, kh·H_out, W_out), row index (N, C, H_out, W_out))``
    (uint8) of each window's first maximum in row-major order (a float32 2x2 pool keeps
    ``pool2x2``'s shift codes instead), or None when ``with_index`` is False (inference:
    two passes instead of four).

    Columns are reduced first over views ``x[..., j::kw]``, which NumPy walks as one long
    strided run (no per-row loop), then rows; so a 2x2 pool is four whole-array passes.
    """
    (kh, kw), (ho, wo) = kernel, out_hw
    if (kh, kw) == (2, 2) and x.shape[2:] == (2 * ho, 2 * wo) and x.flags.c_contiguous:
        return pool2x2.forward(x, with_index)
    tiles = x[:, :, :ho * kh, :wo * kw]
    col_max, col_index = _running_max([tiles[..., j::kw] for j in range(kw)],  # (N, C, kh·Ho, Wo)
                                      with_index)
    out, row_index = _running_max([col_max[:, :, i::kh] for i in range(kh)], with_index)
    return out, (col_index, row_index) if with_index else None


def max_pool_tiled_backward(grad_out: np.ndarray, index, input_shape: tuple,
                            kernel: tuple[int, int]) -> np.ndarray:
    """Adjoint of :func:`max_pool_tiled`: each window's gradient goes to its first
    maximum only; returns ``(N, C, H, W)`` (a dropped remainder gets zero)."""
    if isinstance(index, np.ndarray):  # the float32 2x2 pool's shift codes
        return pool2x2.backward(grad_out, index)
    (kh, kw), (ho, wo) = kernel, grad_out.shape[2:]
    col_index, row_index = index
    n, c, h, w = input_shape
    exact = h == ho * kh and w == wo * kw
    grad_in = (np.empty if exact else np.zeros)(input_shape, dtype=grad_out.dtype)
    by_row = np.empty(col_index.shape, dtype=grad_out.dtype)  # (N, C, kh·Ho, Wo)
    tiles = grad_in[:, :, :ho * kh, :wo * kw]

    def route(a, b):  # images a..b-1: rows first, then columns
        _route(grad_out[a:b], row_index[a:b], [by_row[a:b, :, i::kh] for i in range(kh)])
        _route(by_row[a:b], col_index[a:b], [tiles[a:b, ..., j::kw] for j in range(kw)])

    parallel.over_batch(n, grad_in.size, route)
    return grad_in


def avg_pool_forward(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                     out_hw: tuple[int, int]) -> np.ndarray:
    """Mean over every window of ``x`` ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``."""
    kh, kw = kernel
    ho, wo = out_hw
    n, c = x.shape[:2]
    if (kh, kw) == tuple(stride):  # windows tile: one reshape, one reduction
        tiles = x[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
        return tiles.mean(axis=(3, 5), dtype=x.dtype)
    taps = pool_windows(x, kernel, stride, out_hw)
    _, first = next(taps)
    out = first.copy()
    for _, view in taps:
        out += view
    out *= 1.0 / (kh * kw)
    return out


def avg_pool_backward(grad_out: np.ndarray, input_shape: tuple, kernel: tuple[int, int],
                      stride: tuple[int, int]) -> np.ndarray:
    """Spread ``grad_out`` ``(N, C, H_out, W_out)`` evenly over each window; returns
    ``(N, C, H, W)`` (overlapping windows accumulate; a cropped border gets zero)."""
    kh, kw = kernel
    n, c, ho, wo = grad_out.shape
    share = grad_out * (1.0 / (kh * kw))
    if (kh, kw) == tuple(stride):
        grad_in = np.empty(input_shape, dtype=grad_out.dtype)
        if input_shape[2] != ho * kh or input_shape[3] != wo * kw:
            grad_in.fill(0)
        tiles = grad_in[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
        tiles[...] = share[:, :, :, None, :, None]
        return grad_in
    grad_in = np.zeros(input_shape, dtype=grad_out.dtype)
    for _, view in pool_windows(grad_in, kernel, stride, (ho, wo)):
        view += share
    return grad_in
