"""Tiles of conv kernels, display conversion and Shuffle picks (cnnlab.lab.filter_views)."""

from types import SimpleNamespace

import numpy as np
import pytest

from cnnlab.engine.conv import Conv2D
from cnnlab.lab.filter_views import (
    conv_layers,
    filter_strips,
    kernel_tiles,
    pick_other_indices,
    resize_centred,
    symmetric_scale,
    to_display_rgb,
)


def test_conv_layers_finds_conv2d_positions():
    convs = [Conv2D(1, 2, 3), Conv2D(2, 4, 3)]
    model = SimpleNamespace(layers=[convs[0], object(), convs[1], object()])
    assert conv_layers(model) == [(0, convs[0]), (2, convs[1])]


def test_rgb_tiles_map_weights_on_a_shared_scale():
    w = np.zeros((2, 3, 1, 1), np.float32)
    w[0, 0, 0, 0] = 2.0  # red channel of filter 0 at the full scale
    w[1, 2, 0, 0] = -1.0  # blue channel of filter 1 at half the negative scale
    t = kernel_tiles(w)
    assert t.cmap == "rgb" and t.tiles.shape == (2, 1, 1, 3) and t.levels == (-2.0, 2.0)
    np.testing.assert_allclose(t.tiles[0, 0, 0], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(t.tiles[1, 0, 0], [0.5, 0.5, 0.25])


def test_non_rgb_weights_become_filter_strips_with_symmetric_levels():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 2, 3, 3)).astype(np.float32)
    t = kernel_tiles(w)
    assert t.cmap == "diverging" and t.tiles.shape == (4, 4, 8)
    np.testing.assert_array_equal(t.tiles, filter_strips(w).tiles)
    np.testing.assert_array_equal(t.tiles[2, :3, 4:7], w[2, 1])  # filter 2, channel 1
    m = np.abs(w).max()
    assert t.levels == pytest.approx((-m, m))
    # RGB weights forced per channel, with a given scale (for comparing two grids)
    t3 = kernel_tiles(rng.normal(size=(5, 3, 2, 2)), rgb=False, scale=7.0)
    assert t3.tiles.shape == (5, 3, 9) and t3.levels == (-7.0, 7.0)
    single = kernel_tiles(w[:, :1])  # one input channel: the kernels as they are
    assert single.tiles.shape == (4, 3, 3) and single.columns == 2
    np.testing.assert_array_equal(single.tiles, w[:, 0])
    assert single.description == "4 filters 3×3"
    with pytest.raises(ValueError, match="3 input channels"):
        kernel_tiles(w, rgb=True)
    with pytest.raises(ValueError, match="C_out, C_in"):
        kernel_tiles(w[0])


def test_per_filter_contrast_scales_each_filter_to_its_peak():
    w = np.zeros((3, 2, 2, 2), np.float32)
    w[0, 0, 0, 0], w[1, 1, 1, 1] = 0.5, -4.0  # filter 2 stays all zero
    t = kernel_tiles(w, per_filter=True)  # strips (3, 3, 6): channel 1 at columns 3, 4
    assert t.levels == (-1.0, 1.0)
    assert t.tiles[0, 0, 0] == 1.0 and t.tiles[1, 1, 4] == -1.0
    assert (np.nan_to_num(t.tiles[2]) == 0).all()
    rgb = kernel_tiles(np.concatenate([w, w[:, :1]], axis=1), per_filter=True)
    assert rgb.tiles[0, 0, 0, 0] == 1.0 and rgb.tiles[1, 1, 1, 1] == 0.0


def test_symmetric_scale_never_zero():
    assert symmetric_scale(np.zeros(3)) == 1.0
    assert symmetric_scale(np.array([np.nan, -3.0, 2.0])) == 3.0


