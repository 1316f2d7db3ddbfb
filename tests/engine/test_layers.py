"""Layers against plain-loop references, dtype handling, configs and error messages."""

import json

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine import reference as ref

CONV_CASES = [
    # (C_in, C_out, kernel, stride, padding, dilation, H, W)
    (1, 3, 3, 1, 0, 1, 6, 6),
    (2, 4, 3, 1, 1, 1, 7, 5),
    (3, 2, 3, 2, 1, 1, 7, 8),
    (2, 2, 2, 3, 1, 1, 9, 7),
    (1, 2, 3, 1, 2, 2, 6, 6),
    (2, 3, (3, 2), (2, 1), (0, 1), (1, 2), 7, 6),
    (4, 3, 1, 1, 0, 1, 3, 5),
    (2, 2, 1, 1, 2, 1, 4, 5),      # padding wider than the kernel: rows get longer
    (1, 2, (3, 1), 1, (0, 2), 1, 5, 4),
]


@pytest.mark.parametrize("cin,cout,k,s,p,d,h,w", CONV_CASES)
def test_conv2d_matches_the_loop_reference(cin, cout, k, s, p, d, h, w):
    layer = L.Conv2D(cin, cout, k, stride=s, padding=p, dilation=d, dtype=np.float64, rng=0)
    layer.params["b"][:] = np.arange(cout) * 0.1
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, cin, h, w))
    y = layer.forward(x)
    W, b = layer.params["W"], layer.params["b"]
    expected = ref.conv_forward(x, W, b, s, p, d)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    rdx, rdw, rdb = ref.conv_backward(dout, x, W, s, p, d)
    np.testing.assert_allclose(dx, rdx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], rdw, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], rdb, atol=1e-12)


def test_conv2d_output_size_formula_with_dilation_and_odd_sizes():
    # floor((H + 2p - d(k-1) - 1)/s) + 1
    layer = L.Conv2D(1, 1, 3, stride=2, padding=1, dilation=2)
    assert layer.output_shape((1, 10, 9)) == (1, 4, 4)   # (10+2-4-1)//2+1, (9+2-4-1)//2+1
    assert L.Conv2D(1, 1, 5, stride=3).output_shape((1, 11, 12)) == (1, 3, 3)
    assert L.Conv2D(2, 5, (1, 3), padding=(0, 1)).output_shape((2, 4, 4)) == (5, 4, 4)


def test_conv2d_reuses_buffers_without_mixing_batches():
    """Scratch buffers are reused across calls; results must not leak between shapes."""
    layer = L.Conv2D(2, 3, 3, padding=1, rng=0)
    rng = np.random.default_rng(2)
    big, small = rng.random((5, 2, 6, 6), dtype=np.float32), rng.random((2, 2, 4, 4), dtype=np.float32)
    first = layer.forward(big)
    layer.forward(small)
    again = layer.forward(small)
    np.testing.assert_allclose(again, ref.conv_forward(small, layer.params["W"], layer.params["b"], 1, 1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.forward(big), first)
    layer.backward(rng.random(first.shape, dtype=np.float32) + 1)  # fills the scratch
    y = layer.forward(small)  # smaller batch, same buffers: the junk columns of the
    dout = rng.random(y.shape, dtype=np.float32)  # reused gradient buffer must be zeroed again
    _, rdw, _ = ref.conv_backward(dout, small, layer.params["W"], 1, 1)
    layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], rdw, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_input_dtype(dtype):
    x = np.random.default_rng(3).random((2, 2, 6, 6)).astype(dtype)
    chain = [L.Conv2D(2, 3, 3, padding=1), L.ReLU(), L.LeakyReLU(), L.Tanh(), L.Sigmoid(),
             L.Dropout(0.5, rng=0), L.Normalize(0.5, 2.0), L.Normalize([0.1] * 3, [2.0] * 3),
             L.MaxPool2D(2), L.AvgPool2D(2, 1), L.Flatten(), L.Dense(3 * 2 * 2, 4)]
    outs = []
    for layer in chain:
        x = layer.forward(x)
        outs.append(x)
        assert x.dtype == dtype, layer.name
    g = np.ones_like(x)
    for layer in reversed(chain):
        g = layer.backward(g)
        assert g.dtype == dtype, layer.name
    assert chain[0].grads["W"].dtype == np.float32  # weights keep their own dtype


