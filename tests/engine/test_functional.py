"""im2col / col2im, output sizes, pooling kernels and initializers."""

import numpy as np
import pytest

from cnnlab.engine import functional as F
from cnnlab.engine import init
from tests.engine import reference as ref


@pytest.mark.parametrize("size,k,s,p,d,expected", [
    (28, 3, 1, 0, 1, 26), (28, 5, 1, 2, 1, 28), (28, 3, 2, 1, 1, 14), (7, 3, 2, 0, 1, 3),
    (10, 3, 1, 0, 2, 6), (8, 5, 1, 0, 2, 0), (5, 2, 3, 0, 1, 2), (6, 3, 3, 1, 2, 2),
])
def test_conv_output_size_formula(size, k, s, p, d, expected):
    assert F.conv_output_size(size, k, s, p, d) == expected == (size + 2 * p - d * (k - 1) - 1) // s + 1


def test_pair():
    assert F.pair(3) == (3, 3) and F.pair((2, 5)) == (2, 5) and F.pair([1, 2]) == (1, 2)
    for bad in (True, 2.0, (1, 2, 3), "3"):
        with pytest.raises(ValueError, match="must be an int or a pair of ints"):
            F.pair(bad)


@pytest.mark.parametrize("k,s,d", [((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 2)), ((3, 2), (3, 2), (2, 1))])
def test_im2col_columns_are_the_receptive_fields(k, s, d):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
    ho = F.conv_output_size(9, k[0], s[0], 0, d[0])
    wo = F.conv_output_size(8, k[1], s[1], 0, d[1])
    cols = F.im2col(x, k, s, d, (ho, wo))
    pitch, length = F.column_layout((9, 8), s, (ho, wo))
    assert cols.shape == (3 * k[0] * k[1], 2, length)
    assert (pitch, length) == ((8, (ho - 1) * 8 + wo) if s == (1, 1) else (wo, ho * wo))
    for n, r, c in [(1, ho - 1, wo // 2), (0, 0, 0), (1, ho // 2, wo - 1)]:
        field = x[n, :, r * s[0]:r * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                  c * s[1]:c * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
        np.testing.assert_array_equal(cols[:, n, r * pitch + c], field.ravel())
    images = F.columns_as_images(cols, 2, pitch, (ho, wo))  # (N, K, H_out, W_out) view
    np.testing.assert_array_equal(images[1, :, ho - 1, wo // 2], cols[:, 1, (ho - 1) * pitch + wo // 2])


@pytest.mark.parametrize("args", [((3, 2), (2, 1), (1, 2), (3, 4)),  # dense layout
                                  ((3, 2), (1, 1), (2, 1), (3, 5))])  # flat-shift layout
def test_col2im_is_the_adjoint_of_im2col(args):
    # <im2col(x), c> == <x, col2im(c)> for every x, c: overlapping taps accumulate
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 7, 6))
    _, length = F.column_layout((7, 6), args[1], args[3])
    c = rng.standard_normal((2 * 6, 2, length))
    lhs = np.vdot(F.im2col(x, *args), c)
    rhs = np.vdot(x, F.col2im(c, x.shape, *args))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    reused = np.full(x.shape, 7.0)
    np.testing.assert_array_equal(F.col2im(c, x.shape, *args, out=reused), F.col2im(c, x.shape, *args))


def test_pad_into_reuses_a_clean_buffer():
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    buf = np.full((1, 1, 4, 4), 9.0, dtype=np.float32)
    out = F.pad_into(x, (1, 1), out=buf, clean=True)
    assert out is buf and out.sum() == 4 and out[0, 0, 1:3, 1:3].all()
    assert F.pad_into(x, (0, 0)) is x


@pytest.mark.parametrize("k,s,h,w", [((2, 2), (2, 2), 6, 5), ((3, 3), (1, 1), 5, 5), ((2, 3), (3, 2), 8, 9)])
def test_pool_kernels_match_the_loop_reference(k, s, h, w):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, h, w))
    out_hw = ((h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1)
    out = F.max_pool_forward(x, k, s, out_hw)
    np.testing.assert_array_equal(out, ref.pool_forward(x, k, s, "max"))
    g = rng.standard_normal(out.shape)
    np.testing.assert_allclose(F.max_pool_backward(g, x, out, k, s),
                               ref.pool_backward(g, x, k, s, "max"))
    np.testing.assert_allclose(F.avg_pool_forward(x, k, s, out_hw), ref.pool_forward(x, k, s, "avg"))
    np.testing.assert_allclose(F.avg_pool_backward(g, x.shape, k, s), ref.pool_backward(g, x, k, s, "avg"))


def test_initializer_statistics_and_specs():
    rng = np.random.default_rng(0)
    w = init.he_normal((200, 100), 200, 100, rng)
    assert w.dtype == np.float32 and abs(w.std() - np.sqrt(2 / 200)) < 0.003
    g = init.glorot_uniform((300, 100), 300, 100, rng, np.float64)
    limit = np.sqrt(6 / 400)
    assert g.dtype == np.float64 and g.max() <= limit and g.min() >= -limit and g.max() > 0.95 * limit
    n = init.normal(0.01)((10000,), 1, 1, rng)
    assert abs(n.std() - 0.01) < 0.0005
    u = init.uniform(-0.2, 0.1)((10000,), 1, 1, rng)
    assert u.min() >= -0.2 and u.max() <= 0.1 and abs(u.mean() + 0.05) < 0.005
    assert not init.zeros((3, 3), 9, 9, rng).any()
    assert init.get_initializer("he_normal") is init.he_normal
    assert init.get_initializer({"name": "normal", "sigma": 0.5}) == init.normal(0.5)
    assert init.get_initializer(init.uniform(0, 1).spec) == init.uniform(0, 1)
    assert init.get_initializer("normal").spec == {"name": "normal", "sigma": 0.01}
    with pytest.raises(ValueError, match="unknown initializer 'lecun'"):
        init.get_initializer("lecun")
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        init.normal(-1)
    with pytest.raises(ValueError, match="need finite a < b"):
        init.uniform(1, 0)
    with pytest.raises(ValueError, match="bad arguments"):
        init.get_initializer({"name": "normal", "mu": 1})
