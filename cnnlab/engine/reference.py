"""Convolution and pooling as plain Python loops: the "step by step" homework, kept
beside the fast path (``conv.py``, ``pooling.py``) as its oracle and its explanation.

Every function loops over images, output rows, output columns and filters, exactly as
the textbook exercise writes it, and uses NumPy only inside one window. Arrays are NCHW,
kernels ``W`` are ``(C_out, C_in, kh, kw)`` (PyTorch's layout); ``stride``, ``padding``,
``dilation`` and ``kernel`` take an int or an ``(h, w)`` pair. Results keep the inputs'
float dtype. Slow (one Python iteration per output value), obviously right, and tested
against the engine to 1e-12.

The ``trace_*`` generators take the same arguments as the function each traces and yield
one frozen record per window step (where the window is, what it holds, the kernel, and the
partial results so far): the Step by step tab animates exactly these. Each record carries
*copies* of the running arrays, so trace one image and one filter at a time
(``x[i:i + 1]``, ``W[c:c + 1]``) when the layer is big.
"""

from __future__ import annotations

import numpy as np

from cnnlab.engine.functional import conv_output_size
from cnnlab.engine.reference_steps import (
    ConvBackwardStep,
    ConvForwardStep,
    PoolBackwardStep,
    PoolForwardStep,
)

__all__ = ["zero_pad", "conv_single_step", "conv_forward", "conv_backward", "create_mask",
           "distribute_value", "pool_forward", "pool_backward", "trace_conv_forward",
           "trace_conv_backward", "trace_pool_forward", "trace_pool_backward",
           "ConvForwardStep", "ConvBackwardStep", "PoolForwardStep", "PoolBackwardStep"]


