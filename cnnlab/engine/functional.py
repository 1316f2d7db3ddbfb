"""Array kernels behind the layers: output sizes, im2col / col2im, pooling windows.

Everything here is vectorized over images and pixels. The only Python loops run over
kernel offsets (k·k iterations), each moving a whole ``(N, C, H_out, W_out)`` slab.

Layouts (NCHW throughout):

- ``im2col`` writes columns ``(C·kh·kw, N, L)``, rows ordered ``(c, i, j)`` to match
  ``W.reshape(C_out, C_in·kh·kw)``, so a convolution is ONE BLAS product
  ``W2 @ cols -> (C_out, N·L)`` over the whole batch (one big GEMM beats N small ones);
  ``columns_as_images`` views that result as NCHW without a copy.
- ``col2im`` is its adjoint: it adds every column back to the pixel it came from
  (overlapping windows accumulate).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


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


def column_layout(padded_hw: tuple[int, int], stride: tuple[int, int],
                  out_hw: tuple[int, int]) -> tuple[int, int]:
    """``(pitch, L)`` of the columns :func:`im2col` makes: output ``(r, s)`` is column
    ``r·pitch + s`` of ``L``.

    With stride 1 every kernel tap is a *flat shift* of the padded image, so a tap's
    columns are one contiguous slice (fast copies, no per-pixel indexing). Rows then
    keep the padded pitch ``Wp``: the ``Wp - W_out`` columns past each output row are
    junk the caller ignores (they cost ``~(k-1)/W_out`` extra matmul work).
    Other strides use a dense layout: ``pitch = W_out``, ``L = H_out·W_out``.
    """
    ho, wo = out_hw
    if tuple(stride) == (1, 1):
        return padded_hw[1], (ho - 1) * padded_hw[1] + wo
    return wo, ho * wo


def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int], out_hw: tuple[int, int],
           out: np.ndarray | None = None) -> np.ndarray:
    """Columns of an already padded input for one matmul per convolution.

    xp: ``(N, C, Hp, Wp)``, C-contiguous. Returns ``(C·kh·kw, N, L)`` in ``xp.dtype`` (rows
    ordered ``(c, i, j)`` like ``W.reshape(C_out, -1)``; ``L`` and the column of each
    output position from :func:`column_layout`), written into ``out`` when given.
    """
    n, c, hp, wp = xp.shape
    kh, kw = kernel
    ho, wo = out_hw
    _, length = column_layout((hp, wp), stride, out_hw)
    if out is None:
        out = np.empty((c * kh * kw, n, length), dtype=xp.dtype)
    cols = out.reshape(c, kh * kw, n, length)  # a view: same memory as `out`
    flat = xp.reshape(n, c, hp * wp).transpose(1, 0, 2)  # (C, N, Hp·Wp) view
    shifted = tuple(stride) == (1, 1)
    for i in range(kh):
        for j in range(kw):
            if shifted:
                start = i * dilation[0] * wp + j * dilation[1]
                cols[:, i * kw + j] = flat[:, :, start:start + length]
            else:
                rows = _window_slices(i * dilation[0], ho, stride[0])
                window = xp[:, :, rows, _window_slices(j * dilation[1], wo, stride[1])]
                cols[:, i * kw + j].reshape(c, n, ho, wo)[...] = window.transpose(1, 0, 2, 3)
    return out


def col2im(cols: np.ndarray, padded_shape: tuple[int, int, int, int],
           kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
           out_hw: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of :func:`im2col`: add columns ``(C·kh·kw, N, L)`` back into a padded
    image ``padded_shape = (N, C, Hp, Wp)`` (into ``out`` when given; zeroed first).
    Overlapping windows accumulate; junk columns must be zero."""
    n, c, hp, wp = padded_shape
    kh, kw = kernel
    ho, wo = out_hw
    _, length = column_layout((hp, wp), stride, out_hw)
    if out is None:
        out = np.zeros(padded_shape, dtype=cols.dtype)
    else:
        out.fill(0)
    taps = cols.reshape(c, kh * kw, n, length)
    flat = out.reshape(n, c, hp * wp).transpose(1, 0, 2)  # (C, N, Hp·Wp) view of `out`
    shifted = tuple(stride) == (1, 1)
    for i in range(kh):
        for j in range(kw):
            if shifted:
                start = i * dilation[0] * wp + j * dilation[1]
                flat[:, :, start:start + length] += taps[:, i * kw + j]
            else:
                rows = _window_slices(i * dilation[0], ho, stride[0])
                window = out[:, :, rows, _window_slices(j * dilation[1], wo, stride[1])]
                window += taps[:, i * kw + j].reshape(c, n, ho, wo).transpose(1, 0, 2, 3)
    return out


def columns_as_images(y: np.ndarray, n: int, pitch: int, out_hw: tuple[int, int]) -> np.ndarray:
    """View ``(C, N, L)`` data laid out like :func:`im2col` columns as
    ``(N, C, H_out, W_out)`` (junk columns skipped). A strided view, no copy."""
    c, _, length = y.shape
    item = y.itemsize
    return as_strided(y, shape=(n, c, *out_hw),
                      strides=(length * item, n * length * item, pitch * item, item),
                      writeable=y.flags.writeable)


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
    covers_all = not overlap and all(
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
