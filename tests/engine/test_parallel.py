"""Batch passes split over threads (cnnlab.engine.parallel) give the very same numbers as
one thread: every image is computed by the same operations, only on another thread."""

import threading

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine import parallel
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential


@pytest.fixture
def split_everything(monkeypatch):
    """Split every pass, however small, over 3 threads (restored afterwards)."""
    before = parallel.threads()
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    yield lambda n: parallel.set_threads(n)
    parallel.set_threads(before)


def _net(conv_kw: dict, pool: str, dtype):
    features = [
        L.Conv2D(2, 4, 3, dtype=dtype, rng=0, **conv_kw), L.ReLU(),
        L.MaxPool2D(2) if pool == "max" else L.AvgPool2D(2, 1),
        L.Conv2D(4, 3, 3, padding=1, dtype=dtype, rng=1), L.ReLU(), L.Flatten()]
    width = Sequential(features, (2, 12, 12)).output_shape[0]
    return Sequential([*features, L.Dense(width, 5, dtype=dtype, rng=2)], (2, 12, 12))


def _step(model, x, y):
    loss = SoftmaxCrossEntropy()
    out = model.forward(x)
    value = loss.forward(out, y)
    dx = model.backward(loss.backward())
    return out.copy(), value, dx.copy(), {k: g.copy() for k, g in model.get_weights().items()}, {
        f"{i}.{k}": g.copy() for i, layer in enumerate(model.layers) for k, g in layer.grads.items()}


@pytest.mark.parametrize("conv_kw", [{"padding": 1}, {"stride": 2, "padding": 1},
                                     {"dilation": 2, "padding": 2}, {}])
@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_passes_equal_one_thread_bit_for_bit(split_everything, conv_kw, pool, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 2, 12, 12)).astype(dtype)  # 7: uneven slices
    x[0, 0, :2, :2] = 0.5  # ties inside a pool window
    y = rng.integers(0, 5, 7)
    results = []
    for threads in (1, 3):
        split_everything(threads)
        model = _net(conv_kw, pool, dtype)
        results.append(_step(model, x, y))
    (out1, loss1, dx1, _, g1), (out3, loss3, dx3, _, g3) = results
    np.testing.assert_array_equal(out1, out3)
    assert loss1 == loss3
    np.testing.assert_array_equal(dx1, dx3)
    assert g1.keys() == g3.keys()
    for key in g1:
        np.testing.assert_array_equal(g1[key], g3[key], err_msg=key)


def test_over_batch_covers_every_index_once_and_uses_threads(split_everything):
    split_everything(3)
    seen, names = [], set()

    def work(a, b):
        seen.extend(range(a, b))
        names.add(threading.current_thread().name)

    parallel.over_batch(10, 10, work)
    assert sorted(seen) == list(range(10))
    assert len(names) > 1  # the slices really ran on more than one thread


def test_over_batch_small_pass_stays_on_the_calling_thread(monkeypatch):
    parallel.set_threads(2)
    calls = []
    try:
        parallel.over_batch(64, parallel.MIN_ELEMENTS - 1,
                            lambda a, b: calls.append((a, b, threading.current_thread())))
    finally:
        parallel.set_threads(1)
    assert calls == [(0, 64, threading.current_thread())]


def test_over_batch_reraises_a_slice_error(split_everything):
    split_everything(2)

    def work(a, b):
        if a == 0:
            raise ValueError("slice 0 broke")

    with pytest.raises(ValueError, match="slice 0 broke"):
        parallel.over_batch(4, 4, work)


def test_concurrent_callers_each_get_every_slice_once(split_everything):
    """Two threads splitting passes at once (two trainings, or a prediction during one): a
    caller that finds the helpers busy runs its pass whole; nobody loses or repeats a slice."""
    split_everything(2)
    counts = [np.zeros(200, int) for _ in range(2)]
    errors = []

    def caller(which):
        try:
            for _ in range(200):
                seen = np.zeros(200, int)

                def work(a, b, seen=seen):
                    seen[a:b] += 1
                    sum(range(200))  # keep the slice busy for a moment

                parallel.over_batch(200, 200, work)
                counts[which] += seen
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for count in counts:
        np.testing.assert_array_equal(count, 200)


def test_a_helper_error_leaves_the_helpers_usable(split_everything):
    split_everything(3)

    def broken(a, b):
        if a > 0:
            raise RuntimeError(f"slice at {a} broke")

    with pytest.raises(RuntimeError, match="broke"):
        parallel.over_batch(9, 9, broken)
    seen = []
    parallel.over_batch(9, 9, lambda a, b: seen.extend(range(a, b)))
    assert sorted(seen) == list(range(9))


@pytest.mark.parametrize("bad", [0, -1, 65, 1.5, True, "2"])
def test_set_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="threads"):
        parallel.set_threads(bad)


def test_default_threads_follow_the_blas_setting():
    assert parallel._default_threads({"OPENBLAS_NUM_THREADS": "3"}) == 3
    assert parallel._default_threads({"CNNLAB_THREADS": "2", "OPENBLAS_NUM_THREADS": "3"}) == 2
    assert parallel._default_threads({"OMP_NUM_THREADS": "x"}) >= 1
