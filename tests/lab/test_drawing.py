"""guess_digit / digit_model_problem: the Qt-free path from canvas pixels to a guess."""

import numpy as np
import pytest

from cnnlab.data.preprocess import mnist_from_drawing
from cnnlab.lab.drawing import UNSURE_BELOW, digit_model_problem, guess_digit
from cnnlab.lab.presets import build_preset


class FixedModel:
    """A stand-in with fixed probabilities that records what it was given."""

    def __init__(self, probs, input_shape=(1, 28, 28), output_shape=(10,)):
        self.probs = np.asarray(probs, dtype=np.float64)
        self.input_shape, self.output_shape = input_shape, output_shape
        self.seen = []

    def predict_proba(self, x):
        self.seen.append(np.array(x))
        return self.probs[None]


def drawing():
    img = np.zeros((200, 160), dtype=np.uint8)
    img[30:170, 70:90] = 255  # a thick vertical bar: a "1"
    return img


def test_guess_is_top_class_of_the_preprocessed_drawing():
    probs = np.full(10, 0.02)
    probs[1] = 0.82
    model = FixedModel(probs)
    g = guess_digit(model, drawing())
    assert (g.label, g.unsure, g.empty) == (1, False, False)
    assert g.probability == pytest.approx(0.82)
    np.testing.assert_array_equal(g.network_input, mnist_from_drawing(drawing()))
    (x,) = model.seen
    assert x.shape == (1, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, 0], g.network_input)


def test_low_top_probability_is_unsure():
    probs = np.full(10, 0.5 / 9)
    probs[4] = 0.5
    g = guess_digit(FixedModel(probs), drawing())
    assert g.unsure and g.label == 4 and g.probability < UNSURE_BELOW
    assert not guess_digit(FixedModel(probs), drawing(), unsure_below=0.4).unsure


def test_empty_drawing_gives_no_guess_and_skips_the_model():
    model = FixedModel(np.eye(10)[3])
    g = guess_digit(model, np.zeros((280, 280), dtype=np.uint8))
    assert g.empty and g.label is None and g.probabilities is None and g.probability == 0.0
    assert g.network_input.shape == (28, 28) and not g.network_input.any()
    assert model.seen == []


def test_real_model_probabilities_sum_to_one():
    g = guess_digit(build_preset("Conv3x3×9 → MaxPool2 → Softmax"), drawing())
    assert g.probabilities.shape == (10,)
    assert g.probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    assert g.label == int(np.argmax(g.probabilities))


def test_models_that_cannot_read_digits_are_named():
    assert digit_model_problem(None) == "There is no model yet."
    assert digit_model_problem(FixedModel(np.eye(10)[0])) is None
    msg = digit_model_problem(FixedModel(np.eye(10)[0], input_shape=(3, 32, 32)))
    assert "3×32×32" in msg and "1×28×28" in msg
    msg = digit_model_problem(FixedModel(np.eye(10)[0], output_shape=(5,)))
    assert "outputs 5" in msg
    with pytest.raises(ValueError, match="3×32×32"):
        guess_digit(FixedModel(np.eye(10)[0], input_shape=(3, 32, 32)), drawing())
