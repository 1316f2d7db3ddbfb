"""Time one training step (forward, loss, backward, SGD update) at batch 64 for the four
nets of issue 3, with cnnlab's NumPy engine, the textbook loop implementation (net 1)
and PyTorch CPU (when installed), and print the ratios as a Markdown table.

    python benchmarks/bench_engine.py            # all cores, ~1 minute
    python benchmarks/bench_engine.py --threads 1

NumPy's BLAS and PyTorch get the same number of threads (``--threads``, default: every
core this process may use): the BLAS variables are set before NumPy is imported and
``torch.set_num_threads`` is called with the same value. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="BLAS / torch threads (default: all usable cores)")
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="time budget per net and implementation (default 1.5)")
    parser.add_argument("--loop-images", type=int, default=4,
                        help="images the loop implementation runs; its time is scaled to 64")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # must happen before NumPy loads its BLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import cnnlab  # noqa: E402, F401  (before NumPy: sets OpenBLAS's idle spin, as the app does)

# isort: split
import numpy as np  # noqa: E402

from cnnlab.engine import layers as L  # noqa: E402
from cnnlab.engine import reference as loops  # noqa: E402
from cnnlab.engine.losses import SoftmaxCrossEntropy  # noqa: E402
from cnnlab.engine.model import Sequential  # noqa: E402
from cnnlab.engine.optim import SGD  # noqa: E402

BATCH = 64
EPOCH_IMAGES = 60_000

# (name, input shape, layer specs): ("conv", c_in, c_out, k, pad), ("pool",), ("relu",),
# ("flatten",), ("dense", in, out). Both engines are built from the same specs.
NETS = [
    ("1: conv3x3x9 → pool → dense", (1, 28, 28),
     [("conv", 1, 9, 3, 0), ("pool",), ("flatten",), ("dense", 1521, 10)]),
    ("2: conv3x3x8 p1 → pool → 100 → 10", (1, 28, 28),
     [("conv", 1, 8, 3, 1), ("relu",), ("pool",), ("flatten",), ("dense", 1568, 100),
      ("relu",), ("dense", 100, 10)]),
    ("3: LeNet-like 32/64 5x5", (1, 28, 28),
     [("conv", 1, 32, 5, 2), ("relu",), ("pool",), ("conv", 32, 64, 5, 2), ("relu",),
      ("pool",), ("flatten",), ("dense", 3136, 128), ("relu",), ("dense", 128, 10)]),
    ("4: CIFAR-10 32/64 3x3", (3, 32, 32),
     [("conv", 3, 32, 3, 1), ("relu",), ("pool",), ("conv", 32, 64, 3, 1), ("relu",),
      ("pool",), ("flatten",), ("dense", 4096, 128), ("relu",), ("dense", 128, 10)]),
]


def engine_net(specs, shape, dtype=np.float32) -> Sequential:
    build = {"conv": lambda ci, co, k, p: L.Conv2D(ci, co, k, padding=p, dtype=dtype, rng=0),
             "pool": lambda: L.MaxPool2D(2), "relu": L.ReLU, "flatten": L.Flatten,
             "dense": lambda i, o: L.Dense(i, o, dtype=dtype, rng=1)}
    return Sequential([build[s[0]](*s[1:]) for s in specs], shape)


def torch_net(specs):
    import torch.nn as nn

    build = {"conv": lambda ci, co, k, p: nn.Conv2d(ci, co, k, padding=p),
             "pool": lambda: nn.MaxPool2d(2), "relu": nn.ReLU, "flatten": nn.Flatten,
             "dense": nn.Linear}
    return nn.Sequential(*[build[s[0]](*s[1:]) for s in specs])


def median_ms(fns: dict, seconds: float, min_runs: int = 5, warmup: int = 2,
              block: int = 3, settle: float = 0.05) -> dict:
    """Median wall time in ms of each callable in ``fns`` (name -> fn).

    The callables take turns in blocks of ``block`` counted runs, so a machine whose load
    drifts during the run slows all of them alike. Before each block the callable runs
    uncounted for ``settle`` seconds (at least once): the previous library's idle worker
    threads spin a while before they sleep (OpenMP's for ~10 ms, OpenBLAS's for what
    ``OPENBLAS_THREAD_TIMEOUT`` says) and would steal the cores. At least ``min_runs``
    counted runs each, and ``seconds``."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    start = time.perf_counter()
    while min(len(t) for t in times.values()) < min_runs or time.perf_counter() - start < seconds:
        for name, fn in fns.items():
            settled = time.perf_counter() + settle
            fn()
            while time.perf_counter() < settled:
                fn()
            for _ in range(block):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def engine_step(specs, shape, x, y):
    """A function running one engine training step on batch ``x``, ``y``."""
    model = engine_net(specs, shape)
    opt, loss = SGD(model, lr=0.01), SoftmaxCrossEntropy()

    def step():
        loss.forward(model.forward(x), y)
        model.backward(loss.backward(), need_input_grad=False)
        opt.step()

    return step