def _pair(value, what: str, minimum: int) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(2, 1)`` stays; anything else is a ValueError naming ``what``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ValueError(f"reference: {what} must be an int >= {minimum} or an (h, w) pair "
                         f"of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _float_dtype(*arrays) -> np.dtype:
    dtype = np.result_type(*arrays)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def zero_pad(x: np.ndarray, pad) -> np.ndarray:
    """x ``(N, C, H, W)`` with ``pad`` zeros added on each side of H and W:
    ``(N, C, H + 2·ph, W + 2·pw)``, same dtype."""
    ph, pw = _pair(pad, "padding", 0)
    x = np.asarray(x)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant", constant_values=0)


def _taps(out_index: int, kernel: int, stride: int, dilation: int) -> slice:
    """The input rows (or columns) one window reads: ``kernel`` taps, ``dilation`` apart,
    starting ``stride`` steps in."""
    start = out_index * stride
    return slice(start, start + dilation * (kernel - 1) + 1, dilation)


def _conv_setup(x, W, stride, padding, dilation):
    x, W = np.asarray(x), np.asarray(W)
    if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
        raise ValueError(f"reference conv: needs x (N, C, H, W) and W (C_out, C, kh, kw), "
                         f"got x {x.shape} and W {W.shape}")
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    (dh, dw) = _pair(dilation, "dilation", 1)
    kh, kw = W.shape[2:]
    ho = conv_output_size(x.shape[2], kh, sh, ph, dh)
    wo = conv_output_size(x.shape[3], kw, sw, pw, dw)
    if ho < 1 or wo < 1:
        raise ValueError(f"reference conv: kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit "
                         f"input {x.shape[2]}x{x.shape[3]} padded by {ph}x{pw}")
    return x, W, (sh, sw), (ph, pw), (dh, dw), (ho, wo)


def conv_single_step(a_slice: np.ndarray, W: np.ndarray, b) -> float:
    """One output value: the window ``a_slice`` (C, kh, kw) times the filter ``W``
    (C, kh, kw), summed, plus the bias ``b``."""
    return np.sum(a_slice * W) + b


def conv_forward(x, W, b, stride=1, padding=0, dilation=1) -> np.ndarray:
    """x ``(N, C_in, H, W)``, W ``(C_out, C_in, kh, kw)``, b ``(C_out,)`` or None
    -> y ``(N, C_out, H_out, W_out)`` with ``H_out = floor((H + 2p - d(k-1) - 1)/s) + 1``."""
    x, W, (sh, sw), (ph, pw), (dh, dw), (ho, wo) = _conv_setup(x, W, stride, padding, dilation)
    n_images, n_filters, (kh, kw) = x.shape[0], W.shape[0], W.shape[2:]
    dtype = _float_dtype(x, W) if b is None else _float_dtype(x, W, b)
    bias = np.zeros(n_filters, dtype) if b is None else np.asarray(b).reshape(n_filters)
    x_pad = zero_pad(x, (ph, pw))                                  # (N, C_in, Hp, Wp)
    y = np.zeros((n_images, n_filters, ho, wo), dtype=dtype)
    for i in range(n_images):                  # every image
        for h in range(ho):                    # every output row
            rows = _taps(h, kh, sh, dh)
            for w in range(wo):                # every output column
                cols = _taps(w, kw, sw, dw)
                a_slice = x_pad[i, :, rows, cols]                  # (C_in, kh, kw)
                for c in range(n_filters):     # every filter
                    y[i, c, h, w] = conv_single_step(a_slice, W[c], bias[c])
    return y


def conv_backward(dy, x, W, stride=1, padding=0, dilation=1):
    """Gradients of :func:`conv_forward` for the upstream gradient dy ``(N, C_out, H_out,
    W_out)``: ``(dx (N, C_in, H, W), dW (C_out, C_in, kh, kw), db (C_out,))``. Each window
    adds ``W[c]·dy`` to dx under it, ``a_slice·dy`` to dW[c] and ``dy`` to db[c]."""
    x, W, (sh, sw), (ph, pw), (dh, dw), (ho, wo) = _conv_setup(x, W, stride, padding, dilation)
    dy = np.asarray(dy)
    n_images, n_filters, (kh, kw) = x.shape[0], W.shape[0], W.shape[2:]
    if dy.shape != (n_images, n_filters, ho, wo):
        raise ValueError(f"reference conv: dy must be {(n_images, n_filters, ho, wo)}, got {dy.shape}")
    dtype = _float_dtype(x, W, dy)
    x_pad = zero_pad(x, (ph, pw))                                  # (N, C_in, Hp, Wp)
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dW = np.zeros(W.shape, dtype=dtype)                            # (C_out, C_in, kh, kw)
    db = np.zeros(n_filters, dtype=dtype)                          # (C_out,)
    for i in range(n_images):
        for h in range(ho):
            rows = _taps(h, kh, sh, dh)
            for w in range(wo):
                cols = _taps(w, kw, sw, dw)
                a_slice = x_pad[i, :, rows, cols]                  # (C_in, kh, kw)
                for c in range(n_filters):
                    dx_pad[i, :, rows, cols] += W[c] * dy[i, c, h, w]
                    dW[c] += a_slice * dy[i, c, h, w]
                    db[c] += dy[i, c, h, w]
    dx = dx_pad[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]      # drop the padding
    return dx, dW, db


def create_mask(window: np.ndarray) -> np.ndarray:
    """True at the window's first maximum (row-major) only. The textbook's ``x == max``
    marks every tie; the engine, like PyTorch, sends the gradient to exactly one."""
    mask = np.zeros(window.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(window), window.shape)] = True
    return mask


def distribute_value(dz, shape: tuple[int, int]) -> np.ndarray:
    """An average pool's gradient ``dz`` spread evenly over a window of ``shape``."""
    return np.full(shape, dz / (shape[0] * shape[1]))


def _pool_setup(x, kernel, stride, mode):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"reference pool: needs x (N, C, H, W), got shape {x.shape}")
    if mode not in ("max", "avg"):
        raise ValueError(f"reference pool: mode must be 'max' or 'avg', got {mode!r}")
    (kh, kw), (sh, sw) = _pair(kernel, "kernel", 1), _pair(stride, "stride", 1)
    if kh > x.shape[2] or kw > x.shape[3]:
        raise ValueError(f"reference pool: window {kh}x{kw} does not fit input "
                         f"{x.shape[2]}x{x.shape[3]}")
    return x, (kh, kw), (sh, sw), (conv_output_size(x.shape[2], kh, sh),
                                   conv_output_size(x.shape[3], kw, sw))


