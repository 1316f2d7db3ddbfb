"""Arrays for looking at kernels and filtered images (Qt-free, so the views stay thin).

- :func:`kernel_tiles` turns a conv weight ``(C_out, C_in, kh, kw)`` into tiles for a
  tile grid: RGB colour tiles for a 3-channel layer, otherwise (:func:`filter_strips`) one
  strip per output filter with its input channels side by side for a diverging map, all on
  one shared scale centred at 0.
- :func:`to_display_rgb` turns filtered images (float, 0–255 scale) into uint8 pixels,
  clipping, never wrapping, values outside 0–255.
- :func:`pick_other_indices` draws a new set of images for the Shuffle button.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnlab.engine.conv import Conv2D


@dataclass(frozen=True)
class KernelTiles:
    """Tiles ready for a tile grid.

    ``tiles``: one per output filter, float32 ``(F, h, w)`` raw weights with NaN gaps
    (``cmap == "diverging"``, show with ``levels``) or ``(F, kh, kw, 3)`` in [0, 1]
    (``cmap == "rgb"``, 0.5 = weight 0). ``levels``: the symmetric scale ``(-m, m)`` both
    mappings use. ``columns``: tiles per grid row.
    """

    tiles: np.ndarray
    cmap: str
    levels: tuple[float, float]
    columns: int
    description: str


def conv_layers(model) -> list[tuple[int, Conv2D]]:
    """The ``Conv2D`` layers of a ``Sequential`` as ``(position, layer)`` pairs."""
    return [(i, layer) for i, layer in enumerate(model.layers) if isinstance(layer, Conv2D)]


def symmetric_scale(values: np.ndarray) -> float:
    """``max |values|``, or 1.0 when that is 0 or not finite (never a zero-width scale)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    return m if m > 0 else 1.0


def conv_weight(weight) -> np.ndarray:
    """``weight`` as float32 ``(C_out, C_in, kh, kw)``, or ``ValueError`` saying its shape."""
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 4:
        raise ValueError(f"a conv weight must be (C_out, C_in, kh, kw), got shape {w.shape}")
    return w


def filter_strips(weight: np.ndarray, scale: float | None = None,
                  aspect: float = 1.2) -> KernelTiles:
    """Each output filter of a conv weight ``(C_out, C_in, kh, kw)`` as one tile: its input
    channels side by side, with a NaN (background) column between them and a NaN row and
    column after, so in a grid the filters stand apart from each other.

    Tiles: float32 ``(C_out, kh + 1, C_in·(kw + 1))`` raw weights for the diverging map
    (``C_in == 1``: just the kernels ``(C_out, kh, kw)`` on a square-ish grid), levels
    ``(-scale, scale)`` (default ``max |weight|``); ``columns`` (filters per grid row)
    makes the grid about ``aspect`` times as wide as tall.
    """
    w = conv_weight(weight)
    c_out, c_in, kh, kw = w.shape
    m = float(scale) if scale is not None and scale > 0 else symmetric_scale(w)
    if c_in == 1:  # nothing to set side by side: the kernels themselves
        columns = max(1, math.ceil(math.sqrt(c_out)))
        return KernelTiles(w[:, 0].copy(), "diverging", (-m, m), columns,
                           f"{c_out} filters {kh}×{kw}")
    strips = np.full((c_out, kh + 1, c_in, kw + 1), np.nan, dtype=np.float32)
    strips[:, :kh, :, :kw] = w.transpose(0, 2, 1, 3)  # (C_out, kh, C_in, kw)
    strips = strips.reshape(c_out, kh + 1, c_in * (kw + 1))
    columns = round(math.sqrt(aspect * c_out * (kh + 1) / (c_in * (kw + 1))))
    columns = min(c_out, max(1, columns))
    text = f"{c_out} filters, each {c_in} input channels side by side, {kh}×{kw}"
    return KernelTiles(strips, "diverging", (-m, m), columns, text)


