"""The usual 2x2 max pool (stride 2, even H and W, C-contiguous input) at full vector
speed: the fast path behind ``pooling.max_pool_tiled`` and its backward.

NumPy runs a whole contiguous array as one tight loop, but a view that skips every other
element or row runs as many short loops (~5x slower). So every pass here is contiguous:
the forward computes maxima and comparisons at every position and keeps the ones that
count, and float32 training records each window's winner as a bit shift, so the backward
is one shift of 64-bit words (two float32 at a time) instead of four strided routes.
Results are exactly those of the general path (``pooling._running_max``): a tie goes to
the first maximum in row-major order, NaN never wins a comparison.
"""

from __future__ import annotations

import numpy as np

from cnnlab.engine import parallel


def forward(x: np.ndarray, with_index: bool):
    """``pooling.max_pool_tiled`` for the usual 2x2 pool over a C-contiguous ``x`` with even
    H and W, same results; batch slices run in parallel (:mod:`parallel`). float32
    training records the winners as shift codes (:func:`_winner_shifts`) for the
    bit-level backward; other dtypes as ``(column index, row index)``."""
    n, c, h, w = x.shape
    out = np.empty((n, c, h // 2, w // 2), dtype=x.dtype)
    if not with_index:
        parallel.over_batch(n, x.size, lambda a, b: _slice(x[a:b], out[a:b]))
        return out, None
    if x.dtype == np.float32:
        shifts = np.empty((n, c, h, w // 2), dtype=np.uint8)

        def pool(a, b):
            col, row = np.empty(x[a:b].shape, dtype=bool), np.empty(x[a:b].shape, dtype=bool)
            _slice(x[a:b], out[a:b], col, row)
            _winner_shifts(col, row, out=shifts[a:b])

        parallel.over_batch(n, x.size, pool)
        return out, shifts
    col, row = np.empty(x.shape, dtype=bool), np.empty(x.shape, dtype=bool)
    parallel.over_batch(n, x.size, lambda a, b: _slice(x[a:b], out[a:b], col[a:b], row[a:b]))
    col_index = col.view(np.uint8)[..., 0::2]  # (N, C, H, W/2)
    row_index = row.view(np.uint8)[:, :, 0::2, 0::2]  # (N, C, H/2, W/2)
    return out, (col_index, row_index)


def _slice(x: np.ndarray, out: np.ndarray, col=None, row=None) -> None:
    """The 2x2 pool of C-contiguous ``x`` ``(n, C, H, W)`` into ``out``; with ``col`` and
    ``row`` (bool, ``x``'s shape) also who won. Maxima of *contiguous* shifted copies of
    the flat data run at full vector speed, where every-other-element views take NumPy's
    slow strided path (~5x slower), so it computes more maxima than needed and keeps the
    ones that count:

    - ``pair[p] = max(flat[p], flat[p + 1])``: at even columns, the max of a window's row;
    - ``quad[p] = max(pair[p], pair[p + W])``: at even rows and columns, the window's max;
    - ``col[p] = flat[p + 1] > flat[p]``: the right one won (a tie keeps the left);
    - ``row[p] = pair[p + W] > pair[p]``: the lower row won.

    The last slots of ``pair``/``quad``/``col``/``row`` are never read."""
    n, c, h, w = x.shape
    flat = x.reshape(-1)
    pair, quad = np.empty_like(flat), np.empty_like(flat)
    np.maximum(flat[:-1], flat[1:], out=pair[:-1])
    np.maximum(pair[:-w], pair[w:], out=quad[:-w])
    out[...] = quad.reshape(n, c, h, w)[:, :, 0::2, 0::2]  # (n, C, H/2, W/2)
    if col is not None:
        np.greater(flat[1:], flat[:-1], out=col.reshape(-1)[:-1])
        np.greater(pair[w:], pair[:-w], out=row.reshape(-1)[:-w])


_ROW_PATTERNS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _row_patterns(h: int, half_w: int) -> tuple[np.ndarray, np.ndarray]:
    """``(even, odd)``: ``(H, W/2)`` uint8, 64 on the even (odd) rows and 0 elsewhere."""
    patterns = _ROW_PATTERNS.get((h, half_w))
    if patterns is None:
        even = np.zeros((h, half_w), dtype=np.uint8)
        even[0::2] = 64
        patterns = _ROW_PATTERNS.setdefault((h, half_w), (even, 64 - even))
    return patterns


def _winner_shifts(col: np.ndarray, row: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Encode who won each 2x2 window (``col``/``row`` from :func:`_slice`,
    ``(n, C, H, W)``) as one shift per pair of input columns: ``out`` ``(n, C, H, W/2)``
    uint8 is 32 where the right element of the pair won its row, 0 where the left one did,
    plus 64 in the window's row that lost. Read a pair of float32 as one little-endian
    64-bit word holding the window's gradient in its low half: shifting it left by the
    code puts the gradient on the winner and zero on the other three (NumPy shifts by 64
    or more to 0); that is :func:`backward`'s one pass.

    Every step is a contiguous pass over ``(n, C, H, W/2)`` bytes: viewed as ``<u2``, a
    pair of bools keeps the even column's in its low byte, which the cast to uint8 keeps.
    The upper row lost where ``row`` says so; the lower row lost where the upper row's
    bit (one row up) is 0."""
    n, c, h, w = col.shape
    even, odd = _row_patterns(h, w // 2)
    np.multiply(col.view("<u2").astype(np.uint8), np.uint8(32), out=out)
    upper_lost = row.view("<u2").astype(np.uint8)  # valid on even rows
    lower_lost = np.empty_like(upper_lost)
    flat_up, flat_low = upper_lost.reshape(-1), lower_lost.reshape(-1)
    np.bitwise_xor(flat_up[:-(w // 2)], np.uint8(1), out=flat_low[w // 2:])  # valid on odd rows
    flat_low[:w // 2] = 0
    out += np.multiply(upper_lost, even, out=upper_lost)
    out += np.multiply(lower_lost, odd, out=lower_lost)
    return out


def backward(grad_out: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Adjoint of the float32 2x2 pool: ``grad_out`` ``(N, C, H/2, W/2)``, ``shifts`` from
    :func:`_winner_shifts`; returns ``(N, C, H, W)``. Each window's gradient, as a 64-bit
    word, is repeated for both rows of the window and shifted onto its winner."""
    n, c, ho, wo = grad_out.shape
    words = np.empty((n, c, 2 * ho, wo), dtype="<u8")

    def route(a, b):
        low = grad_out[a:b].view(np.uint32).astype("<u8")  # (n, C, H/2, W/2)
        np.left_shift(np.repeat(low, 2, axis=2), shifts[a:b].astype("<u8"), out=words[a:b])

    parallel.over_batch(n, words.size * 2, route)
    # the low half of each little-endian word is the first float32 of its pair
    return words.view("<f4").astype(grad_out.dtype, copy=False).reshape(n, c, 2 * ho, 2 * wo)
