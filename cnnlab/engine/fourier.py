"""Convolution through the convolution theorem: a stride-1 ``Conv2D`` with many channels
and a 5×5 (or 3×3) kernel as products of Fourier coefficients.

For padded images of ``hp × wp`` pixels, the discrete Fourier transform turns the
cross-correlation ``y[r, s] = Σ_ij x[r+i, s+j]·W[i, j]`` into a product per frequency:
``Y = X · conj(Ŵ)`` (``Ŵ``: the transform of ``W`` zero-padded to ``hp × wp``). The
transform is circular, but the outputs kept (``r < hp − kh + 1``) never reach past the
edge, so nothing wraps. Summing over input channels makes every frequency one small
matrix product ``(N, C_in) @ (C_in, C_out)``: for LeNet's second conv (32→64, 5×5 on 18×18
padded) 180 such products do the work of 25·14·14 = 4,900 kernel taps per image pair.
Backward is the same theorem twice: ``dW`` is the correlation of ``x`` with the output
gradient ``g`` (``conj(Ĝ)·X``), ``dx`` the convolution of ``g`` with ``W`` (``Ĝ·Ŵ``).

The transforms themselves are matrix products with the DFT matrices (``F[u, r] =
e^{-2πi·ur/n}``, real images need only half the columns' frequencies), so everything
runs as BLAS calls. Results equal the direct convolution up to rounding (float32: ~1e-6
relative; float64: ~1e-15), which the tests check against the plain loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class FourierPlan:
    """DFT matrices for one geometry: padded ``hp × wp``, kernel ``kh × kw``, padding
    ``ph, pw``, real dtype ``dtype``. Frequencies ``F = hp · wv`` with ``wv = wp // 2 + 1``."""

    hp: int
    wp: int
    kh: int
    kw: int
    ph: int
    pw: int
    dtype: np.dtype

    @property
    def wv(self) -> int:
        return self.wp // 2 + 1

    @property
    def out_hw(self) -> tuple[int, int]:
        return self.hp - self.kh + 1, self.wp - self.kw + 1

    @property
    def complex_dtype(self):
        return np.complex64 if self.dtype == np.float32 else np.complex128

    def rows(self, start: int, count: int, inverse: bool) -> np.ndarray:
        """``(count, hp)`` inverse rows for outputs ``start..start+count-1`` (scaled by
        ``1/hp``), or the ``(hp, hp)`` forward matrix."""
        return _row_matrix(self.hp, start, count, inverse, self.complex_dtype)

    def cols(self, start: int, count: int, inverse: bool) -> np.ndarray:
        """Half-spectrum columns: forward ``(wv, wp)``; inverse ``(count, wv)`` for real
        outputs ``start..start+count-1`` (the missing half's conjugates counted twice)."""
        return _col_matrix(self.wp, start, count, inverse, self.complex_dtype)


@lru_cache(maxsize=64)
def _row_matrix(n: int, start: int, count: int, inverse: bool, dtype) -> np.ndarray:
    u = np.arange(n)
    if not inverse:
        return np.exp(-2j * np.pi * np.outer(u, u) / n).astype(dtype)
    r = np.arange(start, start + count)
    return (np.exp(2j * np.pi * np.outer(r, u) / n) / n).astype(dtype)


