"""Real digits through the real path: held-out MNIST test digits painted onto the Draw
tab's canvas at canvas scale, read back, preprocessed and classified by the panel itself."""

import numpy as np

from cnnlab.app.panels.draw_panel import DrawPanel
from cnnlab.app.session import Session, load_dataset
from cnnlab.engine.model import load as load_model
from cnnlab.resources import resource_path


def test_default_model_reads_held_out_digits_through_the_canvas(qtbot, tmp_path):
    mnist = load_dataset("mnist", "sample")
    session = Session()
    session.set_dataset(mnist)
    session.set_model(load_model(resource_path("models", "digits.npz")), "default digits")
    panel = DrawPanel(session, user_digits_path=tmp_path / "u.npz")
    qtbot.addWidget(panel)
    canvas = panel.canvas
    # 200 held-out test digits, 20 of each class (the sample's test part is sorted by label)
    picks = np.arange(0, len(mnist.x_test), 5)
    assert len(picks) >= 100 and set(mnist.y_test[picks]) == set(range(10))
    correct, centred = 0, 0
    for i in picks:
        canvas.clear()
        canvas.paste_array(mnist.x_test[i, 0])  # 28×28 smoothly scaled up to the 280-px canvas
        assert canvas.image_array().shape == (280, 280)
        panel.refresh()  # the panel's own read-back, preprocessing and prediction
        guess = panel.guess
        assert guess is not None and not guess.empty
        correct += guess.label == mnist.y_test[i]
        # the round trip (up to canvas scale and back) keeps the digit close to the original
        original = mnist.x_test[i, 0] / 255.0
        centred += np.abs(guess.network_input - original).mean() < 0.08
    accuracy = correct / len(picks)
    assert accuracy >= 0.90, f"only {accuracy:.1%} of {len(picks)} held-out digits right through the canvas"
    assert centred >= 0.9 * len(picks)
