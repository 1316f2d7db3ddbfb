"""``Conv2D``: a 2-D convolution (cross-correlation, as in PyTorch) via im2col + BLAS."""

from __future__ import annotations

import numpy as np

from cnnlab.engine import fourier, limits, parallel
from cnnlab.engine import functional as F
from cnnlab.engine.base import WeightedLayer, compact_pair, positive_int, shape_str

#: Inference convolves at most this many column elements at a time (4 MB of float32): a
#: 256-image batch of a LeNet-sized layer would otherwise need one 180 MB column matrix,
#: freshly allocated (page faults) and far bigger than the cache, on every call; chunks
#: that stay in the cache until the matrix product reads them evaluate ~20 % faster than
#: 16 MB ones. Training keeps the whole batch's columns: backward needs them.
EVAL_CHUNK_ELEMENTS = 1 << 20

#: Training takes the Fourier path (``fourier.py``) for stride-1 convolutions with at least
#: this many input and output channels and a kernel of at least 3×3: the per-frequency
#: products then replace kh·kw shifted products (LeNet's second conv: 2× less time). Few
#: channels (a first layer) or 1×1 kernels stay with im2col.
FOURIER_MIN_CHANNELS = 16

#: ... and at least this many kernel taps: 3×3 (9) on one thread, 5×5 (25) on more. The
#: per-frequency products are too small for BLAS to thread, while im2col's big products
#: use every thread: on 2 threads the CIFAR net's 32→64 3×3 conv takes ~22 ms forward and
#: backward by im2col and ~24 ms by Fourier (one thread: ~38 ms and ~29 ms).
FOURIER_MIN_TAPS = 9
FOURIER_MIN_TAPS_THREADED = 25


