"""Kernel recovery: a fresh conv layer learns another conv layer's kernels from its outputs.

The classic exercise: a target ``Conv2D`` C0 (e.g. 20 filters of 5×5×3) filters some CIFAR
images; a fresh ``Conv2D`` C, initialized uniform in [-1, 1], is trained with the L2 loss
``MSELoss(C(x), C0(x))`` until its weights match C0's. Both layers have no bias and run in
float64; uint8 images are scaled to [0, 1].

Why the default optimizer is conjugate gradient: natural images are smooth, so their 5×5×3
patches are strongly correlated (on the CIFAR sample the patch covariance has a condition
number of about 10⁶). The loss is a quadratic whose valleys are that elongated, and SGD or
Adam bring the loss down quickly but need millions of steps to pin down the fine detail of
the kernels: max |C - C0| stalls near 1. Conjugate gradient uses the same gradient plus an
exact line search — exact because the loss is quadratic in the weights, so the best step
along a direction ``d`` has a closed form — and reaches max |C - C0| < 1e-3 in a few hundred
steps. Since it sees every image every step, the quadratic never changes: its gradient and
curvature come from the Gram matrix of the image patches, computed once
(:class:`_PatchQuadratic`, equal to ``Conv2D.backward``'s gradient up to rounding), so a
step costs an ``(F, K) x (K, K)`` product instead of convolutions over every image.
``optimizer="adam"`` or ``"sgd"`` shows the contrast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.engine import functional as F
from cnnlab.engine import optim
from cnnlab.engine.layers import Conv2D
from cnnlab.engine.losses import MSELoss

#: The exercise's setup: zero padding 2 (the 5×5 kernels see every pixel, borders too),
#: mini-batches of 20 photos for the first-order optimizers, 100 photos at most.
EXERCISE = {"padding": 2, "batch_size": 20, "max_images": 100}

#: rates tuned for this problem; other registered optimizers start from their own default
DEFAULT_LR = {"adam": 0.01, "sgd": 0.02}  # SGD with momentum 0.9; CG needs no rate


def optimizer_names() -> tuple[str, ...]:
    """``"cg"`` (this module's own) and every optimizer of the engine's registry."""
    return ("cg", *optim.OPTIMIZERS)


def default_lr(name: str) -> float | None:
    """The learning rate a run with optimizer ``name`` starts from (None for CG)."""
    if name == "cg":
        return None
    return DEFAULT_LR.get(name, optim.OPTIMIZERS[name].defaults()["lr"])


@dataclass(frozen=True)
class RecoveryReport:
    """Sent after every step. ``step`` counts updates (0 = the initial weights);
    ``loss`` is the MSE and ``max_abs_error`` max |C - C0| at the weights after the step;
    ``weights`` is a copy of C's ``(F, C, kh, kw)`` weights every ``weights_every`` steps
    and on the last step, else None."""

    step: int
    max_steps: int
    loss: float
    max_abs_error: float
    weights: np.ndarray | None = None


@dataclass(frozen=True)
class RecoveryResult:
    """The outcome: final ``loss`` and ``max_abs_error``, the learned ``weights`` and the
    ``target`` (float64 ``(F, C, kh, kw)``), the per-step ``losses``/``errors``
    (float64 ``(steps + 1,)``, from step 0), and whether it ``converged`` (error below the
    tolerance) or was ``stopped``."""

    steps: int
    loss: float
    max_abs_error: float
    weights: np.ndarray
    target: np.ndarray
    losses: np.ndarray
    errors: np.ndarray
    converged: bool
    stopped: bool


def random_target_kernels(n_filters: int = 20, in_channels: int = 3, size: int = 5,
                          seed: int | None = 0) -> np.ndarray:
    """Target kernels uniform in [-1, 1]: float64 ``(n_filters, in_channels, size, size)``."""
    for name, value in (("n_filters", n_filters), ("in_channels", in_channels), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"random_target_kernels: {name} must be a positive int, got {value!r}")
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n_filters, in_channels, size, size))


def load_target_kernels(path, in_channels: int | None = 3) -> np.ndarray:
    """Read target kernels from a ``.npy`` file: a numeric array ``(F, C, kh, kw)``, e.g.
    ``(20, 3, 5, 5)``. Never unpickles. ``in_channels`` (None: any) is the channel count the
    images have. Returns float64. Raises ``FileNotFoundError`` or ``ValueError`` naming the
    file and what is wrong with it."""
    path = Path(path)
    name = path.name
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such kernel file") from None
    if magic.startswith(b"PK"):
        raise ValueError(f"{name}: is an .npz archive; expected one .npy array of shape "
                         "(filters, channels, kh, kw)")
    if magic != b"\x93NUMPY":
        raise ValueError(f"{name}: not a .npy file (save the kernels with numpy.save)")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle; also garbled headers
        if "pickle" in str(exc).lower():
            raise ValueError(f"{name}: holds Python objects, not numbers; save a plain numeric "
                             "array with numpy.save") from None
        raise ValueError(f"{name}: not a readable .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{name}: truncated or unreadable .npy file ({exc})") from None
    if data.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected numbers, got an array of dtype {data.dtype}")
    if data.ndim != 4 or 0 in data.shape:
        raise ValueError(f"{name}: expected shape (filters, channels, kh, kw) such as "
                         f"(20, 3, 5, 5), got {data.shape}")
    if in_channels is not None and data.shape[1] != in_channels:
        raise ValueError(f"{name}: kernels have {data.shape[1]} input channels but the images "
                         f"have {in_channels} (shape {data.shape})")
    data = data.astype(np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return data


def _images(images, max_images: int | None) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"kernel recovery: expected images (N, C, H, W), got shape {x.shape}")
    if max_images is not None:
        x = x[:max_images]
    if x.dtype == np.uint8:
        return x.astype(np.float64) / 255.0
    if x.dtype.kind != "f":
        raise ValueError(f"kernel recovery: images must be uint8 or float, got {x.dtype}")
    return x.astype(np.float64)


def recover_kernels(images, target, *, optimizer: str = "cg", lr: float | None = None,
                    max_steps: int = 1000, tolerance: float | None = 1e-3, seed: int | None = 0,
                    max_images: int | None = 100, weights_every: int = 10,
                    padding: int = 0, batch_size: int | None = None,
                    init_sigma: float | None = None,
                    on_step: Callable[[RecoveryReport], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> RecoveryResult:
    """Train a fresh conv C (uniform[-1, 1] init from ``seed``) to reproduce ``target``.

    images: ``(N, C, H, W)`` uint8 (scaled to [0, 1]) or float, at most ``max_images`` used.
    target: C0's weights ``(F, C, kh, kw)`` (valid convolution, stride 1, no bias).
    optimizer: ``"cg"`` (conjugate gradient with exact line search, the default: see the
    module docstring), ``"adam"`` or ``"sgd"`` (momentum 0.9) with learning rate ``lr``
    (None: ``DEFAULT_LR``). Stops after ``max_steps`` updates, when max |C - C0| <
    ``tolerance`` (None: never), or when ``should_stop()`` (checked once per step, before
    the update) returns True. ``on_step`` receives a :class:`RecoveryReport` after step 0
    and after every update. A NaN/Inf loss (too high a learning rate) raises ValueError.
    ``padding``: zero padding of both convolutions (the exercise uses 2, see ``EXERCISE``).
    ``batch_size``: first-order optimizers step on mini-batches of that many images, drawn
    without replacement by ``seed`` (None: every image each step); the reported loss is
    then the mini-batch's. Conjugate gradient always uses every image (its line search is
    exact only for the whole quadratic). ``init_sigma``: C starts from N(0, σ²) instead of
    uniform[-1, 1] (the exercise tries σ = 1e-5).
    """
    if optimizer not in optimizer_names():
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of "
                         f"{', '.join(optimizer_names())}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
        raise ValueError(f"max_steps must be an int >= 0, got {max_steps!r}")
    if weights_every < 1:
        raise ValueError(f"weights_every must be >= 1, got {weights_every!r}")
    for name, value in (("padding", padding), ("batch_size", batch_size)):
        bad = isinstance(value, bool) or not isinstance(value, (int, np.integer))
        if value is not None and (bad or value < (0 if name == "padding" else 1)):
            raise ValueError(f"kernel recovery: {name} must be a whole number "
                             f"{'>= 0' if name == 'padding' else '>= 1'}, got {value!r}")
    if init_sigma is not None and not (isinstance(init_sigma, (int, float))
                                       and math.isfinite(init_sigma) and init_sigma > 0):
        raise ValueError(f"kernel recovery: init_sigma must be a positive number, got {init_sigma!r}")
    x = _images(images, max_images)  # (N, C, H, W) float64
    w0 = np.array(target, dtype=np.float64)  # (F, C, kh, kw)
    if w0.ndim != 4 or w0.shape[1] != x.shape[1]:
        raise ValueError(f"kernel recovery: target kernels must be (F, {x.shape[1]}, kh, kw) "
                         f"for images with {x.shape[1]} channels, got {w0.shape}")
    f, c, kh, kw = w0.shape
    c0 = Conv2D(c, f, (kh, kw), padding=padding, bias=False, init="zeros", dtype=np.float64)
    c0.set_params({"W": w0})
    y = c0.forward(x).copy()  # (N, F, H', W') the outputs C must reproduce
    # [seed, 1]: a stream apart from random_target_kernels(seed=seed), which would otherwise
    # hand the learner the target itself.
    init = ({"name": "uniform", "a": -1.0, "b": 1.0} if init_sigma is None
            else {"name": "normal", "sigma": float(init_sigma)})
    learner = Conv2D(c, f, (kh, kw), padding=padding, bias=False, dtype=np.float64, init=init,
                     rng=None if seed is None else np.random.default_rng([seed, 1]))
    mse = MSELoss()

    batches = _batches(len(x), None if optimizer == "cg" else batch_size, seed)
    # CG sees every image every step: one fixed quadratic, evaluated from patch statistics
    quadratic = _PatchQuadratic(learner, x, y) if optimizer == "cg" else None

    def loss_and_grad() -> float:
        if quadratic is not None:
            return quadratic.loss_and_grad(learner.params["W"], learner.grads["W"])
        idx = next(batches)  # every image, or the next mini-batch
        xb, yb = (x, y) if idx is None else (x[idx], y[idx])
        loss = mse.forward(learner.forward(xb), yb)
        learner.backward(mse.backward(), need_input_grad=False)  # fills learner.grads["W"]
        return loss

    if optimizer != "cg" and lr is None:
        lr = default_lr(optimizer)
    step_fn = (_conjugate_gradient(learner, quadratic) if optimizer == "cg"
               else _first_order(learner, optimizer, lr))
    losses, errors = [], []
    stopped = False
    step = 0
    while True:
        loss = loss_and_grad()
        if not math.isfinite(loss):
            raise ValueError(f"kernel recovery diverged at step {step} (loss {loss}, "
                             f"{optimizer} learning rate {lr}); try a smaller learning rate")
        err = float(np.abs(learner.params["W"] - w0).max())
        losses.append(loss)
        errors.append(err)
        done = (tolerance is not None and err < tolerance) or step >= max_steps
        stopped = not done and should_stop is not None and bool(should_stop())
        if on_step is not None:
            keep = done or stopped or step % weights_every == 0
            on_step(RecoveryReport(step, max_steps, loss, err,
                                   learner.params["W"].copy() if keep else None))
        if done or stopped:
            break
        step_fn()
        step += 1
    return RecoveryResult(step, losses[-1], errors[-1], learner.params["W"].copy(), w0,
                          np.array(losses), np.array(errors),
                          tolerance is not None and errors[-1] < tolerance, stopped)


def _batches(n: int, batch_size: int | None, seed: int | None):
    """Yield None forever (full batch), or index arrays of ``batch_size`` images: a fresh
    permutation (drawn by ``seed``) per pass, as a mini-batch epoch loop does."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    rng = np.random.default_rng(None if seed is None else [seed, 2])
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):  # a short tail is dropped
            yield order[start:start + batch_size]