def test_weighted_layers_take_a_dtype_and_create_params_at_construction():
    conv = L.Conv2D(3, 8, (3, 5), dtype=np.float64)
    assert conv.params["W"].shape == (8, 3, 3, 5) and conv.params["b"].shape == (8,)
    assert conv.params["W"].dtype == np.float64
    dense = L.Dense(10, 4, bias=False)
    assert set(dense.params) == {"W"} and dense.params["W"].shape == (10, 4)
    assert dense.params["W"].dtype == np.float32
    assert dense.n_params == 40 and conv.n_params == 8 * 3 * 15 + 8
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        L.Dense(2, 2, dtype=np.int32)


def test_forward_reads_params_at_call_time():
    dense = L.Dense(2, 1, rng=0)
    dense.params["W"][:] = [[2.0], [3.0]]
    dense.params["b"][:] = 1
    np.testing.assert_allclose(dense.forward(np.array([[1.0, 1.0]], dtype=np.float32)), [[6.0]])


@pytest.mark.parametrize("k,s,h,w", [(2, None, 4, 4), (2, None, 5, 7), (3, 2, 7, 7),
                                     (3, 1, 5, 6), ((2, 3), (2, 1), 6, 7), (3, None, 9, 7),
                                     ((2, 3), None, 7, 8), ((1, 2), None, 3, 4), (1, None, 2, 3)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_matches_the_loop_reference(k, s, h, w, mode):
    layer = (L.MaxPool2D if mode == "max" else L.AvgPool2D)(k, s)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, h, w))
    y = layer.forward(x)
    stride = k if s is None else s
    np.testing.assert_allclose(y, ref.pool_forward(x, k, stride, mode), atol=1e-12)
    dout = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(dout), ref.pool_backward(dout, x, k, stride, mode),
                               atol=1e-12)


def test_max_pool_ties_send_the_gradient_to_exactly_one_element():
    x = np.ones((1, 1, 4, 4))  # every window is a four-way tie
    layer = L.MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.full((1, 1, 2, 2), 5.0))
    assert dx.sum() == 20.0
    assert np.count_nonzero(dx) == 4  # one element per window
    np.testing.assert_array_equal(dx, ref.pool_backward(np.full((1, 1, 2, 2), 5.0), x, 2, 2, "max"))


@pytest.mark.parametrize("k,s", [(2, 2), (3, 1), (2, 1), ((2, 3), (1, 2)), (3, 3), ((3, 2), (3, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_max_pool_with_many_ties_matches_the_reference(k, s, training):
    # post-ReLU maps are full of tied zeros: each window must still pick exactly one
    x = np.random.default_rng(8).integers(0, 3, size=(2, 2, 7, 8)).astype(np.float64)
    layer = L.MaxPool2D(k, s).train(training)  # eval: the tiled path skips the winners
    y = layer.forward(x)
    g = np.random.default_rng(9).standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g), ref.pool_backward(g, x, k, s, "max"), atol=1e-12)
    total = layer.backward(np.ones_like(y)).sum()
    assert total == y.size  # one unit of gradient per window, none lost or doubled


def test_overlapping_max_windows_accumulate():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0  # the centre is the max of all four 2x2 windows (stride 1)
    layer = L.MaxPool2D(2, stride=1)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_average_pool_spreads_evenly():
    layer = L.AvgPool2D(2)
    y = layer.forward(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_allclose(y, [[[[2.5, 4.5], [10.5, 12.5]]]])
    dx = layer.backward(np.array([[[[4.0, 8.0], [0.0, 4.0]]]]))
    np.testing.assert_allclose(dx[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 1, 1], [0, 0, 1, 1]])


def test_dense_is_x_at_w_plus_b():
    d = L.Dense(3, 2, dtype=np.float64, rng=0)
    x = np.random.default_rng(5).standard_normal((4, 3))
    np.testing.assert_allclose(d.forward(x), x @ d.params["W"] + d.params["b"])
    g = np.random.default_rng(6).standard_normal((4, 2))
    np.testing.assert_allclose(d.backward(g), g @ d.params["W"].T)
    np.testing.assert_allclose(d.grads["W"], x.T @ g)
    np.testing.assert_allclose(d.grads["b"], g.sum(0))


def test_activation_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(L.ReLU().forward(x), [[0, 0, 3]])
    np.testing.assert_allclose(L.LeakyReLU().forward(x), [[-0.02, 0, 3]])
    np.testing.assert_allclose(L.LeakyReLU(0.2).forward(x), [[-0.4, 0, 3]])
    np.testing.assert_allclose(L.Tanh().forward(x), np.tanh(x))
    np.testing.assert_allclose(L.Sigmoid().forward(x), 1 / (1 + np.exp(-x)))
    relu = L.ReLU()
    relu.forward(x)
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), [[0, 0, 1]])  # 0 at the kink


