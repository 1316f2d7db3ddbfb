"""Named image kernels and filtering through the engine's own ``Conv2D`` (Kernels & Blur tab).

Kernels are float64 ``(kh, kw)`` arrays applied as *correlation*, the way ``Conv2D`` (and
PyTorch) computes: ``out[i, j] = Σ k[a, b] · x[i·s + a·d - p, j·s + b·d - p]``. So
``sobel_x`` is positive where brightness grows to the right and ``sobel_y`` where it grows
downwards (row 0 is the top).

Padding ``"same"`` pads with zeros by the dilated kernel's reach, ``d·(k - 1)`` pixels in
total per axis: half before, and the odd pixel (even kernel sizes) after — bottom/right, as
TensorFlow and PyTorch do. With stride 1 the output is exactly the input's size; with stride
``s`` it is every s-th pixel of that, ``ceil(H / s)``. Because ``Conv2D`` pads symmetrically,
the odd pixel is added to the input before the convolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnlab.engine import functional as F
from cnnlab.engine.layers import Conv2D

# ----------------------------------------------------------------------------- kernels


def gaussian(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """A ``(size, size)`` Gaussian ``exp(-(a² + b²) / 2σ²)`` centred on the middle of the
    grid (between pixels for even sizes), normalized to sum 1. σ in pixels, > 0."""
    size = _size(size, "gaussian")
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"gaussian: sigma must be a positive number of pixels, got {sigma!r}")
    a = np.arange(size, dtype=np.float64) - (size - 1) / 2.0  # (size,) offsets from centre
    g = np.exp(-(a * a) / (2.0 * sigma * sigma))
    k = np.outer(g, g)
    return k / k.sum()


def size_from_sigma(sigma: float) -> int:
    """The kernel size that holds a Gaussian of width σ: ``k = 2⌈3σ⌉ + 1`` (three σ each
    side of the centre, ~99.7 % of each axis' weight). σ = 1 → 7, σ = 3 → 19."""
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"size_from_sigma: sigma must be a positive number of pixels, got {sigma!r}")
    return 2 * math.ceil(3 * sigma) + 1


def gaussian_kept(size: int, sigma: float) -> float:
    """The share of an untruncated (unlimited) sampled Gaussian's weight that a
    ``size × size`` window keeps, in (0, 1]: ``(Σ_window g / Σ_all g)²`` with
    ``g(a) = exp(-a²/2σ²)`` on the same pixel grid (the 2-D Gaussian is separable).
    What :func:`gaussian` drops before renormalizing: σ = 3 in a 5×5 window keeps ~36 %,
    so its weights are nearly flat — almost a box blur."""
    size = _size(size, "gaussian_kept")
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"gaussian_kept: sigma must be a positive number of pixels, got {sigma!r}")
    reach = (size - 1) / 2.0 + 12.0 * sigma + 2  # beyond 12σ the terms are below 1e-31
    n = int(math.ceil(reach - (size - 1) / 2.0))
    a = np.arange(-n, size + n, dtype=np.float64) - (size - 1) / 2.0  # the window and beyond
    g = np.exp(-(a * a) / (2.0 * sigma * sigma))
    inside = g[n:n + size].sum() / g.sum()
    return float(inside * inside)


def box(size: int = 3) -> np.ndarray:
    """The ``(size, size)`` mean filter: every weight ``1 / size²``."""
    size = _size(size, "box")
    return np.full((size, size), 1.0 / (size * size))


def classic_blur() -> np.ndarray:
    """The classic 3×3 blur ``[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16``."""
    return np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16.0


def sharpen() -> np.ndarray:
    """3×3 sharpen: the identity plus a negative Laplacian (sums to 1)."""
    return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)


def sobel_x() -> np.ndarray:
    """3×3 Sobel for horizontal change (vertical edges); positive for left-to-right increase."""
    return np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


def sobel_y() -> np.ndarray:
    """3×3 Sobel for vertical change (horizontal edges); positive for top-to-bottom increase."""
    return sobel_x().T.copy()


def laplacian() -> np.ndarray:
    """3×3 Laplacian (4-neighbour), sums to 0: responds to edges and spots, not to flat areas."""
    return np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def emboss() -> np.ndarray:
    """3×3 emboss (light from the top left), sums to 1."""
    return np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64)


def identity(size: int = 3) -> np.ndarray:
    """``(size, size)`` with a single 1 in the middle (odd ``size``): output = input."""
    size = _size(size, "identity")
    if size % 2 == 0:
        raise ValueError(f"identity: size must be odd to have a middle pixel, got {size}")
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def custom(values) -> np.ndarray:
    """A kernel from typed values (nested lists or an array), checked to be a non-empty,
    rectangular 2-D grid of finite numbers. Returns float64 ``(kh, kw)``."""
    try:
        k = np.array(values, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"kernel values must be a rectangular grid of numbers ({exc})") from None
    return check_kernel(k)


