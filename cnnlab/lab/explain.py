"""Why did the network say 3? Saliency, occlusion, Grad-CAM and adversarial examples.

Every function takes one image ``x`` of shape ``(C, H, W)``, floats in [0, 1], and a class
index ``target``; none of them changes the model (weights, gradients and train/eval modes
are left exactly as they were). The Draw tab shows these as overlays on the 28×28 input:

- :func:`input_gradient`: d logit[target] / d x, "which pixels move the score most";
- :func:`occlusion`: how much the target's probability drops when a patch is covered;
- :func:`grad_cam`: where the last conv layer looked (Selvaraju et al. 2017);
- :func:`fgsm`: the fast gradient sign attack (Goodfellow et al. 2015) and its iterative
  version (Kurakin et al. 2016), and :func:`smallest_flipping_eps`.

``lr_find`` (``lab/lr_finder.py``) and ``gradient_stats`` (``lab/diagnostics.py``) answer
"why is my network not learning?" and are importable from here too.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from cnnlab.engine.layers import Conv2D
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential
from cnnlab.lab.diagnostics import gradient_stats
from cnnlab.lab.lr_finder import lr_find, suggest_lr

__all__ = ["Explanation", "explain_image", "input_gradient", "occlusion", "occlusion_map", "grad_cam", "fgsm",
           "fgsm_batch", "flips", "smallest_flipping_eps", "lr_find", "suggest_lr", "gradient_stats"]


# ------------------------------------------------------------------ checks
def _image(model, x) -> np.ndarray:
    """``x`` as a float array of the model's input shape, values in [0, 1]."""
    x = np.asarray(x)
    if x.shape != tuple(model.input_shape):
        raise ValueError(f"expected one image of shape {tuple(model.input_shape)} (C, H, W), "
                         f"got {x.shape}")
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError(f"image values must be finite and in [0, 1], got "
                         f"{float(np.nanmin(x)):g} … {float(np.nanmax(x)):g}")
    return x


def _class(model, target) -> int:
    k = int(np.prod(model.output_shape))
    if not isinstance(target, Integral) or isinstance(target, bool) or not 0 <= target < k:
        raise ValueError(f"target must be a class index in [0, {k}), got {target!r}")
    return int(target)


def _compute_model(model, x: np.ndarray):
    """The model to differentiate: ``model`` itself, or a float64 copy when ``x`` is
    float64 and the model float32 (so float64 inputs get float64 gradients)."""
    if x.dtype == np.float64 and model.dtype != np.float64:
        copy = model.copy()
        return Sequential(copy.layers, copy.input_shape, dtype=np.float64)
    return model


@contextmanager
def _untouched(model):
    """Eval mode inside; afterwards every gradient array holds its old values again (in
    place, so an optimizer holding them is unaffected) and every layer its old mode."""
    saved = [(g, g.copy()) for layer in model.layers for g in layer.grads.values()]
    modes = [layer.training for layer in model.layers]
    model.eval()
    try:
        yield model
    finally:
        for g, old in saved:
            np.copyto(g, old)
        for layer, mode in zip(model.layers, modes):
            layer.training = mode


def _onehot(logits: np.ndarray, target) -> np.ndarray:
    g = np.zeros_like(logits)  # (N, K)
    g[np.arange(len(logits)), target] = 1
    return g


# ---------------------------------------------------------------- saliency
def input_gradient(model, x, target) -> np.ndarray:
    """``d logit[target] / d x`` for one image ``x`` ``(C, H, W)``: an array of the same
    shape, float64 when ``x`` is float64 (computed on a float64 copy of a float32 model),
    else in the model's dtype. The logit is the model's output before softmax."""
    x = _image(model, x)
    target = _class(model, target)
    m = _compute_model(model, x)
    with _untouched(m):
        logits = m.forward(x[None].astype(m.dtype, copy=False))  # (1, K)
        dx = m.backward(_onehot(logits, target))  # (1, C, H, W)
    return dx[0]


# --------------------------------------------------------------- occlusion
def _positions(size: int, patch: int, stride: int) -> range:
    return range(0, size - patch + 1, stride)


def occlusion(model, x, target, patch=4, stride=2, fill=0.0) -> np.ndarray:
    """The drop in the target's probability when a ``patch``×``patch`` square (every
    channel) is set to ``fill``, for each top-left corner ``(i·stride, j·stride)`` that
    fits: float64 ``(rows, cols)``, positive where covering costs probability. A patch
    that changes no pixel (already ``fill``) drops exactly 0."""
    x = _image(model, x)
    target = _class(model, target)
    _, h, w = x.shape
    for name, value in (("patch", patch), ("stride", stride)):
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"occlusion: {name} must be a positive integer, got {value!r}")
    if patch > min(h, w):
        raise ValueError(f"occlusion: patch {patch} is larger than the {h}x{w} image")
    if not isinstance(fill, Real) or not math.isfinite(fill):
        raise ValueError(f"occlusion: fill must be a finite number, got {fill!r}")
    rows, cols = _positions(h, patch, stride), _positions(w, patch, stride)
    drops = np.zeros((len(rows), len(cols)))
    covered, where = [], []
    for r, i in enumerate(rows):
        for c, j in enumerate(cols):
            window = x[:, i:i + patch, j:j + patch]
            if np.all(window == fill):
                continue  # nothing changes: the probability cannot drop
            xo = x.copy()
            xo[:, i:i + patch, j:j + patch] = fill
            covered.append(xo)
            where.append((r, c))
    if covered:
        base = float(model.predict_proba(x)[target])
        probs = model.predict_proba(np.stack(covered), batch_size=128)[:, target]  # (n,)
        for (r, c), p in zip(where, probs):
            drops[r, c] = base - float(p)
    return drops


