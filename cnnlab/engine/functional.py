"""Array kernels behind the layers: output sizes, im2col / col2im, pooling windows.

Everything here is vectorized over images and pixels. The only Python loops run over
kernel offsets (k·k iterations), each moving a whole ``(N, C, H_out, W_out)`` slab.

Layouts (NCHW throughout):

- ``im2col`` writes columns ``(N, C·kh·kw, H_out·W_out)``, ordered ``(c, i, j)`` to match
  ``W.reshape(C_out, C_in·kh·kw)``, so a convolution is one (batched) BLAS product
  ``W2 @ cols -> (N, C_out, H_out·W_out)`` that is already NCHW: no transpose, no copy.
- ``col2im`` is its adjoint: it adds every column back to the pixel it came from
  (overlapping windows accumulate).
"""

from __future__ import annotations

import numpy as np


def pair(value, what: str = "size") -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5) -> (3, 5)``. Raises ``ValueError`` for anything that is
    not one int or two ints (bools are refused: ``True`` is not a size)."""
    if isinstance(value, (tuple, list)):
        items = tuple(value)
    else:
        items = (value, value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  for v in items):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return int(items[0]), int(items[1])


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length along one axis: ``floor((size + 2p - d(k-1) - 1) / s) + 1``.

    Returns a value < 1 when the (dilated) kernel does not fit the padded input; callers
    turn that into an error message naming their layer.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _window_slices(offset: int, out: int, stride: int) -> slice:
    """The input positions kernel tap ``offset`` touches for ``out`` outputs."""
    return slice(offset, offset + stride * (out - 1) + 1, stride)


def pad_into(x: np.ndarray, padding: tuple[int, int], out: np.ndarray | None = None,
             clean: bool = True) -> np.ndarray:
    """Zero-pad the last two axes of ``x`` ``(N, C, H, W)`` into ``out``
    ``(N, C, H + 2ph, W + 2pw)`` (allocated when None).

    ``clean=False`` skips zeroing the border: use it when ``out`` is a reused buffer whose
    border is known to be zero already (that is the point of reusing it).
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    if out is None:
        out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    elif clean:
        out.fill(0)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int], out_hw: tuple[int, int],
           out: np.ndarray | None = None) -> np.ndarray:
    """Columns of an already padded input.

    xp: ``(N, C, Hp, Wp)``; returns ``(N, C·kh·kw, H_out·W_out)`` in ``xp.dtype``, written
    into ``out`` when given (a reused buffer of exactly that shape).
    """
    n, c = xp.shape[:2]
    kh, kw = kernel
    ho, wo = out_hw
    if out is None:
        out = np.empty((n, c * kh * kw, ho * wo), dtype=xp.dtype)
    cols6 = out.reshape(n, c, kh, kw, ho, wo)  # a view: same memory as `out`
    for i in range(kh):
        rows = _window_slices(i * dilation[0], ho, stride[0])
        for j in range(kw):
            cols6[:, :, i, j] = xp[:, :, rows, _window_slices(j * dilation[1], wo, stride[1])]
    return out


def col2im(cols: np.ndarray, padded_shape: tuple[int, int, int, int],
           kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
           out_hw: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of :func:`im2col`: sum columns ``(N, C·kh·kw, H_out·W_out)`` back into a
    padded image ``padded_shape = (N, C, Hp, Wp)`` (into ``out`` when given; it is
    zeroed first). Overlapping windows accumulate."""
    n, c = padded_shape[:2]
    kh, kw = kernel
    ho, wo = out_hw
    if out is None:
        out = np.zeros(padded_shape, dtype=cols.dtype)
    else:
        out.fill(0)
    cols6 = cols.reshape(n, c, kh, kw, ho, wo)
    for i in range(kh):
        rows = _window_slices(i * dilation[0], ho, stride[0])
        for j in range(kw):
            out[:, :, rows, _window_slices(j * dilation[1], wo, stride[1])] += cols6[:, :, i, j]
    return out


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
                     out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Max over every window of ``x`` ``(N, C, H, W)``.

    Returns ``(out, argmax)``: ``out`` ``(N, C, H_out, W_out)`` in ``x.dtype`` and
    ``argmax`` (same shape, uint8/uint16) holding the window offset ``i·kw + j`` of the
    first maximum, so tied maxima send their gradient to exactly one element.
    """
    taps = pool_windows(x, kernel, stride, out_hw)
    _, first = next(taps)
    out = first.copy()
    index_dtype = np.uint8 if kernel[0] * kernel[1] <= 255 else np.uint16
    argmax = np.zeros(out.shape, dtype=index_dtype)
    better = np.empty(out.shape, dtype=bool)
    for t, view in taps:
        np.greater(view, out, out=better)  # strict: the first maximum wins a tie
        np.copyto(argmax, t, where=better)
        np.maximum(out, view, out=out)
    return out, argmax


def max_pool_backward(grad_out: np.ndarray, argmax: np.ndarray, input_shape: tuple,
                      kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Route ``grad_out`` ``(N, C, H_out, W_out)`` to the max of each window; returns
    ``(N, C, H, W)``. Elements outside every window (a cropped border) get zero."""
    grad_in = np.zeros(input_shape, dtype=grad_out.dtype)
    out_hw = grad_out.shape[2:]
    tiles = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    hit = np.empty(grad_out.shape, dtype=bool)
    for t, view in pool_windows(grad_in, kernel, stride, out_hw):
        np.equal(argmax, t, out=hit)
        if tiles:  # windows do not overlap: every input element is written once
            np.multiply(grad_out, hit, out=view)
        else:  # overlapping windows accumulate
            view += grad_out * hit
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
