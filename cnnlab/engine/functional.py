"""Array kernels behind ``Conv2D``: the output size, im2col and its adjoint col2im.

A convolution is computed as ONE matrix product over the whole batch:

1. ``pad_flat``: every image becomes a flat row of its zero-padded pixels (``ConvGeometry``
   explains the layout with a worked example);
2. ``im2col``: column ``q`` of the result holds the receptive field of output pixel ``q``,
   rows ordered ``(c, i, j)`` like ``W.reshape(C_out, C_in·kh·kw)``;
3. ``W2 @ cols``: one BLAS call gives every output pixel of every image and filter;
4. ``columns_as_images``: that product read as ``(N, C_out, H_out, W_out)`` (a view).

``col2im`` is im2col's adjoint (backward): it adds every column back onto the pixels it was
copied from, so overlapping windows accumulate. The only Python loops run over the kh·kw
kernel taps, each moving a whole ``(C, N, ·)`` slab. Pooling kernels live in ``pooling.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

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

    The one place this formula lives: convolutions, pooling windows (``padding=0``), the
    Kernels tab and the receptive-field view all call it. ``padding`` is per side; for
    uneven padding pass ``size + before + after`` and ``padding=0``. Returns a value < 1 when
    the (dilated) kernel does not fit the padded input; callers turn that into an error
    message naming their layer.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class ConvGeometry:
    """Sizes and memory layouts of one convolution over ``(N, C, h, w)`` inputs.

    **Padded images** are flat rows ``(N, C, length)`` with row pitch ``pitch``: pixel
    ``(r, c)`` sits at ``offset + r·pitch + c``. Consecutive rows share one run of ``pw``
    zeros (the right padding of a row is the left padding of the next), which is all a
    window ever overhangs, so a row takes ``w + pw`` places instead of ``w + 2pw``.

    **Columns** ``(C·kh·kw, N, col_length)``: output ``(r, s)`` of an image is column
    ``r·col_pitch + s``. With stride 1 every kernel tap ``(i, j)`` is one *flat shift* of the
    padded rows by ``i·pitch + j`` (``col_pitch = pitch``): one contiguous copy per tap,
    nothing per pixel. The ``pitch - W_out`` columns past each output row are *junk* (their
    windows wrap from one row into the next); the matrix product computes them too (about
    ``pw / W_out`` extra work) and callers skip them. Other strides gather dense columns
    (``col_pitch = W_out``, no junk) through a strided view.

    Worked example: one 4×4 channel ``a…p``, 3×3 kernel, padding 1, stride 1. Output 4×4;
    ``pitch = 4 + 1 = 5``, ``offset = 1·5 + 1 = 6`` (where ``a`` sits),
    ``length = (6 - 1)·5 + 6 = 31``. The 6×6 padded image as flat rows of pitch 5::

        padded image     flat positions            values
        0 0 0 0 0 0       0  1  2  3  4            0 0 0 0 0
        0 a b c d 0       5  6  7  8  9            0 a b c d
        0 e f g h 0      10 11 12 13 14            0 e f g h     (10: right of d AND left of e)
        0 i j k l 0      15 16 17 18 19            0 i j k l
        0 m n o p 0      20 21 22 23 24            0 m n o p
        0 0 0 0 0 0      25 26 27 28 29 30         0 0 0 0 0 0

    Columns: ``col_pitch = 5``, ``col_length = (4 - 1)·5 + 4 = 19``. Tap ``(i, j)`` of column
    ``q`` is ``flat[q + 5i + j]``, so the tap's whole row of ``cols`` is the slice
    ``flat[5i + j : 5i + j + 19]``. Column 0 = output (0, 0) reads flat 0,1,2 / 5,6,7 /
    10,11,12 = ``0 0 0 / 0 a b / 0 e f``: the padded window around ``a``. Column 7 = output
    (1, 2) reads ``b c d / f g h / j k l``. Columns 4, 9 and 14 (``s = 4``) are junk: column 4
    reads ``0 0 a / d 0 e / h 0 i``, a window wrapped across rows. So ``cols`` is
    ``(1·9, N, 19)`` with 16 real and 3 junk columns per image; ``W2 @ cols`` is
    ``(C_out, N·19)`` and ``columns_as_images`` reads its 16 real columns as 4×4 outputs.
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
        """True for stride 1: every tap is one flat shift (see the class docstring)."""
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


@lru_cache(maxsize=256)
def conv_geometry(h: int, w: int, kernel: tuple[int, int], stride=(1, 1), padding=(0, 0),
                  dilation=(1, 1)) -> ConvGeometry:
    """The :class:`ConvGeometry` for these sizes, built once and reused: a layer meets the
    same input size every step, and working the layout out again costs more than a
    single-image convolution's copies."""
    return ConvGeometry(h, w, tuple(kernel), tuple(stride), tuple(padding), tuple(dilation))


