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

from dataclasses import dataclass
from functools import cached_property

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


@dataclass(frozen=True)
class ConvGeometry:
    """Sizes and memory layouts of one convolution over ``(N, C, h, w)`` inputs.

    **Padded images** are flat rows ``(N, C, length)`` with row pitch ``pitch``:
    pixel ``(r, c)`` sits at ``offset + r·pitch + c``. Consecutive rows share one run of
    ``pw`` zeros (the right padding of a row is the left padding of the next), which is
    all a window ever overhangs, so rows are ``w + pw`` long instead of ``w + 2pw``.

    **Columns** ``(C·kh·kw, N, col_length)``: output ``(r, s)`` of an image is column
    ``r·col_pitch + s``. With stride 1 every kernel tap is one *flat shift* of the padded
    rows (``col_pitch = pitch``): contiguous copies, nothing per pixel, and the
    ``pitch - W_out`` columns past each output row are junk that callers skip (about
    ``pw / W_out`` extra matmul work). Other strides use dense columns
    (``col_pitch = W_out``) gathered through a strided view.
    """

    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)

    @cached_property
    def out_hw(self) -> tuple[int, int]:
        return tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(
            (self.h, self.w), self.kernel, self.stride, self.padding, self.dilation))

    @cached_property
    def shifted(self) -> bool:
        return tuple(self.stride) == (1, 1)

    @cached_property
    def pitch(self) -> int:
        return max(self.w + self.padding[1], self.out_hw[1])

    @cached_property
    def padded(self) -> bool:
        """False when the padded rows are the image itself (no padding)."""
        return self.pitch != self.w or self.offset != 0

    @cached_property
    def offset(self) -> int:
        """Flat position of pixel (0, 0) in a padded image."""
        return self.padding[0] * self.pitch + self.padding[1]

    @cached_property
    def length(self) -> int:
        """Flat length of a padded image: up to the last element any window reads."""
        hp, wp = self.h + 2 * self.padding[0], self.w + 2 * self.padding[1]
        return (hp - 1) * self.pitch + wp

    @cached_property
    def col_pitch(self) -> int:
        return self.pitch if self.shifted else self.out_hw[1]

    @cached_property
    def col_length(self) -> int:
        ho, wo = self.out_hw
        return (ho - 1) * self.col_pitch + wo


def grid(flat: np.ndarray, start: int, hw: tuple[int, int], pitch: int,
         step: tuple[int, int] = (1, 1)) -> np.ndarray:
    """``(N, C, h, w)`` strided view of flat rows ``(N, C, L)``: element ``(r, c)`` is
    ``flat[..., start + r·step[0]·pitch + c·step[1]]``. Writable when ``flat`` is."""
    n, c, length = flat.shape
    item = flat.itemsize
    base = flat[:, :, start:]
    return as_strided(base, shape=(n, c, *hw),
                      strides=(flat.strides[0], flat.strides[1], step[0] * pitch * item,
                               step[1] * item), writeable=flat.flags.writeable)


def pad_flat(x: np.ndarray, geo: ConvGeometry, out: np.ndarray | None = None,
             clean: bool = True) -> np.ndarray:
    """``x`` ``(N, C, h, w)`` as padded flat rows ``(N, C, geo.length)`` (into ``out``
    when given). ``clean=False`` skips zeroing: use it for a reused buffer whose padding
    is still zero (only the pixels are ever written)."""
    n, c = x.shape[:2]
    if not geo.padded and x.flags.c_contiguous:
        return x.reshape(n, c, geo.length)  # no padding: the image itself, no copy
    if out is None:
        out = np.zeros((n, c, geo.length), dtype=x.dtype)
    elif clean:
        out.fill(0)
    grid(out, geo.offset, (geo.h, geo.w), geo.pitch)[...] = x
    return out