def test_to_display_rgb_clips_instead_of_wrapping():
    x = np.array([-20.0, 0.4, 254.6, 300.0, np.nan, 128.0], np.float32).reshape(1, 3, 1, 2)
    out = to_display_rgb(x)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 2, 3)
    # channel-last: pixel (0, 0) gets channels 0, 1, 2 = -20, 254.6, nan
    np.testing.assert_array_equal(out[0, 0, 0], [0, 255, 0])
    np.testing.assert_array_equal(out[0, 0, 1], [0, 255, 128])
    grey = to_display_rgb(np.full((2, 1, 2, 2), 7, np.uint8))
    assert grey.shape == (2, 2, 2, 3) and (grey == 7).all()
    with pytest.raises(ValueError, match="images must be"):
        to_display_rgb(np.zeros((2, 2, 4, 4)))


def test_pick_other_indices_changes_the_set_of_a_small_pool():
    rng = np.random.default_rng(1)
    current = np.arange(10)
    picked = pick_other_indices(20, current, 10, rng)
    assert sorted(picked.tolist()) == list(range(10, 20))  # 20 images: the other ten
    # 15 images: five new ones plus five of the current ones, all distinct
    picked = pick_other_indices(15, current, 10, rng)
    assert len(set(picked.tolist())) == 10 and set(range(10, 15)) <= set(picked.tolist())
    # a big pool: ten images none of which were shown
    picked = pick_other_indices(1000, current, 10, rng)
    assert len(set(picked.tolist())) == 10 and not set(picked.tolist()) & set(range(10))
    # fewer images than asked for: all of them
    assert sorted(pick_other_indices(4, [0, 1], 10, rng).tolist()) == [0, 1, 2, 3]
    # seeded: the same generator state gives the same pick
    a = pick_other_indices(1000, current, 10, np.random.default_rng(5))
    b = pick_other_indices(1000, current, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no images"):
        pick_other_indices(0, [], 10, rng)



def test_resize_centred_keeps_the_middle():
    k = np.arange(9.0).reshape(3, 3)
    big = resize_centred(k, 5)
    assert big.shape == (5, 5) and big.sum() == k.sum()
    np.testing.assert_array_equal(big[1:4, 1:4], k)
    np.testing.assert_array_equal(resize_centred(big, 3), k)
    np.testing.assert_array_equal(resize_centred(k, 1), [[4.0]])
    np.testing.assert_array_equal(resize_centred(k, 4)[:3, :3], k)  # the odd row/column goes after
    with pytest.raises(ValueError, match="2-D kernel"):
        resize_centred(k[0], 3)


def test_filter_strips_put_channels_side_by_side_with_gaps():
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2) - 10
    t = filter_strips(w)
    assert t.tiles.shape == (2, 3, 9) and t.levels == (-13.0, 13.0) and t.cmap == "diverging"
    for c in range(3):  # channel c occupies columns 3c, 3c+1 of rows 0, 1
        np.testing.assert_array_equal(t.tiles[1, :2, 3 * c:3 * c + 2], w[1, c])
    assert np.isnan(t.tiles[:, 2]).all() and np.isnan(t.tiles[:, :, 2::3]).all()
    # 20 filters 5×5×3 on a 1.2:1 grid: three filters (18 units wide) per row, 7 rows of 6
    assert filter_strips(np.zeros((20, 3, 5, 5)), scale=2.0).columns == 3
    assert filter_strips(np.zeros((20, 3, 5, 5)), scale=2.0).levels == (-2.0, 2.0)
    assert filter_strips(np.zeros((1, 64, 3, 3))).columns == 1
    assert filter_strips(np.zeros((9, 1, 3, 3))).columns == 3


def test_to_display_rgb_modes_make_negative_edges_visible():
    x = np.array([-100.0, -20.0, 0.0, 50.0, 200.0], dtype=np.float32).reshape(1, 1, 1, 5)
    assert to_display_rgb(x)[0, 0, :, 0].tolist() == [0, 0, 0, 50, 200]
    assert to_display_rgb(x, "offset")[0, 0, :, 0].tolist() == [28, 108, 128, 178, 255]
    assert to_display_rgb(x, "abs")[0, 0, :, 0].tolist() == [100, 20, 0, 50, 200]
    with pytest.raises(ValueError, match="unknown display mode"):
        to_display_rgb(x, "wrap")
