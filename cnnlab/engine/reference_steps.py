"""The records the ``trace_*`` generators of :mod:`cnnlab.engine.reference` yield: one per
window step, frozen, holding copies (a record never changes after it is yielded).

Common fields: ``image``, ``channel`` (the filter for conv, the channel for pooling),
``row``, ``col`` (the output cell), ``rows``/``cols`` (the input rows and columns the
window reads, in *padded* coordinates for conv: stride and dilation included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class _Position:
    """``position``: ``(image, channel, row, col)`` of the output cell a record computes."""

    @property
    def position(self) -> tuple[int, int, int, int]:
        return self.image, self.channel, self.row, self.col


@dataclass(frozen=True)
class ConvForwardStep(_Position):
    """``value = sum(products) + bias`` with ``products = window * kernel``;
    ``output``: the whole ``(N, C_out, H_out, W_out)`` output after this step (cells not
    reached yet are 0)."""

    image: int
    channel: int
    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: np.ndarray    # (C_in, kh, kw): the padded input under the window
    kernel: np.ndarray    # (C_in, kh, kw): W[channel]
    products: np.ndarray  # (C_in, kh, kw)
    bias: float
    value: float
    output: np.ndarray


@dataclass(frozen=True)
class ConvBackwardStep(_Position):
    """One window of the backward pass: ``grad = dy[image, channel, row, col]`` adds
    ``kernel·grad`` to dA_prev under the window, ``window·grad`` to ``dW[channel]`` and
    ``grad`` to ``db[channel]``. ``dx_padded``, ``dW``, ``db``: running totals after it."""

    image: int
    channel: int
    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: np.ndarray     # (C_in, kh, kw)
    kernel: np.ndarray     # (C_in, kh, kw)
    grad: float
    padding: tuple[int, int]
    dx_padded: np.ndarray  # (N, C_in, H + 2ph, W + 2pw)
    dW: np.ndarray         # (C_out, C_in, kh, kw)
    db: np.ndarray         # (C_out,)

    @property
    def dx(self) -> np.ndarray:
        """The running dA_prev without its padding border, ``(N, C_in, H, W)``."""
        ph, pw = self.padding
        h, w = self.dx_padded.shape[2] - 2 * ph, self.dx_padded.shape[3] - 2 * pw
        return self.dx_padded[:, :, ph:ph + h, pw:pw + w]

    @property
    def dx_added(self) -> np.ndarray:
        """What this step added to dA_prev under the window: ``kernel·grad``."""
        return self.kernel * self.grad

    @property
    def dW_added(self) -> np.ndarray:
        """What this step added to ``dW[channel]``: ``window·grad``."""
        return self.window * self.grad


@dataclass(frozen=True)
class PoolForwardStep(_Position):
    """``value``: the window's max (``mask`` marks the first maximum) or mean (``mask``
    None); ``output``: the whole output after this step."""

    image: int
    channel: int
    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: np.ndarray  # (kh, kw)
    mode: str
    mask: np.ndarray | None
    value: float
    output: np.ndarray

    @property
    def kernel(self) -> tuple[int, int]:
        """The pooling window's size ``(kh, kw)``."""
        return self.window.shape


@dataclass(frozen=True)
class PoolBackwardStep(_Position):
    """``share``: what the window adds to dx — ``grad`` at the first maximum (max) or
    ``grad / (kh·kw)`` everywhere (avg); ``dx``: the running ``(N, C, H, W)`` total."""

    image: int
    channel: int
    row: int
    col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: np.ndarray  # (kh, kw)
    mode: str
    grad: float
    share: np.ndarray   # (kh, kw)
    dx: np.ndarray

    @property
    def kernel(self) -> tuple[int, int]:
        """The pooling window's size ``(kh, kw)``."""
        return self.window.shape