def pool_forward(x, kernel, stride, mode: str = "max") -> np.ndarray:
    """Max or average over each ``kernel`` window, ``stride`` apart, no padding:
    x ``(N, C, H, W)`` -> ``(N, C, floor((H - kh)/sh) + 1, floor((W - kw)/sw) + 1)``."""
    x, (kh, kw), (sh, sw), (ho, wo) = _pool_setup(x, kernel, stride, mode)
    y = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=_float_dtype(x))
    for i in range(x.shape[0]):                # every image
        for h in range(ho):                    # every output row
            for w in range(wo):                # every output column
                for c in range(x.shape[1]):    # every channel
                    window = x[i, c, _taps(h, kh, sh, 1), _taps(w, kw, sw, 1)]  # (kh, kw)
                    y[i, c, h, w] = np.max(window) if mode == "max" else np.mean(window)
    return y


def pool_backward(dy, x, kernel, stride, mode: str = "max") -> np.ndarray:
    """Gradient of :func:`pool_forward` for dy ``(N, C, H_out, W_out)`` -> dx like x.
    Max: each window's gradient goes to its first maximum only (:func:`create_mask`);
    avg: spread evenly (:func:`distribute_value`). Overlapping windows accumulate."""
    x, (kh, kw), (sh, sw), (ho, wo) = _pool_setup(x, kernel, stride, mode)
    dy = np.asarray(dy)
    if dy.shape != (*x.shape[:2], ho, wo):
        raise ValueError(f"reference pool: dy must be {(*x.shape[:2], ho, wo)}, got {dy.shape}")
    dx = np.zeros(x.shape, dtype=_float_dtype(x, dy))
    for i in range(x.shape[0]):
        for h in range(ho):
            rows = _taps(h, kh, sh, 1)
            for w in range(wo):
                cols = _taps(w, kw, sw, 1)
                for c in range(x.shape[1]):
                    if mode == "max":
                        dx[i, c, rows, cols] += create_mask(x[i, c, rows, cols]) * dy[i, c, h, w]
                    else:
                        dx[i, c, rows, cols] += distribute_value(dy[i, c, h, w], (kh, kw))
    return dx


# ----------------------------------------------------------------- traces
def _range_of(taps: slice) -> tuple[int, ...]:
    return tuple(range(taps.start, taps.stop, taps.step))


def trace_conv_forward(x, W, b, stride=1, padding=0, dilation=1):
    """:func:`conv_forward`, one :class:`ConvForwardStep` per (image, row, column, filter)."""
    x, W, (sh, sw), (ph, pw), (dh, dw), (ho, wo) = _conv_setup(x, W, stride, padding, dilation)
    n_images, n_filters, (kh, kw) = x.shape[0], W.shape[0], W.shape[2:]
    dtype = _float_dtype(x, W) if b is None else _float_dtype(x, W, b)
    bias = np.zeros(n_filters, dtype) if b is None else np.asarray(b).reshape(n_filters)
    x_pad = zero_pad(x, (ph, pw))
    y = np.zeros((n_images, n_filters, ho, wo), dtype=dtype)
    for i in range(n_images):
        for h in range(ho):
            rows = _taps(h, kh, sh, dh)
            for w in range(wo):
                cols = _taps(w, kw, sw, dw)
                a_slice = x_pad[i, :, rows, cols]
                for c in range(n_filters):
                    y[i, c, h, w] = conv_single_step(a_slice, W[c], bias[c])
                    yield ConvForwardStep(i, c, h, w, _range_of(rows), _range_of(cols),
                                          a_slice.copy(), W[c].copy(), a_slice * W[c],
                                          bias[c].item(), y[i, c, h, w].item(), y.copy())