def kernel_tiles(weight: np.ndarray, rgb: bool | None = None, scale: float | None = None,
                 per_filter: bool = False) -> KernelTiles:
    """Tiles of a conv weight ``(C_out, C_in, kh, kw)``.

    ``rgb=None`` shows a 3-input-channel weight in colour (the kernels of a first layer
    that looks at RGB photos: channel c drives colour c, weight 0 is mid grey) and anything
    else per input channel, as :func:`filter_strips`. ``scale`` is the weight magnitude
    mapped to the ends of the colour range (default ``max |weight|``), so two grids given
    the same scale are comparable tile for tile. ``per_filter=True`` instead divides each
    output filter by its own ``max |w|`` (levels ``(-1, 1)``): every filter's pattern at
    full contrast, at the cost of comparing magnitudes between filters.
    """
    w = conv_weight(weight)
    c_out, c_in, kh, kw = w.shape
    if per_filter:
        peaks = np.array([symmetric_scale(f) for f in w], dtype=np.float32)  # (C_out,)
        w = w / peaks[:, None, None, None]
        scale = 1.0
    m = float(scale) if scale is not None and scale > 0 else symmetric_scale(w)
    if rgb is None:
        rgb = c_in == 3
    if rgb and c_in != 3:
        raise ValueError(f"RGB tiles need 3 input channels, the weight has {c_in}")
    if not rgb:
        return filter_strips(w, m)
    tiles = np.clip(0.5 + 0.5 * w.transpose(0, 2, 3, 1) / m, 0.0, 1.0)  # (C_out, kh, kw, 3)
    columns = max(1, math.ceil(math.sqrt(c_out)))
    text = f"{c_out} filters {kh}×{kw}×3 in colour (R, G, B weights; grey = 0)"
    return KernelTiles(tiles.astype(np.float32), "rgb", (-m, m), columns, text)


#: How filtered values become pixels: edge filters (Sobel, Laplacian) give negative values
#: that plain clipping shows as black, so the lab can show them on grey or as magnitudes.
DISPLAY_MODES = {
    "clip": "values clipped to 0–255",
    "offset": "value + 128 (negatives visible)",
    "abs": "|value| (edge strength)",
}


def to_display_rgb(images: np.ndarray, mode: str = "clip") -> np.ndarray:
    """``(N, C, H, W)`` images on the 0–255 scale (uint8 or float, C = 1 or 3) →
    uint8 ``(N, H, W, 3)``, rounded and clipped to 0–255 (a value of 300 shows white,
    −20 black; nothing wraps around), NaN shown as 0, grey repeated into 3 channels.

    ``mode`` (see ``DISPLAY_MODES``) maps values first: ``"offset"`` adds 128, ``"abs"``
    takes the magnitude; ``"clip"`` shows them as they are."""
    if mode not in DISPLAY_MODES:
        raise ValueError(f"unknown display mode {mode!r}; choose one of {', '.join(DISPLAY_MODES)}")
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got shape {x.shape}")
    if x.dtype != np.uint8 or mode != "clip":
        x = x.astype(np.float32)
        x = x + 128.0 if mode == "offset" else np.abs(x) if mode == "abs" else x
        x = np.clip(np.nan_to_num(np.rint(x), nan=0.0), 0, 255).astype(np.uint8)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def pick_other_indices(pool_size: int, current, count: int,
                       rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct indices into a pool of ``pool_size`` images for Shuffle.

    Images not in ``current`` come first (random among them); only when there are fewer
    than ``count`` of those are some current ones reused. So the shown set changes
    whenever ``pool_size > count`` (20 sample images: the other ten). Returns int64
    ``(min(count, pool_size),)`` in random order.
    """
    if pool_size < 1:
        raise ValueError("there are no images to pick from")
    count = min(int(count), pool_size)
    current_set = {int(i) for i in np.asarray(current, dtype=np.int64).ravel()}
    others = np.array([i for i in range(pool_size) if i not in current_set], dtype=np.int64)
    shown = np.array(sorted(current_set & set(range(pool_size))), dtype=np.int64)
    fresh = rng.permutation(others)[:count]
    refill = rng.permutation(shown)[: count - len(fresh)]
    return rng.permutation(np.concatenate([fresh, refill])).astype(np.int64)



def resize_centred(kernel: np.ndarray, size: int) -> np.ndarray:
    """A 2-D ``kernel`` cropped or zero-padded around its centre to float64 ``(size, size)``
    (the custom kernel grid growing or shrinking keeps its middle)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or size < 1:
        raise ValueError(f"need a 2-D kernel and a positive size, got {kernel.shape} and {size}")
    out = np.zeros((size, size))
    kh, kw = kernel.shape
    h, w = min(kh, size), min(kw, size)
    oy, ox = (size - h) // 2, (size - w) // 2
    iy, ix = (kh - h) // 2, (kw - w) // 2
    out[oy:oy + h, ox:ox + w] = kernel[iy:iy + h, ix:ix + w]
    return out