class Conv2D(WeightedLayer):
    """``Conv2D(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    bias=True, *, init="he_normal", dtype=np.float32, rng=None)``.

    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1``. ``params["W"]`` is
    ``(C_out, C_in, kh, kw)``, ``params["b"]`` is ``(C_out,)``. ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` take an int or an ``(h, w)`` pair.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, *, init="he_normal", dtype=np.float32, rng=None):
        super().__init__()
        self._configure(in_channels, out_channels, kernel_size, stride, padding, dilation,
                        bias, init=init, dtype=dtype)
        self.reset_parameters(rng)

    def _configure(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                   dilation=1, bias=True, *, init="he_normal", dtype=np.float32) -> None:
        name = self.name
        self.in_channels = positive_int(in_channels, "in_channels", name)
        self.out_channels = positive_int(out_channels, "out_channels", name)
        for option, value in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            limits.check_range(name, name, option, value)
        self.kernel_size = self.size_pair(kernel_size, "kernel_size", 1)
        self.stride = self.size_pair(stride, "stride", 1)
        self.padding = self.size_pair(padding, "padding", 0)
        self.dilation = self.size_pair(dilation, "dilation", 1)
        self._setup_weights(bias, init, dtype)

    # ------------------------------------------------------------- shapes
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {"W": (self.out_channels, self.in_channels, *self.kernel_size)}
        if self.bias:
            shapes["b"] = (self.out_channels,)
        return shapes

    def fans(self) -> tuple[int, int]:
        k = self.kernel_size[0] * self.kernel_size[1]
        return self.in_channels * k, self.out_channels * k

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        """Output size for an ``h x w`` input, or a ValueError saying why it does not fit."""
        kh, kw = self.kernel_size
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        ho = F.conv_output_size(h, kh, sh, ph, dh)
        wo = F.conv_output_size(w, kw, sw, pw, dw)
        if ho < 1 or wo < 1:
            span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
            kernel = f"kernel {kh}x{kw}"
            if (dh, dw) != (1, 1):
                kernel += f" (dilation {shape_str(compact_pair(self.dilation))} → {span[0]}x{span[1]})"
            raise self.error(f"{kernel} does not fit padded input {h + 2 * ph}x{w + 2 * pw}"
                             f" (input {h}x{w}, padding {shape_str(compact_pair(self.padding))})")
        return ho, wo

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise self.error(f"expects input (C, H, W) with C={self.in_channels}, "
                             f"got shape {shape}")
        if shape[0] != self.in_channels:
            raise self.error(f"expects {self.in_channels} input channels, got {shape[0]} "
                             f"(input {shape_str(shape)})")
        return (self.out_channels, *self._out_hw(shape[1], shape[2]))

    def _config(self) -> dict:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": compact_pair(self.kernel_size),
                "stride": compact_pair(self.stride), "padding": compact_pair(self.padding),
                "dilation": compact_pair(self.dilation), **self._weight_config()}

    # ---------------------------------------------------------- numerics
    def _buffer(self, key: str, shape: tuple[int, ...], dtype) -> tuple[np.ndarray, bool]:
        """Reused scratch while training (big fresh arrays cost page faults every step);
        plain temporaries in eval mode, so a large inference batch is not kept alive."""
        if self.training:
            return self.scratch(key, shape, dtype)
        return np.empty(shape, dtype=dtype), True

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: ``(N, C_in, H, W)`` float32/float64 -> ``(N, C_out, H_out, W_out)``, same dtype."""
        x = self.check_input(x, 4, f"input (N, {self.in_channels}, H, W)")
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise self.error(f"expects {self.in_channels} input channels, got input of "
                             f"shape {x.shape}")
        ho, wo = self._out_hw(h, w)
        if self._fourier_suits():
            return self._fourier_forward(x)
        geo = F.conv_geometry(h, w, self.kernel_size, self.stride, self.padding, self.dilation)
        # 1. padded flat rows (N, C_in, length); see ConvGeometry for the layout
        if geo.padded or not x.flags.c_contiguous:
            x_flat, fresh = self._buffer("padded", (n, c, geo.length), x.dtype)
            parallel.over_batch(n, x_flat.size, lambda a, b: F.pad_flat(
                x[a:b], geo, out=x_flat[a:b], clean=fresh))  # a reused border stays zero
        else:
            x_flat = x.reshape(n, c, geo.length)  # (N, C_in, H·W): no copy
        o, k, length = self.out_channels, c * self.kernel_size[0] * self.kernel_size[1], geo.col_length
        # (C_out, K + 1): the bias is one more weight column, for a row of ones in the columns
        w2 = self._weight_with_bias(x.dtype)
        rows = w2.shape[1]  # K, plus the row of ones with a bias
        y = np.empty((n, o, ho, wo), dtype=x.dtype)
        chunk = n if self.training else max(1, min(n, EVAL_CHUNK_ELEMENTS // (rows * length)))
        cols_buf, _ = self._buffer("cols", (rows * chunk * length,), x.dtype)
        y_buf, _ = self._buffer("y_cols", (o * chunk * length,), x.dtype)
        for a in range(0, n, chunk):  # training: the whole batch at once
            m = min(chunk, n - a)
            # 2. one column per output pixel: (K, m·L), L = geo.col_length (+ a row of ones)
            cols = cols_buf[:rows * m * length].reshape(rows, m * length)
            _split_im2col(x_flat[a:a + m], geo, cols[:k].reshape(k, m, length))
            cols[k:] = 1
            # 3. every filter on every column: (C_out, K) @ (K, m·L) -> (C_out, m·L), one BLAS call
            y_cols = y_buf[:o * m * length].reshape(o, m * length)
            np.matmul(w2, cols, out=y_cols)
            # 4. read as (m, C_out, H_out, W_out), junk columns skipped, in one copy
            images = F.columns_as_images(y_cols.reshape(o, m, length), m, geo.col_pitch, (ho, wo))
            _split_copy(images, y[a:a + m])
        # backward needs the columns for dW (rebuilt from x_flat if they came in chunks)
        self._cache = (geo, n, cols if chunk == n else None, x_flat)
        return y

    def _weight_with_bias(self, dtype) -> np.ndarray:
        """``W`` as ``(C_out, K)``, with the bias appended as column K when there is one."""
        w2 = self.weight(dtype).reshape(self.out_channels, -1)
        if not self.bias:
            return w2
        return np.concatenate([w2, self.params["b"].astype(dtype, copy=False)[:, None]], axis=1)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True):
        """grad_out: ``(N, C_out, H_out, W_out)``. Fills ``grads`` and returns
        ``(N, C_in, H, W)`` (None when ``need_input_grad`` is False)."""
        if self._cache[0] == "fourier":
            return self._fourier_backward(grad_out, need_input_grad)
        geo, n, cols, x_flat = self._cache  # cols: (K [+ 1 row of ones], N·L) from forward
        if cols is None:  # an inference-mode forward went in chunks
            cols = F.im2col(x_flat, geo).reshape(-1, n * geo.col_length)
        dtype, o, length = grad_out.dtype, self.out_channels, geo.col_length
        # 1. the gradient in the column layout of forward's product: (C_out, N·L)
        g_cols, fresh = self._buffer("g_cols", (o, n * length), dtype)
        g_3d = g_cols.reshape(o, n, length)
        _split_copy(grad_out, F.columns_as_images(g_3d, n, geo.col_pitch, geo.out_hw))
        if fresh:  # junk columns must be zero; the copy above never writes them
            F.zero_junk_columns(g_3d, geo.col_pitch, geo.out_hw)
        k = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        # 2. dW = g_cols @ colsᵀ: (C_out, N·L) @ (N·L, K); BLAS reads colsᵀ without a copy.
        # With the row of ones, its last column is db = the sum over images and pixels
        # (junk columns are 0).
        d_wb = g_cols @ cols.astype(dtype, copy=False).T
        self.store_grad("W", d_wb[:, :k])
        if self.bias:
            self.store_grad("b", d_wb[:, k] if cols.shape[0] > k else g_cols.sum(axis=1))
        if not need_input_grad:
            return None
        # 3. the gradient of every column: (K, C_out) @ (C_out, N·L) -> (K, N·L)
        w2 = self.weight(dtype).reshape(o, k)
        d_cols, _ = self._buffer("d_cols", (k, n * length), dtype)
        np.matmul(w2.T, g_cols, out=d_cols)
        # 4. each column back onto the pixels it was copied from: (N, C_in, length) -> pixels
        dx_flat = np.empty((n, self.in_channels, geo.length), dtype=dtype)
        parallel.over_batch(n, d_cols.size, lambda a, b: F.col2im(
            d_cols.reshape(k, n, length)[:, a:b], geo, b - a, self.in_channels, out=dx_flat[a:b]))
        return F.grid(dx_flat, geo.offset, (geo.h, geo.w), geo.pitch)  # (N, C_in, H, W) view


    # ------------------------------------------------------- Fourier path
    def _fourier_suits(self) -> bool:
        kh, kw = self.kernel_size
        return (self.training and self.stride == (1, 1) and self.dilation == (1, 1)
                and kh * kw >= (FOURIER_MIN_TAPS if parallel.threads() == 1 else FOURIER_MIN_TAPS_THREADED)
                and min(self.in_channels, self.out_channels) >= FOURIER_MIN_CHANNELS)

    def _fourier_forward(self, x: np.ndarray) -> np.ndarray:
        """The same convolution by the convolution theorem (see ``fourier.py``)."""
        n, c, h, w = x.shape
        (ph, pw) = self.padding
        plan = fourier.plan(h + 2 * ph, w + 2 * pw, self.kernel_size, self.padding, x.dtype)
        y, (x_hat, w_hat, shape) = fourier.forward(x, self.weight(x.dtype), plan)
        if self.bias:
            y += self.params["b"].astype(x.dtype, copy=False)[:, None, None]
        self._cache = ("fourier", plan, x_hat, w_hat, shape)  # arrays at the top: clear_cache
        return y

    def _fourier_backward(self, grad_out: np.ndarray, need_input_grad: bool):
        _, plan, *coefficients = self._cache
        if self.bias:
            self.store_grad("b", grad_out.sum(axis=(0, 2, 3)))
        dw, dx = fourier.backward(grad_out, coefficients, plan, need_input_grad)
        self.store_grad("W", dw)
        return dx


def _split_im2col(x_flat: np.ndarray, geo: F.ConvGeometry, cols: np.ndarray) -> None:
    """``F.im2col(x_flat, geo, out=cols)`` over batch slices in parallel: images are axis 0
    of ``x_flat`` and axis 1 of ``cols`` ``(K, N, L)``."""
    parallel.over_batch(x_flat.shape[0], cols.size,
                        lambda a, b: F.im2col(x_flat[a:b], geo, out=cols[:, a:b]))


def _split_copy(x: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = x`` over ``(N, ...)`` arrays, batch slices in parallel."""
    parallel.over_batch(out.shape[0], out.size, lambda a, b: np.copyto(out[a:b], x[a:b]))