def _first_order(learner: Conv2D, name: str, lr: float) -> Callable[[], None]:
    return optim.make_optimizer(name, [learner], lr=lr).step


class _PatchQuadratic:
    """The full-batch MSE ``‖C(x) − y‖² / size`` of a bias-free conv C as the quadratic in
    C's weights that it is. With P the patches of x (im2col, one column per output pixel,
    ``(K, M)``, K = C·kh·kw) and Y the targets ``(F, M)``, and W ``(F, K)``:

        loss(W) = (tr(W G Wᵀ) − 2 tr(W Bᵀ) + ‖Y‖²) / size,   G = P Pᵀ (K, K),  B = Y Pᵀ (F, K)
        ∇loss(W) = 2 (W G − B) / size,   curvature along D: 2 tr(D G Dᵀ) / size

    The images never change, so G and B are computed once (one im2col) and every step costs
    an ``(F, K) x (K, K)`` product instead of two convolutions over every image (65 s → well
    under a second for the default run, and no big BLAS calls to starve the GUI thread). Same
    numbers as ``Conv2D.forward``/``backward`` with ``MSELoss`` up to rounding
    (tests/lab/test_recovery_quadratic.py checks it against them)."""

    CHUNK = 16  # images per im2col: bounded scratch memory for 100 photos

    def __init__(self, conv: Conv2D, x: np.ndarray, y: np.ndarray):
        f, k = conv.out_channels, conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        geo = F.ConvGeometry(x.shape[2], x.shape[3], conv.kernel_size, conv.stride,
                             conv.padding, conv.dilation)
        self.gram, self.cross = np.zeros((k, k)), np.zeros((f, k))
        for start in range(0, len(x), self.CHUNK):
            xb, yb = x[start:start + self.CHUNK], y[start:start + self.CHUNK]
            cols = F.im2col(F.pad_flat(xb, geo), geo)  # (K, n, col_length), junk columns too
            real = F.columns_as_images(cols, len(xb), geo.col_pitch, geo.out_hw)  # (n, K, H', W')
            p = np.ascontiguousarray(real.transpose(1, 0, 2, 3)).reshape(k, -1)  # (K, n·H'·W')
            targets = yb.transpose(1, 0, 2, 3).reshape(f, -1)  # (F, n·H'·W'), same order
            self.gram += p @ p.T
            self.cross += targets @ p.T
        self.yy, self.size = float(np.vdot(y, y)), y.size

    def loss_and_grad(self, weights: np.ndarray, grad_out: np.ndarray) -> float:
        """The MSE at ``weights`` ``(F, C, kh, kw)``; writes its gradient into ``grad_out``."""
        w = weights.reshape(len(weights), -1)  # (F, K)
        wg = w @ self.gram  # (F, K)
        loss = (float(np.vdot(w, wg)) - 2.0 * float(np.vdot(w, self.cross)) + self.yy) / self.size
        np.multiply(wg - self.cross, 2.0 / self.size, out=grad_out.reshape(w.shape))
        return max(loss, 0.0) if math.isfinite(loss) else loss  # rounding can dip below 0

    def curvature(self, d: np.ndarray) -> float:
        """``dᵀ H d`` of the loss along ``d`` ``(F, C, kh, kw)``."""
        d2 = d.reshape(len(d), -1)
        return 2.0 * float(np.vdot(d2, d2 @ self.gram)) / self.size


def _conjugate_gradient(learner: Conv2D, quadratic: _PatchQuadratic) -> Callable[[], None]:
    """Linear conjugate gradient (Fletcher–Reeves) on the quadratic MSE loss; each call uses
    the gradient already in ``learner.grads["W"]`` and moves ``learner.params["W"]``."""
    state = {"d": None, "rr": None}

    def step() -> None:
        r = -learner.grads["W"]  # (F, C, kh, kw) steepest descent direction
        rr = float(np.vdot(r, r))
        if rr == 0.0:
            return  # already exact
        d = r if state["d"] is None else r + (rr / state["rr"]) * state["d"]
        alpha = float(np.vdot(r, d)) / quadratic.curvature(d)  # exact line search
        learner.params["W"] += alpha * d
        state["d"], state["rr"] = d, rr

    return step