def test_sigmoid_does_not_overflow():
    y = L.Sigmoid().forward(np.array([-1000.0, 1000.0], dtype=np.float32))
    np.testing.assert_array_equal(y, [0.0, 1.0])


def test_flatten_keeps_nchw_order():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    f = L.Flatten()
    np.testing.assert_array_equal(f.forward(x)[1], np.arange(12.0, 24.0))
    assert f.backward(np.ones((2, 12))).shape == (2, 3, 2, 2)
    assert f.output_shape((3, 2, 2)) == (12,)


def test_dropout_is_inverted_and_off_in_eval():
    drop = L.Dropout(0.25, rng=0)
    x = np.ones((200, 100), dtype=np.float32)
    y = drop.forward(x)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    np.testing.assert_array_equal(drop.backward(x) != 0, kept)  # same mask
    drop.eval()
    np.testing.assert_array_equal(drop.forward(x), x)
    np.testing.assert_array_equal(drop.backward(x), x)
    a, b = L.Dropout(0.5, rng=3).forward(x), L.Dropout(0.5, rng=3).forward(x)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\)"):
        L.Dropout(1.0)


def test_normalize_maps_unit_images_to_centered():
    norm = L.Normalize(0.5, 1.0)
    np.testing.assert_allclose(norm.forward(np.array([0.0, 0.5, 1.0])), [-0.5, 0, 0.5])
    per_channel = L.Normalize([0.0, 1.0], [1.0, 2.0])
    y = per_channel.forward(np.ones((1, 2, 1, 1)))
    np.testing.assert_allclose(y.ravel(), [1.0, 0.0])
    with pytest.raises(ValueError, match="Normalize: std must be positive"):
        L.Normalize(0.0, 0.0)
    with pytest.raises(ValueError, match="2 per-channel values but the input is 3x4x4"):
        per_channel.output_shape((3, 4, 4))


ALL_LAYERS = [
    L.Conv2D(3, 4, (3, 5), stride=(1, 2), padding=1, dilation=(2, 1), bias=False,
             init={"name": "normal", "sigma": 0.02}, dtype=np.float64),
    L.MaxPool2D(3, 2), L.AvgPool2D((2, 1)), L.Flatten(), L.Dense(7, 3, init="glorot_uniform"),
    L.ReLU(), L.LeakyReLU(0.3), L.Tanh(), L.Sigmoid(), L.Dropout(0.2), L.Normalize([0.5, 0.2], 2.0),
]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda layer: layer.name)
def test_config_round_trips_through_json(layer):
    cfg = json.loads(json.dumps(layer.get_config()))
    assert cfg["type"] == layer.name
    rebuilt = L.layer_from_config(cfg)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()
    assert {k: v.shape for k, v in rebuilt.params.items()} == {k: v.shape for k, v in layer.params.items()}
    assert rebuilt.n_params == layer.n_params
    if layer.params:
        assert "init" in cfg and rebuilt.params["W"].dtype == layer.params["W"].dtype