def occlusion_map(drops: np.ndarray, shape, patch: int, stride: int) -> np.ndarray:
    """Spread :func:`occlusion`'s ``(rows, cols)`` drops over an image of ``shape``
    ``(H, W)``: each pixel gets the mean drop of the patches covering it (0 if none)."""
    h, w = shape
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    for r, i in enumerate(_positions(h, patch, stride)):
        for c, j in enumerate(_positions(w, patch, stride)):
            total[i:i + patch, j:j + patch] += drops[r, c]
            count[i:i + patch, j:j + patch] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


# ----------------------------------------------------------------- Grad-CAM
def cam_layer(model, layer=None) -> int:
    """Index of the layer Grad-CAM reads: ``layer`` (an index whose output is ``(C, h, w)``)
    or, when None, the last ``Conv2D``."""
    if layer is None:
        convs = [i for i, lay in enumerate(model.layers) if isinstance(lay, Conv2D)]
        if not convs:
            raise ValueError("Grad-CAM needs a conv layer, and this model has none")
        return convs[-1]
    if not isinstance(layer, Integral) or not 0 <= layer < len(model.layers) - 1:
        raise ValueError(f"grad_cam: layer must be an index in [0, {len(model.layers) - 1}), "
                         f"got {layer!r}")
    if len(model.shapes[layer]) != 3:
        raise ValueError(f"grad_cam: {model.layers[layer].label} outputs "
                         f"{model.shapes[layer]}, not feature maps (C, H, W)")
    return int(layer)


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of ``(h0, w0)`` to ``(h, w)`` with pixel centres aligned (a constant
    stays exactly constant)."""
    h0, w0 = a.shape
    ys = np.clip((np.arange(h) + 0.5) * h0 / h - 0.5, 0, h0 - 1)
    xs = np.clip((np.arange(w) + 0.5) * w0 / w - 0.5, 0, w0 - 1)
    rows = np.stack([np.interp(ys, np.arange(h0), a[:, j]) for j in range(w0)], axis=1)  # (h, w0)
    return np.stack([np.interp(xs, np.arange(w0), rows[i]) for i in range(h)])  # (h, w)


def grad_cam(model, x, target, layer=None) -> np.ndarray:
    """Grad-CAM: ``ReLU(Σ_k α_k A_k)`` where ``A_k`` are the feature maps of ``layer`` (the
    last conv layer by default) and ``α_k`` the spatial mean of d logit[target] / d A_k;
    bilinearly upsampled to the input's ``(H, W)``. float64, ≥ 0, not normalized."""
    x = _image(model, x)
    target = _class(model, target)
    index = cam_layer(model, layer)
    m = _compute_model(model, x)
    with _untouched(m):
        a = x[None].astype(m.dtype, copy=False)
        for lay in m.layers[: index + 1]:
            a = lay.forward(a)
        maps = a  # (1, K, h, w)
        for lay in m.layers[index + 1:]:
            a = lay.forward(a)
        g = _onehot(a, target)
        for lay in reversed(m.layers[index + 1:]):
            g = lay.backward(g)
    alpha = g[0].astype(np.float64).mean(axis=(1, 2))  # (K,)
    feats = maps[0].astype(np.float64)
    cam = np.zeros(feats.shape[1:])
    for k in range(len(alpha)):  # the same arithmetic at every position: a flat input stays flat
        cam += alpha[k] * feats[k]
    return _resize(np.maximum(cam, 0), *x.shape[1:])


# ---------------------------------------------------------------------- FGSM
def _project(adv: np.ndarray, x: np.ndarray, eps: float) -> np.ndarray:
    """``adv`` clipped into ``[x − eps, x + eps] ∩ [0, 1]``, exactly: a value that rounding
    put a hair outside is moved one ulp at a time towards ``x``."""
    adv = np.clip(np.clip(adv, x - eps, x + eps), 0, 1).astype(x.dtype, copy=False)
    bad = np.abs(adv - x) > eps
    while bad.any():
        adv[bad] = np.nextafter(adv[bad], x[bad])
        bad = np.abs(adv - x) > eps
    return adv