def trace_conv_backward(dy, x, W, stride=1, padding=0, dilation=1):
    """:func:`conv_backward`, one :class:`ConvBackwardStep` per (image, row, column,
    filter) with the running totals of dA_prev (padded), dW and db after that step."""
    x, W, (sh, sw), (ph, pw), (dh, dw), (ho, wo) = _conv_setup(x, W, stride, padding, dilation)
    dy = np.asarray(dy)
    n_images, n_filters, (kh, kw) = x.shape[0], W.shape[0], W.shape[2:]
    if dy.shape != (n_images, n_filters, ho, wo):
        raise ValueError(f"reference conv: dy must be {(n_images, n_filters, ho, wo)}, got {dy.shape}")
    dtype = _float_dtype(x, W, dy)
    x_pad = zero_pad(x, (ph, pw))
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dW = np.zeros(W.shape, dtype=dtype)
    db = np.zeros(n_filters, dtype=dtype)
    for i in range(n_images):
        for h in range(ho):
            rows = _taps(h, kh, sh, dh)
            for w in range(wo):
                cols = _taps(w, kw, sw, dw)
                a_slice = x_pad[i, :, rows, cols]
                for c in range(n_filters):
                    dx_pad[i, :, rows, cols] += W[c] * dy[i, c, h, w]
                    dW[c] += a_slice * dy[i, c, h, w]
                    db[c] += dy[i, c, h, w]
                    yield ConvBackwardStep(i, c, h, w, _range_of(rows), _range_of(cols),
                                           a_slice.copy(), W[c].copy(), dy[i, c, h, w].item(),
                                           (ph, pw), dx_pad.copy(), dW.copy(), db.copy())


def trace_pool_forward(x, kernel, stride, mode: str = "max"):
    """:func:`pool_forward`, one :class:`PoolForwardStep` per (image, row, column, channel)."""
    x, (kh, kw), (sh, sw), (ho, wo) = _pool_setup(x, kernel, stride, mode)
    y = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=_float_dtype(x))
    for i in range(x.shape[0]):
        for h in range(ho):
            rows = _taps(h, kh, sh, 1)
            for w in range(wo):
                cols = _taps(w, kw, sw, 1)
                for c in range(x.shape[1]):
                    window = x[i, c, rows, cols]
                    y[i, c, h, w] = np.max(window) if mode == "max" else np.mean(window)
                    mask = create_mask(window) if mode == "max" else None
                    yield PoolForwardStep(i, c, h, w, _range_of(rows), _range_of(cols),
                                          window.copy(), mode, mask, y[i, c, h, w].item(),
                                          y.copy())


def trace_pool_backward(dy, x, kernel, stride, mode: str = "max"):
    """:func:`pool_backward`, one :class:`PoolBackwardStep` per (image, row, column,
    channel) with what the window adds to dx and the running dx after it."""
    x, (kh, kw), (sh, sw), (ho, wo) = _pool_setup(x, kernel, stride, mode)
    dy = np.asarray(dy)
    if dy.shape != (*x.shape[:2], ho, wo):
        raise ValueError(f"reference pool: dy must be {(*x.shape[:2], ho, wo)}, got {dy.shape}")
    dx = np.zeros(x.shape, dtype=_float_dtype(x, dy))
    for i in range(x.shape[0]):
        for h in range(ho):
            rows = _taps(h, kh, sh, 1)
            for w in range(wo):
                cols = _taps(w, kw, sw, 1)
                for c in range(x.shape[1]):
                    window = x[i, c, rows, cols]
                    if mode == "max":
                        share = create_mask(window) * dy[i, c, h, w]
                    else:
                        share = distribute_value(dy[i, c, h, w], (kh, kw))
                    dx[i, c, rows, cols] += share
                    yield PoolBackwardStep(i, c, h, w, _range_of(rows), _range_of(cols),
                                           window.copy(), mode, dy[i, c, h, w].item(),
                                           np.asarray(share, dtype=dx.dtype), dx.copy())