def test_layer_from_config_rejects_bad_configs():
    with pytest.raises(ValueError, match="unknown layer type 'Conv3D'"):
        L.layer_from_config({"type": "Conv3D"})
    with pytest.raises(ValueError, match="Dense: missing 'out_features'"):
        L.layer_from_config({"type": "Dense", "in_features": 3})
    with pytest.raises(ValueError, match="unknown initializer"):
        L.layer_from_config({"type": "Dense", "in_features": 3, "out_features": 2, "init": "magic"})
    unallocated = L.layer_from_config({"type": "Dense", "in_features": 10**4, "out_features": 10**4},
                                      allocate=False)
    assert unallocated.n_params == 10**8 + 10**4 and unallocated.params == {}
    with pytest.raises(ValueError, match="Dense: out_features 1,000,000 is outside the allowed 1..100,000"):
        L.layer_from_config({"type": "Dense", "in_features": 10, "out_features": 10**6}, allocate=False)


@pytest.mark.parametrize("build,message", [
    (lambda: L.Conv2D(0, 4, 3), "Conv2D: in_channels must be a positive integer, got 0"),
    (lambda: L.Conv2D(1, 4, (3, -1)), "Conv2D: kernel_size must be positive"),
    (lambda: L.Conv2D(1, 4, 3, stride=0), "Conv2D: stride must be positive"),
    (lambda: L.Conv2D(1, 4, 3, padding=-1), "Conv2D: padding must be >= 0"),
    (lambda: L.Conv2D(1, 4, 2.5), "kernel_size must be an int or a pair of ints"),
    (lambda: L.Dense(3, -2), "Dense: out_features must be a positive integer"),
    (lambda: L.MaxPool2D(0), "MaxPool2D: kernel_size must be positive"),
    (lambda: L.AvgPool2D(2, stride=(1, 0)), "AvgPool2D: stride must be positive"),
])
def test_bad_hyperparameters_raise_at_construction(build, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_shape_errors_name_layer_and_sizes():
    conv = L.Conv2D(1, 2, 5, dilation=2)
    conv.index = 2
    with pytest.raises(ValueError, match=r"Conv2D #2: kernel 5x5 \(dilation 2 → 9x9\) does not "
                                         r"fit padded input 8x8"):
        conv.output_shape((1, 8, 8))
    with pytest.raises(ValueError, match=r"Conv2D #2: expects 1 input channels, got 3"):
        conv.output_shape((3, 20, 20))
    with pytest.raises(ValueError, match=r"Dense: in_features is 10 but its input has 12 features"):
        L.Dense(10, 2).output_shape((12,))
    with pytest.raises(ValueError, match=r"MaxPool2D: window 3x3 does not fit input 2x5"):
        L.MaxPool2D(3).output_shape((1, 2, 5))


def test_forward_rejects_wrong_rank_and_channels():
    conv = L.Conv2D(3, 2, 3)
    with pytest.raises(ValueError,
                       match=r"Conv2D: expects input \(N, 3, H, W\), got an array of shape \(3, 8, 8\)"):
        conv.forward(np.zeros((3, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError,
                       match=r"Conv2D: expects 3 input channels, got input of shape \(1, 1, 8, 8\)"):
        conv.forward(np.zeros((1, 1, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="does not fit padded input 2x2"):
        conv.forward(np.zeros((1, 3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Dense: in_features is 4 but got input of shape \(2, 5\)"):
        L.Dense(4, 2).forward(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"MaxPool2D: expects input \(N, C, H, W\)"):
        L.MaxPool2D(2).forward(np.zeros((4, 4)))


def test_layers_have_name_index_and_training_flag():
    layer = L.ReLU()
    assert layer.name == "ReLU" and layer.index is None and layer.training
    assert layer.eval() is layer and not layer.training
    assert layer.params == {} and layer.grads == {} and layer.n_params == 0