def check_kernel(kernel) -> np.ndarray:
    """``kernel`` as a float64 array, or ``ValueError`` if it is not a non-empty 2-D grid of
    finite numbers."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"a kernel must be a non-empty 2-D grid, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError("kernel values must be finite numbers (found NaN or infinity)")
    return k


def _size(size, who: str) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{who}: size must be a positive int, got {size!r}")
    return int(size)


@dataclass(frozen=True)
class KernelSpec:
    """A named kernel for the picker: ``factory(size=..., sigma=...)`` takes only the
    arguments its flags say it does."""
    name: str
    label: str
    factory: Callable[..., np.ndarray]
    takes_size: bool = False
    takes_sigma: bool = False
    default_size: int = 3
    default_sigma: float = 1.0


KERNELS: dict[str, KernelSpec] = {s.name: s for s in (
    KernelSpec("gaussian", "Gaussian", gaussian, takes_size=True, takes_sigma=True,
               default_size=5, default_sigma=1.0),
    KernelSpec("classic_blur", "Classic blur (1 2 1 / 16)", classic_blur),
    KernelSpec("box", "Box (mean)", box, takes_size=True),
    KernelSpec("sharpen", "Sharpen", sharpen),
    KernelSpec("sobel_x", "Sobel x", sobel_x),
    KernelSpec("sobel_y", "Sobel y", sobel_y),
    KernelSpec("laplacian", "Laplacian", laplacian),
    KernelSpec("emboss", "Emboss", emboss),
    KernelSpec("identity", "Identity", identity, takes_size=True),
)}


def make_kernel(name: str, size: int | None = None, sigma: float | None = None) -> np.ndarray:
    """The registered kernel ``name`` (see ``KERNELS``). ``size``/``sigma`` default to the
    spec's defaults and are ignored by kernels with a fixed 3×3 shape."""
    try:
        spec = KERNELS[name]
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}") from None
    kwargs = {}
    if spec.takes_size:
        kwargs["size"] = spec.default_size if size is None else size
    if spec.takes_sigma:
        kwargs["sigma"] = spec.default_sigma if sigma is None else sigma
    return spec.factory(**kwargs)


# ----------------------------------------------------------------------------- conv plumbing


def as_conv_weight(kernel, channels: int = 3, mode: str = "per_channel",
                   dtype=np.float32) -> np.ndarray:
    """A ``Conv2D`` weight ``(C, C, kh, kw)`` from a 2-D kernel ``(kh, kw)``.

    ``"per_channel"``: the kernel on the diagonal (``W[c, c] = kernel``), so each colour
    channel is filtered on its own. ``"full"``: every input→output pair (``W[o, i] = kernel``),
    so each output channel is the kernel applied to the *sum* of the input channels (a blur
    then gives a grey image C times as bright). A 4-D ``(C, C, kh, kw)`` array is taken as a
    full weight as it is (custom colour-mixing kernels).
    """
    if mode not in ("per_channel", "full"):
        raise ValueError(f"mode must be 'per_channel' or 'full', got {mode!r}")
    channels = _size(channels, "as_conv_weight: channels")
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 4:
        if k.shape[:2] != (channels, channels) or 0 in k.shape or not np.all(np.isfinite(k)):
            raise ValueError(f"a full conv weight must be ({channels}, {channels}, kh, kw) "
                             f"of finite numbers, got shape {k.shape}")
        return k.astype(dtype)
    k = check_kernel(k)
    if mode == "full":
        return np.broadcast_to(k, (channels, channels) + k.shape).astype(dtype)
    w = np.zeros((channels, channels) + k.shape, dtype=dtype)  # (C, C, kh, kw)
    w[np.arange(channels), np.arange(channels)] = k
    return w


def _pair(value, what: str) -> tuple[int, int]:
    pair = F.pair(value, what)
    if min(pair) < (0 if what == "padding" else 1):
        bound = ">= 0" if what == "padding" else "positive"
        raise ValueError(f"{what} must be {bound}, got {value!r}")
    return pair


