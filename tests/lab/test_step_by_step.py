"""The Step by step tab's logic: layer choices, inputs, the layer set up like the exercise,
the channel walk against the non-traced loops and the engine, and the SGD step on a copy."""

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine import reference as R
from cnnlab.engine.losses import SoftmaxCrossEntropy
from cnnlab.engine.model import Sequential
from cnnlab.lab import step_by_step as S
from cnnlab.lab.step_walk import ChannelWalk, channel_input_grad, sgd_step


def small_net(dtype=np.float32):
    layers = [L.Conv2D(1, 3, 3, stride=(1, 2), padding=1, dilation=(2, 1), dtype=dtype, rng=0),
              L.ReLU(), L.MaxPool2D(2, (2, 1)), L.Conv2D(3, 2, 2, dtype=dtype, rng=1),
              L.AvgPool2D(2), L.Flatten()]
    net = Sequential(layers, (1, 9, 10))
    flat = net.output_shape[0]
    return Sequential([*layers, L.Dense(flat, 4, dtype=dtype, rng=2)], (1, 9, 10))


def an_image(seed=0, label=2):
    x = np.random.default_rng(seed).random((1, 9, 10))
    return S.ImageInput(x, label, "random")


def test_steppable_layers_and_the_default_first_conv():
    net = small_net()
    choices = S.steppable_layers(net)
    assert [(c.index, c.kind) for c in choices] == [(0, "conv"), (2, "max"), (3, "conv"), (4, "avg")]
    assert choices[0].text.startswith("#0 Conv2D 3×3, 3 filters · 1×9×10 → 3×")
    assert S.default_layer(choices) == 0
    assert S.default_layer([c for c in choices if c.kind != "conv"]) == 0
    assert S.default_layer([]) is None


def test_inputs_from_a_drawing_and_from_a_dataset():
    drawing = np.zeros((280, 280), np.uint8)
    drawing[60:220, 130:150] = 255  # a "1"
    item = S.drawing_input(drawing, 1)
    assert item.image.shape == (1, 28, 28) and item.image.dtype == np.float64
    assert item.label == 1 and 0 < item.image.max() <= 1
    images = np.arange(2 * 1 * 2 * 2, dtype=np.uint8).reshape(2, 1, 2, 2) * 30
    d = S.dataset_input(images, np.array([4, 7]), 1, [str(i) for i in range(10)])
    assert d.label == 7 and "test image 1: 7" == d.caption
    np.testing.assert_allclose(d.image, images[1] / 255)
    with pytest.raises(ValueError, match="outside the test set"):
        S.dataset_input(images, np.array([4, 7]), 2)


def test_input_problems_are_sentences():
    net = small_net()
    assert S.input_problem(None, an_image()) == "There is no model yet."
    assert "takes 1×9×10 inputs" in S.input_problem(net, S.ImageInput(np.zeros((1, 28, 28)), 1, ""))
    assert "label 9" in S.input_problem(net, an_image(label=9))
    assert S.input_problem(net, an_image()) is None
    dense_only = Sequential([L.Flatten(), L.Dense(90, 3)], (1, 9, 10))
    assert "no Conv2D or pooling" in S.input_problem(dense_only, an_image())


@pytest.mark.parametrize("index", [0, 2, 3, 4])
def test_layer_problem_matches_the_engine_and_the_loops(index):
    net = small_net()
    before = net.get_weights()
    p = S.layer_problem(net, an_image(), index)
    assert p.a_prev.dtype == np.float64 and p.dz.shape == p.z.shape
    # the model given is untouched: a float64 copy did the work
    assert all(np.array_equal(v, net.get_weights()[k]) for k, v in before.items())
    assert net.dtype == np.float32
    check = S.loops_vs_engine(p)
    assert check.worst < 1e-12
    # dZ really is d loss / d z: central differences through the rest of the net
    rest = S.float64_copy(net).layers[index + 1:]

    def loss_from(z):
        for layer in rest:
            z = layer.forward(z)
        return SoftmaxCrossEntropy().forward(z, np.array([2]))

    assert loss_from(p.z.copy()) == pytest.approx(p.loss, abs=1e-12)
    rng = np.random.default_rng(index)
    for flat in rng.choice(p.z.size, min(6, p.z.size), replace=False):
        at = np.unravel_index(flat, p.z.shape)
        plus, minus = p.z.copy(), p.z.copy()
        plus[at] += 1e-6
        minus[at] -= 1e-6
        assert p.dz[at] == pytest.approx((loss_from(plus) - loss_from(minus)) / 2e-6, abs=1e-8)