def torch_step(specs, x, y):
    """The same step in PyTorch (SGD, cross-entropy, zero_grad first)."""
    import torch

    model = torch_net(specs)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss_fn(model(tx), ty).backward()
        opt.step()

    return step


def loop_train_step(params, x, y, lr=0.01):
    """One SGD step of net 1 (conv3x3x9 → max pool 2 → dense → softmax) written with the
    textbook loops of ``cnnlab.engine.reference`` on images ``x`` (N, 1, 28, 28), labels
    ``y`` (N,). ``params``: ``conv_w`` (9, 1, 3, 3), ``conv_b`` (9,), ``dense_w`` (1521, 10),
    ``dense_b`` (10,), updated in place. Returns (loss, grads before the update)."""
    a1 = loops.conv_forward(x, params["conv_w"], params["conv_b"])  # (N, 9, 26, 26)
    a2 = loops.pool_forward(a1, 2, 2, "max")                         # (N, 9, 13, 13)
    flat = a2.reshape(len(x), -1)                                    # (N, 1521)
    logits = flat @ params["dense_w"] + params["dense_b"]            # (N, 10)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(len(x)), y]))
    dlogits = probs.copy()
    dlogits[np.arange(len(x)), y] -= 1
    dlogits /= len(x)
    grads = {"dense_w": flat.T @ dlogits, "dense_b": dlogits.sum(axis=0)}
    da2 = (dlogits @ params["dense_w"].T).reshape(a2.shape)
    da1 = loops.pool_backward(da2, a1, 2, 2, "max")
    _, grads["conv_w"], grads["conv_b"] = loops.conv_backward(da1, x, params["conv_w"])
    for key, grad in grads.items():
        params[key] -= lr * grad
    return float(loss), grads


def loop_params_from(model: Sequential) -> dict:
    conv, dense = model.layers[0], model.layers[3]
    return {"conv_w": conv.params["W"].copy(), "conv_b": conv.params["b"].copy(),
            "dense_w": dense.params["W"].copy(), "dense_b": dense.params["b"].copy()}