def strided(base: np.ndarray, offset: int, shape: tuple[int, ...], strides: tuple[int, ...],
            writeable: bool = True) -> np.ndarray:
    """A view of ``base`` with ``shape`` and ``strides`` (bytes) starting ``offset`` elements
    into its memory: ``as_strided``, but made ~3x faster (one image through a conv makes
    several) and, for a C-contiguous ``base``, checked against its memory. Writable when
    ``writeable`` and ``base`` are."""
    if base.flags.c_contiguous:
        view = np.ndarray(shape, base.dtype, buffer=base, offset=offset * base.itemsize,
                          strides=strides)
    else:  # move the start, then lay the view over it
        start = as_strided(base, shape=(offset + 1,), strides=(base.itemsize,))[offset:]
        view = as_strided(start, shape=shape, strides=strides)
    if not (writeable and base.flags.writeable):
        view.flags.writeable = False
    return view


def grid(flat: np.ndarray, start: int, hw: tuple[int, int], pitch: int,
         step: tuple[int, int] = (1, 1)) -> np.ndarray:
    """``(N, C, h, w)`` strided view of flat rows ``(N, C, L)``: element ``(r, c)`` is
    ``flat[..., start + r·step[0]·pitch + c·step[1]]``. Writable when ``flat`` is."""
    n, c, length = flat.shape
    item = flat.itemsize
    return strided(flat, start, (n, c, *hw),
                   (flat.strides[0], flat.strides[1], step[0] * pitch * item, step[1] * item))


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
    grid(out, geo.offset, (geo.h, geo.w), geo.pitch)[...] = x  # pixels only; padding stays 0
    return out


def im2col(x_flat: np.ndarray, geo: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """Columns ``(C·kh·kw, N, geo.col_length)`` of padded flat images ``(N, C,
    geo.length)`` (from :func:`pad_flat`), rows ordered ``(c, i, j)`` like
    ``W.reshape(C_out, -1)``; written into ``out`` when given."""
    n, c, _ = x_flat.shape
    (kh, kw), (dh, dw), length = geo.kernel, geo.dilation, geo.col_length
    if out is None:
        out = np.empty((c * kh * kw, n, length), dtype=x_flat.dtype)
    if geo.shifted:
        # Tap (i, j) reads x_flat[n, c, i·dh·pitch + j·dw + q] for column q: every tap of
        # every channel is one strided view (C, kh, kw, N, L) of x_flat, copied in one call
        sn, sc = x_flat.strides[:2]
        item = x_flat.itemsize
        taps = strided(x_flat, 0, (c, kh, kw, n, length),
                       (sc, dh * geo.pitch * item, dw * item, sn, item), writeable=False)
        out.reshape(c, kh, kw, n, length)[...] = taps  # rows (c, i, j), like W.reshape(C_out, -1)
        return out
    taps = out.reshape(c, kh * kw, n, length)  # (C, kh·kw, N, L) view of `out`
    for i in range(kh):
        for j in range(kw):  # (C, N, H_out, W_out) gathered with the stride
            window = grid(x_flat, i * dh * geo.pitch + j * dw, geo.out_hw, geo.pitch, geo.stride)
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
        out = np.empty((n, c, geo.length), dtype=cols.dtype)
    taps = cols.reshape(c, kh * kw, n, length)  # (C, kh·kw, N, L) view
    by_channel = out.transpose(1, 0, 2)  # (C, N, length) view of `out`
    if geo.shifted:  # tap (0, 0) covers [0, L): copy it rather than zero everything and add
        by_channel[:, :, :length] = taps[:, 0]
        out[:, :, length:] = 0
    else:
        out.fill(0)
    for i in range(kh):
        for j in range(kw):
            start = i * dh * geo.pitch + j * dw
            if geo.shifted:  # (C, N, L) slab added back at its shift
                if i or j:
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
    strided(y, wo, (c, n, ho - 1, pitch - wo),
            (n * length * item, length * item, pitch * item, item))[...] = 0


def columns_as_images(y: np.ndarray, n: int, pitch: int, out_hw: tuple[int, int]) -> np.ndarray:
    """View ``(C, N, L)`` data laid out like :func:`im2col` columns as
    ``(N, C, H_out, W_out)`` (junk columns skipped). A strided view, no copy."""
    c, _, length = y.shape
    item = y.itemsize
    return strided(y, 0, (n, c, *out_hw), (length * item, n * length * item, pitch * item, item))


_ZEROS: dict[np.dtype, np.ndarray] = {}


def zeros_view(shape: tuple[int, ...], dtype) -> np.ndarray:
    """A read-only all-zero array of ``shape``: a view of one shared buffer per dtype,
    grown as needed. ``np.maximum(x, zeros_view(x.shape, x.dtype))`` is ReLU at full
    vector speed; ``np.maximum(x, 0)`` takes NumPy's scalar-operand path, ~4x slower."""
    size = math.prod(shape)
    buf = _ZEROS.get(dtype)
    if buf is None or buf.size < size:
        buf = np.zeros(max(size, 1 << 16), dtype=dtype)
        buf.flags.writeable = False
        _ZEROS[dtype] = buf  # keyed by the dtype as given: np.float32 and dtype('float32')
    return buf[:size].reshape(shape)