def im2col(x_flat: np.ndarray, geo: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """Columns ``(C·kh·kw, N, geo.col_length)`` of padded flat images ``(N, C,
    geo.length)`` (from :func:`pad_flat`), rows ordered ``(c, i, j)`` like
    ``W.reshape(C_out, -1)``; written into ``out`` when given."""
    n, c, _ = x_flat.shape
    (kh, kw), (dh, dw), length = geo.kernel, geo.dilation, geo.col_length
    if out is None:
        out = np.empty((c * kh * kw, n, length), dtype=x_flat.dtype)
    taps = out.reshape(c, kh * kw, n, length)  # a view: same memory as `out`
    by_channel = x_flat.transpose(1, 0, 2)  # (C, N, L) view
    for i in range(kh):
        for j in range(kw):
            start = i * dh * geo.pitch + j * dw
            if geo.shifted:
                taps[:, i * kw + j] = by_channel[:, :, start:start + length]
            else:
                window = grid(x_flat, start, geo.out_hw, geo.pitch, geo.stride)
                taps[:, i * kw + j].reshape(c, n, *geo.out_hw)[...] = window.transpose(1, 0, 2, 3)
    return out


def col2im(cols: np.ndarray, geo: ConvGeometry, n: int, c: int,
           out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of :func:`im2col`: add columns ``(C·kh·kw, N, col_length)`` back into
    padded flat images ``(N, C, geo.length)`` (into ``out`` when given; zeroed first).
    Overlapping windows accumulate; junk columns must be zero. Take the pixels with
    ``grid(result, geo.offset, (geo.h, geo.w), geo.pitch)``."""
    (kh, kw), (dh, dw), length = geo.kernel, geo.dilation, geo.col_length
    if out is None:
        out = np.zeros((n, c, geo.length), dtype=cols.dtype)
    else:
        out.fill(0)
    taps = cols.reshape(c, kh * kw, n, length)
    by_channel = out.transpose(1, 0, 2)  # (C, N, L) view of `out`
    for i in range(kh):
        for j in range(kw):
            start = i * dh * geo.pitch + j * dw
            if geo.shifted:
                by_channel[:, :, start:start + length] += taps[:, i * kw + j]
            else:
                window = grid(out, start, geo.out_hw, geo.pitch, geo.stride)
                window += taps[:, i * kw + j].reshape(c, n, *geo.out_hw).transpose(1, 0, 2, 3)
    return out


def zero_junk_columns(y: np.ndarray, pitch: int, out_hw: tuple[int, int]) -> None:
    """Zero the junk columns (those past each output row) of ``(C, N, L)`` column-layout
    data; :func:`col2im` and weight gradients need them zero."""
    c, n, length = y.shape
    ho, wo = out_hw
    if pitch == wo or ho < 2:
        return
    item = y.itemsize
    as_strided(y[:, :, wo:], shape=(c, n, ho - 1, pitch - wo),
               strides=(n * length * item, length * item, pitch * item, item))[...] = 0


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
    if len(views) == 2:
        return out, np.greater(views[1], views[0]).view(first_index_dtype)  # bool is 0/1
    index = np.zeros(out.shape, dtype=first_index_dtype)
    if len(views) > 2:
        np.copyto(index, 1, where=views[1] > views[0])
        better = np.empty(out.shape, dtype=bool)
        for t, view in enumerate(views[2:], start=2):
            np.greater(view, out, out=better)  # strict: the first maximum keeps a tie
            np.copyto(index, t, where=better)
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
    (uint8) of each window's first maximum in row-major order, or None when
    ``with_index`` is False (inference: two passes instead of four).

    Columns are reduced first over views ``x[..., j::kw]``, which NumPy walks as one long
    strided run (no per-row loop), then rows; so a 2x2 pool is four whole-array passes.
    """
    (kh, kw), (ho, wo) = kernel, out_hw
    tiles = x[:, :, :ho * kh, :wo * kw]
    col_max, col_index = _running_max([tiles[..., j::kw] for j in range(kw)],  # (N, C, kh·Ho, Wo)
                                      with_index)
    out, row_index = _running_max([col_max[:, :, i::kh] for i in range(kh)], with_index)
    return out, (col_index, row_index) if with_index else None


def max_pool_tiled_backward(grad_out: np.ndarray, index, input_shape: tuple,
                            kernel: tuple[int, int]) -> np.ndarray:
    """Adjoint of :func:`max_pool_tiled`: each window's gradient goes to its first
    maximum only; returns ``(N, C, H, W)`` (a dropped remainder gets zero)."""
    (kh, kw), (ho, wo) = kernel, grad_out.shape[2:]
    col_index, row_index = index
    n, c, h, w = input_shape
    exact = h == ho * kh and w == wo * kw
    grad_in = (np.empty if exact else np.zeros)(input_shape, dtype=grad_out.dtype)
    by_row = np.empty(col_index.shape, dtype=grad_out.dtype)  # (N, C, kh·Ho, Wo)
    _route(grad_out, row_index, [by_row[:, :, i::kh] for i in range(kh)])
    tiles = grad_in[:, :, :ho * kh, :wo * kw]
    _route(by_row, col_index, [tiles[..., j::kw] for j in range(kw)])
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
