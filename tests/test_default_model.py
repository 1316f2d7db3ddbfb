"""The shipped default digit model (resources/models/digits.npz) loads and is as good as
its metadata says on the 1,000 held-out sample test digits."""

import numpy as np
import pytest

from cnnlab.data import MNIST_CLASSES, load_mnist, to_float
from cnnlab.engine.model import Sequential, load
from cnnlab.engine.trainer import evaluate
from cnnlab.resources import resource_path


@pytest.fixture(scope="module")
def model():
    return load(resource_path("models", "digits.npz"))


def test_default_model_loads_with_its_metadata(model):
    assert isinstance(model, Sequential)
    assert tuple(model.input_shape) == (1, 28, 28) and tuple(model.output_shape) == (10,)
    meta = model.meta
    assert meta["name"] == "default digits"
    assert "MNIST sample" in meta["dataset"]
    assert meta["class_names"] == list(MNIST_CLASSES)
    assert meta["training"]["script"] == "tools/train_default_model.py"
    assert 0.97 <= meta["test_accuracy"] <= 1.0


def test_default_model_reaches_its_recorded_accuracy(model):
    _, (x_test, y_test) = load_mnist("sample")
    assert len(x_test) == 1000
    _loss, acc = evaluate(model, to_float(x_test), y_test)
    assert acc >= 0.97
    assert acc >= model.meta["test_accuracy"] - 0.002  # inference is deterministic
    # every class is learned, not just the easy ones
    pred = model.predict(to_float(x_test))
    per_class = [np.mean(pred[y_test == k] == k) for k in range(10)]
    assert min(per_class) >= 0.9