@lru_cache(maxsize=64)
def _col_matrix(n: int, start: int, count: int, inverse: bool, dtype) -> np.ndarray:
    v = np.arange(n // 2 + 1)
    if not inverse:
        return np.exp(-2j * np.pi * np.outer(v, np.arange(n)) / n).astype(dtype)
    weight = np.full(len(v), 2.0)  # each v in (0, n/2) stands for itself and n - v
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    s = np.arange(start, start + count)
    return (weight * np.exp(2j * np.pi * np.outer(s, v) / n) / n).astype(dtype)


def plan(hp: int, wp: int, kernel: tuple[int, int], padding: tuple[int, int], dtype) -> FourierPlan:
    return FourierPlan(hp, wp, kernel[0], kernel[1], padding[0], padding[1], np.dtype(dtype))


def _as_real_product(m: np.ndarray, real_dtype, negate_imag: bool) -> np.ndarray:
    """``(K, S)`` complex → ``(K, 2S)`` or ``(2K, S)`` real, so one real GEMM does a
    complex product: columns ``[Re, Im]`` interleaved (``negate_imag=False``: a real
    matrix times ``m``, complex result viewed as float), or rows ``[Re, −Im]`` interleaved
    (``True``: a complex matrix, viewed as float, times ``m``; the real part only)."""
    if not negate_imag:
        out = np.empty((m.shape[0], 2 * m.shape[1]), dtype=real_dtype)
        out[:, 0::2], out[:, 1::2] = m.real, m.imag
    else:
        out = np.empty((2 * m.shape[0], m.shape[1]), dtype=real_dtype)
        out[0::2], out[1::2] = m.real, -m.imag
    return out


@lru_cache(maxsize=64)
def _forward_cols(p: FourierPlan, w: int) -> np.ndarray:
    return _as_real_product(p.cols(0, 0, inverse=False)[:, :w].T, p.dtype, negate_imag=False)


@lru_cache(maxsize=64)
def _inverse_cols(p: FourierPlan, col0: int, ncols: int) -> np.ndarray:
    return _as_real_product(p.cols(col0, ncols, inverse=True).T, p.dtype, negate_imag=True)


def transform(images: np.ndarray, p: FourierPlan) -> np.ndarray:
    """Real ``(B, h, w)`` images (top-left of the ``hp × wp`` frame, zeros beyond) →
    their coefficients ``(hp, wv, B)``, frequency-major and contiguous."""
    b, h, w = images.shape
    # along each row: one real GEMM, read as complex (columns past w would multiply zeros)
    t = (images.reshape(b * h, w) @ _forward_cols(p, w)).view(p.complex_dtype)  # (B·h, wv)
    t = np.ascontiguousarray(t.reshape(b, h * p.wv).T).reshape(h, p.wv * b)  # (h, wv, B)
    rows = p.rows(0, 0, inverse=False)[:, :h]  # rows past h would multiply zeros
    return (rows @ t).reshape(p.hp, p.wv, b)


def inverse(coef: np.ndarray, p: FourierPlan, row0: int, nrows: int, col0: int,
            ncols: int) -> np.ndarray:
    """Coefficients ``(hp, wv, B)`` → the real ``(B, nrows, ncols)`` block of pixels
    starting at ``(row0, col0)``."""
    b = coef.shape[2]
    t = p.rows(row0, nrows, inverse=True) @ coef.reshape(p.hp, p.wv * b)  # (nrows, wv, B)
    t = np.ascontiguousarray(t.reshape(nrows * p.wv, b).T)  # (B, nrows, wv)
    # along each row, the real part only: one real GEMM on the interleaved (Re, Im) pairs
    out = t.view(p.dtype).reshape(b * nrows, 2 * p.wv) @ _inverse_cols(p, col0, ncols)
    return out.reshape(b, nrows, ncols)


def _by_frequency(coef: np.ndarray, a: int, c: int) -> np.ndarray:
    """``(hp, wv, A·C)`` → ``(F, A, C)`` (a view)."""
    return coef.reshape(coef.shape[0] * coef.shape[1], a, c)


def forward(x: np.ndarray, w: np.ndarray, p: FourierPlan):
    """``x`` ``(N, C, h, w)`` (unpadded), ``w`` ``(O, C, kh, kw)`` → ``y`` ``(N, O, ho, wo)``
    without bias, and what backward needs."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    ho, wo = p.out_hw
    # the image sits at (ph, pw) in the frame: transform it there by shifting the frame
    frame = np.zeros((n * c, p.hp, p.wp), dtype=x.dtype)
    frame[:, p.ph:p.ph + h, p.pw:p.pw + wd] = x.reshape(n * c, h, wd)
    x_hat = _by_frequency(transform(frame, p), n, c)  # (F, N, C)
    w_hat = _by_frequency(transform(w.reshape(o * c, p.kh, p.kw), p), o, c)  # (F, O, C)
    # one product per frequency (too small for BLAS to thread; splitting the frequencies
    # over threads was slower: they then compete with BLAS's own threads)
    y_hat = np.matmul(x_hat, w_hat.conj().transpose(0, 2, 1))  # (F, N, O)
    y = inverse(y_hat.reshape(p.hp, p.wv, n * o), p, 0, ho, 0, wo)
    return y.reshape(n, o, ho, wo), (x_hat, w_hat, x.shape)


def backward(g: np.ndarray, cache, p: FourierPlan, need_input_grad: bool):
    """``g`` ``(N, O, ho, wo)`` → ``(dW (O, C, kh, kw), dx (N, C, h, w) or None)``."""
    x_hat, w_hat, (n, c, h, wd) = cache
    o = g.shape[1]
    ho, wo = p.out_hw
    g_hat = _by_frequency(transform(np.ascontiguousarray(g).reshape(n * o, ho, wo), p), n, o)
    # dW: the correlation of x with g, summed over images: conj(Ĝ)ᵀ · X per frequency
    dw_hat = np.matmul(g_hat.conj().transpose(0, 2, 1), x_hat)  # (F, O, C)
    dw = inverse(dw_hat.reshape(p.hp, p.wv, o * c), p, 0, p.kh, 0, p.kw)
    dx = None
    if need_input_grad:  # the convolution of g with W, cut back to the unpadded image
        dx_hat = np.matmul(g_hat, w_hat)  # (F, N, C)
        dx = inverse(dx_hat.reshape(p.hp, p.wv, n * c), p, p.ph, h, p.pw, wd)
        dx = dx.reshape(n, c, h, wd)
    return dw.reshape(o, c, p.kh, p.kw), dx