def check_loop_matches_engine(specs, shape) -> None:
    """The loop implementation and the engine must agree before one is timed against
    the other (float64, 2 images)."""
    model = engine_net(specs, shape, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.random((2, *shape)), np.array([3, 7])
    loss = SoftmaxCrossEntropy()
    value = loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    loop_value, grads = loop_train_step(loop_params_from(model), x, y)
    assert abs(value - loop_value) < 1e-10, (value, loop_value)
    np.testing.assert_allclose(grads["conv_w"], model.layers[0].grads["W"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(grads["dense_w"], model.layers[3].grads["W"], rtol=1e-8, atol=1e-12)


def loop_step_ms(specs, shape, x, y, images: int) -> float:
    """Loop implementation on ``images`` images, scaled linearly to a 64-image batch
    (its cost is exactly linear in the batch: every image is its own loop)."""
    params = loop_params_from(engine_net(specs, shape))
    t = time.perf_counter()
    loop_train_step(params, x[:images], y[:images])
    return 1e3 * (time.perf_counter() - t) * BATCH / images


def inference_ms(specs, shape, seconds, use_torch: bool) -> dict:
    """One image through the LeNet-like net: engine ``predict_proba`` vs torch eval."""
    model = engine_net(specs, shape).eval()
    image = np.random.default_rng(2).random(shape, dtype=np.float32)  # (C, H, W)
    fns = {"numpy": lambda: model.predict_proba(image)}
    if use_torch:
        import torch

        net = torch_net(specs).eval()
        timage = torch.from_numpy(image[None])

        def run():
            with torch.no_grad():
                net(timage).softmax(1)

        fns["torch"] = run
    return median_ms(fns, seconds, min_runs=50, warmup=10, block=20)


def step_gflop(specs, shape) -> float:
    """Useful GFLOP of one training step: 2·M·N·K per matrix product, three per conv and
    dense layer (forward, weight gradient, input gradient; no input gradient for the first
    layer, as in the step timed). Element-wise work (ReLU, pooling, bias, loss) is left
    out: it is memory traffic, not arithmetic. Junk columns are not counted."""
    model = engine_net(specs, shape)
    flop, size, first = 0, tuple(shape), True
    for layer in model.layers:
        out = layer.output_shape(size)
        if isinstance(layer, L.Conv2D):
            k = layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
            flop += (2 if first else 3) * 2 * BATCH * out[0] * out[1] * out[2] * k
            first = False
        elif isinstance(layer, L.Dense):
            flop += (2 if first else 3) * 2 * BATCH * layer.in_features * layer.out_features
            first = False
        size = out
    return flop / 1e9


def gemm_peak_gflops(size: int = 2048, repeats: int = 3) -> float:
    """The machine's float32 GEMM rate with the BLAS threads of this run: the best of
    ``repeats`` ``size x size`` products, in GFLOP/s."""
    rng = np.random.default_rng(3)
    a, b = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fmt(value, digits=1, suffix=""):
    return "–" if value is None else f"{value:,.{digits}f}{suffix}"


def main(args) -> None:
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
        except ImportError:
            use_torch = False
        else:
            torch.set_num_threads(args.threads)
    print(f"numpy {np.__version__}, {args.threads} BLAS thread(s)"
          + (f"; torch {torch.__version__} CPU, torch.set_num_threads({args.threads})"
             if use_torch else "; torch not installed (no comparison)"))
    print(f"batch {BATCH}, float32, one step = forward + loss + backward + SGD update; "
          f"median of >= 5 steps, libraries alternating in blocks; "
          f"s/epoch = ms/step x {EPOCH_IMAGES:,}/{BATCH}\n")

    peak_before = gemm_peak_gflops()  # measured again after the nets; the higher counts
    rows = []
    rng = np.random.default_rng(0)
    for name, shape, specs in NETS:
        x = rng.random((BATCH, *shape), dtype=np.float32)
        y = rng.integers(0, 10, BATCH)
        fns = {"numpy": engine_step(specs, shape, x, y)}
        if use_torch:
            fns["torch"] = torch_step(specs, x, y)
        ms = median_ms(fns, args.seconds)
        loop = None
        if name.startswith("1:"):
            check_loop_matches_engine(specs, shape)
            loop = loop_step_ms(specs, shape, x, y, args.loop_images)
        rows.append((name, ms["numpy"], loop, ms.get("torch")))

    print("| net | numpy ms/step | loop ms/step | torch ms/step | loop / numpy | "
          "numpy / torch | numpy s/epoch | torch s/epoch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    epoch = EPOCH_IMAGES / BATCH / 1e3
    for name, ours, loop, theirs in rows:
        print(f"| {name} | {fmt(ours, 2)} | {fmt(loop, 0)} | {fmt(theirs, 2)} | "
              f"{fmt(loop and loop / ours, 0, '×')} | {fmt(theirs and ours / theirs, 2, '×')} | "
              f"{fmt(ours * epoch)} | {fmt(theirs and theirs * epoch)} |")

    peak = max(peak_before, gemm_peak_gflops())
    print(f"\nroofline: float32 GEMM peak measured here {peak:.0f} GFLOP/s "
          f"(2048² matmul, best before/after the nets, {args.threads} thread(s)); GFLOP/step counts "
          f"the matrix products only\n")
    print("| net | GFLOP/step | numpy GFLOP/s | numpy % of peak | torch GFLOP/s | "
          "torch % of peak |")
    print("|---|---:|---:|---:|---:|---:|")
    for (name, shape, specs), (_, ours, _, theirs) in zip(NETS, rows):
        gf = step_gflop(specs, shape)
        rate, trate = gf / ours * 1e3, theirs and gf / theirs * 1e3
        print(f"| {name} | {gf:.3f} | {rate:.1f} | {100 * rate / peak:.0f} % | {fmt(trate)} | "
              f"{fmt(trate and 100 * trate / peak, 0, ' %')} |")

    name, shape, specs = NETS[2]
    ms = inference_ms(specs, shape, args.seconds / 2, use_torch)
    print(f"\nsingle-image inference, LeNet-like (predict_proba, batch 1): "
          f"numpy {ms['numpy']:.3f} ms" + (f", torch {ms['torch']:.3f} ms" if use_torch else ""))
    print(f"loop column: {args.loop_images} images timed, scaled x{BATCH / args.loop_images:g} "
          f"(cost is linear in the batch); checked against the engine first")


if __name__ == "__main__":
    main(ARGS)
