"""A drawn digit through a digit model: MNIST preprocessing, probabilities, top guess.

This is the whole path the Draw tab runs on every (throttled) update, kept free of Qt so
tests and the latency benchmark call exactly what the canvas calls:

    guess = guess_digit(model, canvas_pixels)   # canvas_pixels: (H, W) uint8, ink high
    guess.label, guess.probability, guess.unsure, guess.network_input  # (28, 28) float32
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from cnnlab.data.preprocess import mnist_from_drawing

#: Input shape (C, H, W) and number of classes a model needs to read drawn digits.
DIGIT_INPUT_SHAPE = (1, 28, 28)
DIGIT_CLASSES = 10

#: Below this top probability the guess is shown as "unsure". Softmax outputs are not
#: calibrated, but on MNIST-like input a trained net puts well over 0.9 on the right class
#: for clean digits; a top value under 0.6 usually means an ambiguous or half-drawn digit,
#: where naming one class would look more confident than the network is.
UNSURE_BELOW = 0.6


@dataclass(frozen=True)
class DigitGuess:
    """What the network makes of one drawing.

    ``network_input``: float32 ``(28, 28)`` in [0, 1], exactly what the model received.
    ``probabilities``: float ``(10,)`` summing to 1, or None for an empty drawing.
    ``label``: the top class (int) or None when empty; ``probability``: its probability
    (0.0 when empty); ``unsure``: top probability below the threshold.
    """

    network_input: np.ndarray
    probabilities: np.ndarray | None
    label: int | None
    probability: float
    unsure: bool

    @property
    def empty(self) -> bool:
        return self.probabilities is None


def digit_model_problem(model) -> str | None:
    """Why ``model`` cannot classify drawn digits (a sentence), or None if it can:
    it must take ``(1, 28, 28)`` images and output 10 classes."""
    if model is None:
        return "There is no model yet."
    shape = tuple(model.input_shape)
    if shape != DIGIT_INPUT_SHAPE:
        return (f"The current model takes {'×'.join(map(str, shape))} inputs, but a drawn digit "
                f"is a 1×28×28 greyscale image. Load or build an MNIST model to draw.")
    out = tuple(model.output_shape)
    if out != (DIGIT_CLASSES,):
        return (f"The current model outputs {'×'.join(map(str, out))} values, but drawn digits "
                f"need 10 classes (0–9).")
    return None


def guess_digit(model, drawing: np.ndarray, unsure_below: float = UNSURE_BELOW) -> DigitGuess:
    """Preprocess ``drawing`` (2-D, any size, ink high, background 0; uint8 or float) with
    :func:`cnnlab.data.preprocess.mnist_from_drawing` and classify it with ``model``
    (a ``Sequential`` taking ``(1, 28, 28)`` images in [0, 1], output 10 classes).

    An empty drawing (no ink) gives no guess instead of whatever the net says about a
    black square. Raises ``ValueError`` if the model cannot read digits.
    """
    problem = digit_model_problem(model)
    if problem:
        raise ValueError(problem)
    x = mnist_from_drawing(drawing)  # (28, 28) float32 in [0, 1]
    if not np.any(x > 0):
        return DigitGuess(x, None, None, 0.0, False)
    probs = np.asarray(model.predict_proba(x[None, None]), dtype=np.float64)[0]  # (10,)
    label = int(np.argmax(probs))
    p = float(probs[label])
    return DigitGuess(x, probs, label, p, p < unsure_below)


def model_base_name(name: str) -> str:
    """The model's name without its training state: ``"small CNN (trained 3 epochs)"`` →
    ``"small CNN"``."""
    for marker in (" (untrained)", " (trained ", " (partly trained)"):
        if marker in name:
            name = name[:name.index(marker)]
    return name


def model_state_line(name: str, state: str = "idle", epoch: int | None = None,
                     epochs: int | None = None, path: str | None = None,
                     trained_epochs: int | None = None) -> tuple[str, bool]:
    """One line saying what the model predicting the drawing is, and whether its guesses
    mean anything: ``(text, warn)``. ``state`` is the session's training state ("idle",
    "running", "paused", "stopping"); ``epoch``/``epochs`` the running epoch (1-based) and
    the run's length; ``path`` the file the idle model came from; ``trained_epochs`` what
    its metadata says it was trained for (a shipped model's name does not say).

    >>> model_state_line("small CNN (untrained)", "running", 2, 5)
    ('training, epoch 2/5 · live weights', False)
    >>> model_state_line("small CNN (untrained)")
    ('untrained — its guesses are random', True)
    >>> model_state_line("small CNN (trained 3 epochs)", path="/tmp/net.npz")
    ('trained 3 epochs · loaded from net.npz', False)
    """
    if state != "idle":
        where = f"epoch {epoch}/{epochs}" if epoch and epochs else "starting"
        paused = " (paused)" if state == "paused" else ""
        return f"training, {where}{paused} · live weights", False
    if not name or name == "no model":
        return "no model", True
    if "(untrained)" in name:
        return "untrained — its guesses are random", True
    if "(trained " in name:
        text = name[name.index("(trained ") + 1:].split(")")[0]
    elif "(partly trained)" in name:
        text = "partly trained (stopped in its first epoch)"
    elif trained_epochs:
        text = f"trained {trained_epochs} epoch{'s' if trained_epochs != 1 else ''}"
    else:
        text = "trained"
    if path:
        text += f" · loaded from {PurePath(path).name}"
    return text, False