def test_layer_problem_refuses_layers_it_cannot_step():
    with pytest.raises(ValueError, match="layer #1 is a ReLU"):
        S.layer_problem(small_net(), an_image(), 1)


@pytest.mark.parametrize("index", [0, 2, 3, 4])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_walking_every_channel_rebuilds_the_layer(index, direction):
    p = S.layer_problem(small_net(), an_image(), index)
    dx_total = np.zeros_like(p.a_prev)
    for c in range(p.channels):
        walk = ChannelWalk(p, c, direction)
        assert walk.record is None and walk.total == p.out_hw[0] * p.out_hw[1]
        last = walk.finish()
        assert walk.done and walk.done_mask().all() and walk.step() is None
        if direction == "forward":
            np.testing.assert_allclose(last.output[0, 0], p.z[0, c], atol=1e-12)
        elif p.kind == "conv":
            dx_total += last.dx
            np.testing.assert_allclose(last.dx_padded[0], channel_input_grad(p, c), atol=1e-12)
            np.testing.assert_allclose(last.dW[0], p.engine_dW[c], atol=1e-12)
            np.testing.assert_allclose(last.db[0], p.engine_db[c], atol=1e-12)
        else:
            dx_total[:, c:c + 1] += last.dx
    if direction == "backward":  # the channels' dA_prev contributions add up to the engine's
        np.testing.assert_allclose(dx_total, p.engine_dx, atol=1e-12)


def test_walk_steps_jumps_back_and_forth():
    p = S.layer_problem(small_net(), an_image(), 0)
    walk = ChannelWalk(p, 1, "forward")
    first = walk.step()
    assert (first.row, first.col) == (0, 0) and walk.position == 1
    assert walk.done_mask().sum() == 1
    ho, wo = p.out_hw
    rec = walk.jump_to(ho - 1, 1)
    assert walk.cell == (ho - 1, 1) and walk.position == (ho - 1) * wo + 2
    assert rec.value == pytest.approx(p.z[0, 1, ho - 1, 1], abs=1e-12)
    walk.jump_to(0, 1)  # backwards: starts again
    assert walk.position == 2 and walk.done_mask().sum() == 2
    with pytest.raises(ValueError, match="outside the"):
        walk.jump_to(ho, 0)
    with pytest.raises(ValueError, match="output channels 0…2, not 3"):
        ChannelWalk(p, 3)


def test_walk_records_are_the_reference_traces():
    p = S.layer_problem(small_net(), an_image(), 0)
    walk = ChannelWalk(p, 2, "backward")
    mine = [walk.step() for _ in range(5)]
    theirs = list(R.trace_conv_backward(p.dz[:, 2:3], p.a_prev, p.W[2:3], p.stride, p.padding,
                                        p.dilation))[:5]
    for a, b in zip(mine, theirs):
        assert (a.row, a.col, a.rows, a.cols, a.grad) == (b.row, b.col, b.rows, b.cols, b.grad)
        np.testing.assert_array_equal(a.dW, b.dW)


def test_sgd_step_on_a_copy_lowers_the_loss_and_moves_the_kernel():
    net = small_net()
    before = net.get_weights()
    report = sgd_step(net, an_image(), lr=0.05, layer_index=3, channel=1)
    assert all(np.array_equal(v, net.get_weights()[k]) for k, v in before.items())
    assert len(report.activations) == len(net.layers) == len(report.gradients)
    assert report.names[0] == "#0 Conv2D"
    assert report.activations[-1].shape == (4,) and report.gradients[0].shape == net.shapes[0]
    assert report.kernel_layer == 3 and report.kernel_before.shape == (3, 2, 2)
    np.testing.assert_allclose(report.kernel_after,
                               report.kernel_before - 0.05 * report.kernel_grad, atol=1e-15)
    assert report.loss_after < report.loss_before
    assert report.probabilities_after[2] > report.probabilities_before[2]
    # a pooling layer chosen: the first conv's kernel is shown
    assert sgd_step(net, an_image(), 0.05, 2, 0).kernel_layer == 0
