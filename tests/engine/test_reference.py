"""cnnlab.engine.reference: the plain loops against the engine's layers, the published
exercise values, and the traces against the functions they trace."""

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine import reference as R


def _random_conv_case(rng):
    """A small random conv configuration that fits, non-square parts included."""
    while True:
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple(int(v) for v in rng.integers(0, 3, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        h, w = (int(v) for v in rng.integers(2, 8, 2))
        fits = all(size + 2 * pad - dil * (kk - 1) - 1 >= 0
                   for size, pad, dil, kk in zip((h, w), p, d, k))
        if fits:
            # sometimes pass ints, as a caller would for square settings
            pick = (lambda pair: pair[0] if pair[0] == pair[1] else pair)
            return (int(rng.integers(1, 4)), int(rng.integers(1, 4)), pick(k), pick(s), pick(p),
                    pick(d), h, w)


@pytest.mark.parametrize("seed", range(25))
def test_conv_loops_equal_the_engine_forward_and_backward(seed):
    rng = np.random.default_rng(seed)
    cin, cout, k, s, p, d, h, w = _random_conv_case(rng)
    layer = L.Conv2D(cin, cout, k, stride=s, padding=p, dilation=d, dtype=np.float64, rng=seed)
    layer.params["b"][:] = rng.standard_normal(cout)
    x = rng.standard_normal((int(rng.integers(1, 3)), cin, h, w))
    y = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(R.conv_forward(x, W, b, s, p, d), y, rtol=0, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    rdx, rdw, rdb = R.conv_backward(dy, x, W, stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(rdx, dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rdw, layer.grads["W"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rdb, layer.grads["b"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_loops_equal_the_engine_forward_and_backward(seed, mode):
    rng = np.random.default_rng(100 + seed)
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    h, w = (int(v) + kk for v, kk in zip(rng.integers(0, 5, 2), k))
    layer = (L.MaxPool2D if mode == "max" else L.AvgPool2D)(k, s)
    # integers: plenty of ties, where "first maximum only" matters
    x = rng.integers(0, 3, (2, 2, h, w)).astype(np.float64) if seed % 2 else rng.standard_normal((2, 2, h, w))
    y = layer.forward(x)
    np.testing.assert_allclose(R.pool_forward(x, k, s, mode), y, rtol=0, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(R.pool_backward(dy, x, k, s, mode), layer.backward(dy),
                               rtol=0, atol=1e-12)


def _exercise():
    np.random.seed(1)
    A = np.random.randn(10, 4, 4, 3)  # NHWC
    W = np.random.randn(2, 2, 3, 8)   # (f, f, C_in, C_out)
    b = np.random.randn(1, 1, 1, 8)
    return A.transpose(0, 3, 1, 2), W.transpose(3, 2, 0, 1), b.reshape(8)


def test_published_exercise_values_through_the_loops():
    x, W, b = _exercise()
    Z = R.conv_forward(x, W, b, stride=2, padding=2)
    assert Z.shape == (10, 8, 4, 4)
    assert Z.mean() == pytest.approx(0.048995203528855794, abs=1e-12)
    dA, dW, db = R.conv_backward(Z, x, W, stride=2, padding=2)
    assert dA.mean() == pytest.approx(1.4524377775388075, abs=1e-12)
    assert dW.mean() == pytest.approx(1.7269914583139097, abs=1e-12)
    assert db.mean() == pytest.approx(7.839232564616838, abs=1e-12)


def test_published_exercise_values_through_the_engine():
    x, W, b = _exercise()
    layer = L.Conv2D(3, 8, 2, stride=2, padding=2, dtype=np.float64)
    layer.set_params({"W": W, "b": b})
    Z = layer.forward(x)
    assert Z.mean() == pytest.approx(0.048995203528855794, abs=1e-12)
    dA = layer.backward(Z)
    assert dA.mean() == pytest.approx(1.4524377775388075, abs=1e-12)
    assert layer.grads["W"].mean() == pytest.approx(1.7269914583139097, abs=1e-12)
    assert layer.grads["b"].mean() == pytest.approx(7.839232564616838, abs=1e-12)


def test_zero_pad_matches_the_exercise():
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2).transpose(0, 3, 1, 2)  # exercise: NHWC (4, 3, 3, 2), pad 3
    xp = R.zero_pad(x, 3)
    assert xp.shape == (4, 2, 9, 9)
    np.testing.assert_array_equal(xp[:, :, 3:6, 3:6], x)
    assert np.count_nonzero(xp) == x.size
    assert R.zero_pad(np.ones((1, 1, 2, 3)), (1, 0)).shape == (1, 1, 4, 3)


def test_conv_trace_ends_at_the_non_traced_results():
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    args = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    y = R.conv_forward(x, W, b, **args)
    steps = list(R.trace_conv_forward(x, W, b, **args))
    assert len(steps) == y.size
    np.testing.assert_array_equal(steps[-1].output, y)
    for step in steps[:7]:
        assert step.value == pytest.approx(step.products.sum() + step.bias, abs=1e-12)
        assert step.output[step.image, step.channel, step.row, step.col] == step.value
        np.testing.assert_array_equal(step.kernel, W[step.channel])
    # taps: stride 2 down the rows, dilation 2 across the columns (padded coordinates)
    first = steps[0]
    assert first.position == (0, 0, 0, 0) and steps[1].position == (0, 1, 0, 0)  # filters inner
    assert first.rows == (0, 1) and first.cols == (0, 2, 4)
    assert steps[3 * y.shape[3]].rows == (2, 3)  # the next output row, one stride down
    dy = rng.standard_normal(y.shape)
    dx, dW, db = R.conv_backward(dy, x, W, **args)
    back = list(R.trace_conv_backward(dy, x, W, **args))
    assert len(back) == y.size
    np.testing.assert_array_equal(back[-1].dx, dx)
    np.testing.assert_array_equal(back[-1].dW, dW)
    np.testing.assert_array_equal(back[-1].db, db)
    # each step's additions are the running totals' differences
    np.testing.assert_allclose(back[1].dW - back[0].dW,
                               _only(back[1].channel, back[1].dW_added, dW.shape), atol=1e-15)
    assert back[0].db[back[0].channel] == back[0].grad


def _only(channel, added, shape):
    out = np.zeros(shape)
    out[channel] = added
    return out


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_trace_ends_at_the_non_traced_results(mode):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (1, 2, 5, 6)).astype(np.float64)
    y = R.pool_forward(x, (2, 3), (1, 2), mode)
    steps = list(R.trace_pool_forward(x, (2, 3), (1, 2), mode))
    assert steps[0].kernel == (2, 3) and steps[2].position == (0, 0, 0, 1)
    np.testing.assert_array_equal(steps[-1].output, y)
    if mode == "max":
        assert all(s.mask.sum() == 1 and s.window[s.mask][0] == s.value for s in steps)
    else:
        assert all(s.mask is None for s in steps)
    dy = rng.standard_normal(y.shape)
    back = list(R.trace_pool_backward(dy, x, (2, 3), (1, 2), mode))
    np.testing.assert_allclose(back[-1].dx, R.pool_backward(dy, x, (2, 3), (1, 2), mode), atol=1e-15)
    assert all(s.share.sum() == pytest.approx(s.grad) for s in back)


def test_max_ties_go_to_the_first_maximum_only():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    np.testing.assert_array_equal(R.create_mask(x[0, 0]), [[False, True], [False, False]])
    np.testing.assert_array_equal(R.pool_backward(np.array([[[[2.0]]]]), x, 2, 2, "max"),
                                  [[[[0.0, 2.0], [0.0, 0.0]]]])
    np.testing.assert_array_equal(R.distribute_value(2.0, (2, 2)), np.full((2, 2), 0.5))


def test_float32_in_float32_out_and_records_are_frozen():
    rng = np.random.default_rng(0)
    x, W = rng.random((1, 2, 4, 4), dtype=np.float32), rng.random((2, 2, 3, 3), dtype=np.float32)
    b = np.zeros(2, np.float32)
    assert R.conv_forward(x, W, b).dtype == np.float32
    assert R.conv_forward(x, W, None).dtype == np.float32
    assert all(a.dtype == np.float32 for a in R.conv_backward(np.ones((1, 2, 2, 2), np.float32), x, W))
    assert R.pool_forward(x, 2, 2, "avg").dtype == np.float32
    step = next(R.trace_conv_forward(x, W, b))
    with pytest.raises(AttributeError):
        step.value = 0.0


def test_bad_arguments_say_what_is_wrong():
    x, W = np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 2, 2))
    with pytest.raises(ValueError, match="W \\(C_out, C, kh, kw\\)"):
        R.conv_forward(x, W, None)
    with pytest.raises(ValueError, match="does not fit"):
        R.conv_forward(x, np.zeros((1, 2, 5, 5)), None)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        R.conv_forward(x, np.zeros((1, 2, 2, 2)), None, stride=0)
    with pytest.raises(ValueError, match="mode must be 'max' or 'avg'"):
        R.pool_forward(x, 2, 2, "min")
    with pytest.raises(ValueError, match="window 4x4 does not fit"):
        R.pool_forward(x, 4, 1)


def test_engine_max_pool_gives_zero_gradient_where_no_window_reaches():
    """Stride 3, kernel 1 on 4×4: windows end at the edge but leave gaps between them; the
    engine once returned uninitialised memory there (np.empty for a "tiling" it was not)."""
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4))
    layer = L.MaxPool2D(1, 3)
    y = layer.forward(x)
    junk = np.full(x.shape, np.nan)  # leave NaNs in the memory the allocator hands out next
    del junk
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, R.pool_backward(np.ones_like(y), x, 1, 3, "max"))
    assert np.count_nonzero(dx) == 4