def _attack_args(eps, steps, step_size) -> tuple[float, float]:
    if not isinstance(eps, Real) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"fgsm: eps must be a finite number >= 0, got {eps!r}")
    if not isinstance(steps, Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"fgsm: steps must be a positive integer, got {steps!r}")
    if step_size is None:
        step_size = eps if steps == 1 else 2.5 * eps / steps
    elif not isinstance(step_size, Real) or not math.isfinite(step_size) or step_size < 0:
        raise ValueError(f"fgsm: step_size must be a finite number >= 0, got {step_size!r}")
    return float(eps), float(step_size)


def fgsm_batch(model, xs, eps, targets=None, steps=1, step_size=None) -> np.ndarray:
    """:func:`fgsm` on a batch ``xs`` ``(N, C, H, W)`` at once; ``targets`` is None
    (untargeted) or ``N`` class indices. Each image is attacked independently."""
    xs = np.asarray(xs)
    if xs.ndim != len(model.input_shape) + 1:
        raise ValueError(f"fgsm_batch: expected images (N, {', '.join(map(str, model.input_shape))}),"
                         f" got {xs.shape}")
    xs = np.stack([_image(model, x) for x in xs]) if len(xs) else xs.astype(np.float32)
    eps, step_size = _attack_args(eps, steps, step_size)
    if targets is not None:
        targets = np.array([_class(model, int(t)) for t in np.asarray(targets).ravel()])
        if len(targets) != len(xs):
            raise ValueError(f"fgsm_batch: {len(xs)} images but {len(targets)} targets")
    if len(xs) == 0:
        return xs.copy()
    m = _compute_model(model, xs)
    loss = SoftmaxCrossEntropy()
    with _untouched(m):
        x0 = xs.astype(m.dtype, copy=False)
        if targets is None:  # away from what it says now: climb that class's loss
            labels, direction = m.forward(x0).argmax(axis=1), 1.0
        else:  # towards the target: descend its loss
            labels, direction = targets, -1.0
        adv = x0.copy()
        for _ in range(steps):
            loss.forward(m.forward(adv), labels)
            grad = m.backward(loss.backward())  # d loss / d x, (N, C, H, W)
            adv = _project(adv + (direction * step_size) * np.sign(grad), x0, eps)
    return _project(adv.astype(xs.dtype, copy=False), xs, eps)


def fgsm(model, x, eps, target=None, steps=1, step_size=None) -> np.ndarray:
    """Adversarial version of ``x``: ``steps`` signed-gradient steps of ``step_size``
    (``eps`` for one step, else ``2.5·eps/steps``), each followed by projection back into
    ``[0, 1]`` and the max-norm ball of radius ``eps`` around ``x``. Untargeted
    (``target`` None): increases the loss of the class the model predicts for ``x``;
    targeted: decreases the loss of ``target``. Returns an array like ``x``."""
    x = _image(model, x)
    if target is not None:
        target = [_class(model, target)]
    return fgsm_batch(model, x[None], eps, target, steps, step_size)[0]


def flips(model, x, x_adv, target=None) -> bool:
    """Whether ``x_adv`` fooled the model: its prediction differs from that of ``x``
    (untargeted) or equals ``target``."""
    before, after = model.predict(np.stack([x, x_adv]).astype(model.dtype))
    return bool(after != before) if target is None else bool(after == target)


def smallest_flipping_eps(model, x, target=None, steps=1, eps_max=0.3, tolerance=0.005):
    """``(eps, x_adv)`` for the smallest ``eps`` in ``(0, eps_max]`` (to ``tolerance``,
    found by bisection) at which :func:`fgsm` with ``steps`` fools the model, or None
    when even ``eps_max`` does not."""
    x = _image(model, x)
    adv = fgsm(model, x, eps_max, target, steps)
    if not flips(model, x, adv, target):
        return None
    low, high, best = 0.0, float(eps_max), adv
    while high - low > tolerance:
        mid = (low + high) / 2
        trial = fgsm(model, x, mid, target, steps)
        if flips(model, x, trial, target):
            high, best = mid, trial
        else:
            low = mid
    return high, best


@dataclass(frozen=True)
class Explanation:
    """The Draw tab's three overlays for one image and target, each float64 ``(H, W)``:
    the saliency summed over channels, the occlusion drop spread over the pixels, and
    Grad-CAM (None for a model without conv layers); ``probability`` of the target."""

    target: int
    probability: float
    saliency: np.ndarray
    occlusion: np.ndarray
    grad_cam: np.ndarray | None


def explain_image(model, x, target, patch=4, stride=2) -> Explanation:
    """All three explanations of ``model``'s score for ``target`` on ``x`` ``(C, H, W)``."""
    x = _image(model, x)
    target = _class(model, target)
    saliency = input_gradient(model, x, target).sum(axis=0).astype(np.float64)
    drops = occlusion_map(occlusion(model, x, target, patch, stride), x.shape[1:], patch, stride)
    has_conv = any(isinstance(layer, Conv2D) for layer in model.layers)
    cam = grad_cam(model, x, target) if has_conv else None
    p = float(model.predict_proba(x)[target])
    return Explanation(target, p, saliency, drops, cam)