def _kernel_hw(kernel) -> tuple[int, int]:
    """``(kh, kw)`` of a kernel array (2-D or a 4-D weight) or of a size (int or pair)."""
    if isinstance(kernel, np.ndarray) or (isinstance(kernel, (list, tuple)) and any(
            isinstance(v, (list, tuple, np.ndarray)) for v in kernel)):
        shape = np.shape(kernel)
        if len(shape) < 2:
            raise ValueError(f"a kernel must be 2-D, got shape {shape}")
        return int(shape[-2]), int(shape[-1])
    return _pair(kernel, "kernel size")


def resolve_padding(kernel, padding="same", dilation=1) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` zero padding for ``padding`` = ``"same"``, an int
    or an ``(h, w)`` pair. ``kernel`` is the kernel array or its size (int or pair)."""
    kh, kw = _kernel_hw(kernel)
    dh, dw = _pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"padding must be 'same', an int or an (h, w) pair, got {padding!r}")
        total_h, total_w = dh * (kh - 1), dw * (kw - 1)
        return (total_h // 2, total_h - total_h // 2), (total_w // 2, total_w - total_w // 2)
    ph, pw = _pair(padding, "padding")
    return (ph, ph), (pw, pw)


def filtered_size(h: int, w: int, kernel, stride=1, padding="same",
                  dilation=1) -> tuple[int, int]:
    """Size ``(H', W')`` of an ``h x w`` image after filtering with ``kernel`` (the array or
    its size): ``engine.functional.conv_output_size`` per axis, with ``"same"`` or uneven
    padding resolved first. Raises ``ValueError`` when the dilated kernel does not fit the
    padded input."""
    kh, kw = _kernel_hw(kernel)
    (pt, pb), (pl, pr) = resolve_padding((kh, kw), padding, dilation)
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    ho = F.conv_output_size(h + pt + pb, kh, sh, 0, dh)
    wo = F.conv_output_size(w + pl + pr, kw, sw, 0, dw)
    if ho < 1 or wo < 1:
        reach = f" (dilation {dh}x{dw} → {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1})" \
            if (dh, dw) != (1, 1) else ""
        raise ValueError(f"kernel {kh}x{kw}{reach} does not fit padded input "
                         f"{h + pt + pb}x{w + pl + pr} (input {h}x{w})")
    return ho, wo


def output_size_formula(size: int, k: int, stride: int = 1, pad: tuple[int, int] = (0, 0),
                        dilation: int = 1) -> str:
    """The output-size formula along one axis with the numbers filled in, e.g.
    ``"⌊(32 + 2·2 − 1·(5 − 1) − 1) / 1⌋ + 1 = 32"``; ``pad`` is ``(before, after)``."""
    before, after = pad
    pad_text = f"2·{before}" if before == after else f"{before} + {after}"
    out = F.conv_output_size(size + before + after, k, stride, 0, dilation)
    return f"⌊({size} + {pad_text} − {dilation}·({k} − 1) − 1) / {stride}⌋ + 1 = {out}"


# ----------------------------------------------------------------------------- filtering


def blur_images(images: np.ndarray, kernel, stride=1, padding="same", dilation=1,
                mode: str = "per_channel", batch_size: int = 256) -> np.ndarray:
    """Filter images with ``kernel`` through ``Conv2D.forward`` (the kernel as its weights,
    no bias).

    images: ``(N, C, H, W)`` uint8 (or float) on the 0–255 scale. kernel: ``(kh, kw)``, or a
    full ``(C, C, kh, kw)`` weight. ``padding``: ``"same"`` (see the module docstring), an int
    or an ``(h, w)`` pair of zero padding. ``mode``: see :func:`as_conv_weight`. Returns
    float32 ``(N, C, H', W')`` on the same scale, not clipped (a sharpen can leave 0–255).
    """
    x = np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"blur_images: expected images (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    weight = as_conv_weight(kernel, c, mode)  # (C, C, kh, kw)
    kh, kw = weight.shape[2:]
    (pt, pb), (pl, pr) = resolve_padding((kh, kw), padding, dilation)
    ho, wo = filtered_size(h, w, (kh, kw), stride, padding, dilation)
    conv = Conv2D(c, c, (kh, kw), stride=stride, padding=(pt, pl), dilation=dilation,
                  bias=False, init="zeros", dtype=np.float32)
    conv.set_params({"W": weight})
    out = np.empty((n, c, ho, wo), dtype=np.float32)  # (N, C, H', W')
    for start in range(0, n, batch_size):  # bounded memory for a whole dataset
        chunk = x[start:start + batch_size].astype(np.float32)
        if pb > pt or pr > pl:  # the odd "same" pixel goes after (bottom/right)
            chunk = np.pad(chunk, ((0, 0), (0, 0), (0, pb - pt), (0, pr - pl)))
        out[start:start + batch_size] = conv.forward(chunk)
    return out
