"""im2col / col2im, output sizes, pooling kernels and initializers."""

import numpy as np
import pytest

from cnnlab.engine import functional as F
from cnnlab.engine import init
from cnnlab.engine import pooling as P
from cnnlab.engine import reference as ref


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


GEOMETRIES = [
    F.ConvGeometry(9, 8, (3, 3)),
    F.ConvGeometry(9, 8, (2, 3), (2, 1), (1, 2), (1, 2)),
    F.ConvGeometry(7, 6, (3, 2), (3, 2), (0, 1), (2, 1)),
    F.ConvGeometry(7, 6, (3, 2), (1, 1), (2, 1), (2, 1)),
    F.ConvGeometry(4, 5, (1, 1), (1, 1), (2, 2)),  # padding wider than the kernel
]


def padded_reference(x, geo):
    ph, pw = geo.padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


@pytest.mark.parametrize("geo", GEOMETRIES, ids=repr)
def test_im2col_columns_are_the_receptive_fields(geo):
    x = np.random.default_rng(0).standard_normal((2, 3, geo.h, geo.w))
    x_flat = F.pad_flat(x, geo)
    np.testing.assert_array_equal(F.grid(x_flat, geo.offset, (geo.h, geo.w), geo.pitch), x)
    cols = F.im2col(x_flat, geo)
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel, geo.stride, geo.dilation
    ho, wo = geo.out_hw
    assert cols.shape == (3 * kh * kw, 2, geo.col_length)
    assert geo.col_length == (ho - 1) * geo.col_pitch + wo
    xp = padded_reference(x, geo)
    for n, r, c in [(1, ho - 1, wo // 2), (0, 0, 0), (1, ho // 2, wo - 1), (0, ho - 1, wo - 1)]:
        field = xp[n, :, r * sh:r * sh + dh * (kh - 1) + 1:dh, c * sw:c * sw + dw * (kw - 1) + 1:dw]
        np.testing.assert_array_equal(cols[:, n, r * geo.col_pitch + c], field.ravel())
    images = F.columns_as_images(cols, 2, geo.col_pitch, (ho, wo))  # (N, K, H_out, W_out) view
    np.testing.assert_array_equal(images[1, :, ho - 1, wo // 2],
                                  cols[:, 1, (ho - 1) * geo.col_pitch + wo // 2])


def test_padded_rows_share_their_zero_padding():
    geo = F.ConvGeometry(14, 14, (5, 5), padding=(2, 2))
    assert geo.pitch == 16 and geo.out_hw == (14, 14)  # 14 pixels + 2 shared zeros
    assert geo.col_length == 13 * 16 + 14  # ~13% junk instead of ~29% with 18-wide rows
    assert not F.ConvGeometry(5, 5, (3, 3)).padded
    assert F.ConvGeometry(5, 5, (1, 1), padding=(0, 1)).padded


@pytest.mark.parametrize("geo", GEOMETRIES, ids=repr)
def test_col2im_is_the_adjoint_of_im2col(geo):
    # <im2col(pad(x)), c> == <x, unpad(col2im(c))> for every x, c: taps accumulate
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, geo.h, geo.w))
    ho, wo = geo.out_hw
    c = np.zeros((2 * geo.kernel[0] * geo.kernel[1], 2, geo.col_length))
    F.columns_as_images(c, 2, geo.col_pitch, (ho, wo))[...] = rng.standard_normal(
        (2, c.shape[0], ho, wo))  # junk columns stay zero, as col2im requires
    lhs = np.vdot(F.im2col(F.pad_flat(x, geo), geo), c)
    back = F.col2im(c, geo, 2, 2)
    rhs = np.vdot(x, F.grid(back, geo.offset, (geo.h, geo.w), geo.pitch))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    reused = np.full(back.shape, 7.0)
    np.testing.assert_array_equal(F.col2im(c, geo, 2, 2, out=reused), back)


def test_pad_flat_reuses_a_buffer():
    geo = F.ConvGeometry(2, 2, (3, 3), padding=(1, 1))
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    buf = np.full((1, 1, geo.length), 9.0, dtype=np.float32)
    out = F.pad_flat(x, geo, out=buf, clean=True)
    assert out is buf and out.sum() == 4
    assert np.shares_memory(F.pad_flat(x, F.ConvGeometry(2, 2, (1, 1))), x)


@pytest.mark.parametrize("k,s,h,w", [((2, 2), (2, 2), 6, 5), ((3, 3), (1, 1), 5, 5), ((2, 3), (3, 2), 8, 9),
                                     ((3, 2), (3, 2), 9, 8)])
def test_pool_kernels_match_the_loop_reference(k, s, h, w):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, h, w))
    out_hw = ((h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1)
    out = P.max_pool_forward(x, k, s, out_hw)
    np.testing.assert_array_equal(out, ref.pool_forward(x, k, s, "max"))
    g = rng.standard_normal(out.shape)
    np.testing.assert_allclose(P.max_pool_backward(g, x, out, k, s),
                               ref.pool_backward(g, x, k, s, "max"))
    if k == s:
        tiled, index = P.max_pool_tiled(x, k, out_hw)
        np.testing.assert_array_equal(tiled, out)
        np.testing.assert_allclose(P.max_pool_tiled_backward(g, index, x.shape, k),
                                   ref.pool_backward(g, x, k, s, "max"))
    np.testing.assert_allclose(P.avg_pool_forward(x, k, s, out_hw), ref.pool_forward(x, k, s, "avg"))
    np.testing.assert_allclose(P.avg_pool_backward(g, x.shape, k, s), ref.pool_backward(g, x, k, s, "avg"))


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


def test_zero_junk_columns_clears_only_the_junk():
    geo = F.ConvGeometry(4, 5, (3, 3), padding=(1, 1))  # pitch 6, output 4x5: 1 junk column per row
    y = np.ones((2, 3, geo.col_length))
    F.zero_junk_columns(y, geo.col_pitch, geo.out_hw)
    assert (y == 0).sum() == 2 * 3 * (4 - 1) * (geo.col_pitch - 5)
    assert F.columns_as_images(y, 3, geo.col_pitch, geo.out_hw).all()  # every real output kept


def test_the_worked_example_of_the_conv_geometry_docstring():
    # one 4x4 channel a..p (1..16), 3x3 kernel, padding 1: the numbers ConvGeometry shows
    geo = F.ConvGeometry(4, 4, (3, 3), padding=(1, 1))
    assert (geo.pitch, geo.offset, geo.length, geo.col_pitch, geo.col_length) == (5, 6, 31, 5, 19)
    x = np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4)  # a=1 … p=16
    flat = F.pad_flat(x, geo)[0, 0]
    assert flat[:5].tolist() == [0] * 5 and flat[5:10].tolist() == [0, 1, 2, 3, 4]
    assert flat[20:25].tolist() == [0, 13, 14, 15, 16] and flat[25:].tolist() == [0] * 6
    cols = F.im2col(F.pad_flat(x, geo), geo)[:, 0]  # (9, 19)
    assert cols[:, 0].tolist() == [0, 0, 0, 0, 1, 2, 0, 5, 6]  # the window around a
    assert cols[:, 7].tolist() == [2, 3, 4, 6, 7, 8, 10, 11, 12]  # output (1, 2)
    assert cols[:, 4].tolist() == [0, 0, 1, 4, 0, 5, 8, 0, 9]  # junk: wraps across rows


def test_strided_views_match_as_strided_and_respect_writeability():
    from numpy.lib.stride_tricks import as_strided

    base = np.arange(2 * 3 * 20, dtype=np.float32).reshape(2, 3, 20)
    shape, strides = (2, 3, 4, 4), (base.strides[0], base.strides[1], 20, 4)
    fast = F.strided(base, 1, shape, strides)
    np.testing.assert_array_equal(fast, as_strided(base[:, :, 1:], shape=shape, strides=strides))
    fast[0, 0, 0, 0] = -1  # a writable view of base
    assert base[0, 0, 1] == -1
    assert not F.strided(base, 1, shape, strides, writeable=False).flags.writeable
    every_other = base[:, :, ::2]  # not contiguous: the as_strided fallback, same numbers
    view = F.strided(every_other, 2, (2, 3, 5), every_other.strides)
    np.testing.assert_array_equal(view, base[:, :, 2::2][:, :, :5])  # 2 elements of memory in
    base.flags.writeable = False
    assert not F.strided(base, 0, (3,), (4,)).flags.writeable
    with pytest.raises((ValueError, TypeError)):  # past the end of a contiguous base
        F.strided(np.zeros(4, np.float32), 2, (4,), (4,))
