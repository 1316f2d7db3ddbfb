"""Shared GUI-test fixtures: a session with the MNIST sample and a small, fast net."""

import pytest

from cnnlab.app.session import Session, load_dataset
from cnnlab.lab.presets import build_preset

SMALL = "Conv3x3×9 → MaxPool2 → Softmax"


@pytest.fixture
def session(qtbot):
    s = Session()
    s.set_dataset(load_dataset("mnist", "sample"))
    s.set_model(build_preset(SMALL), SMALL)
    yield s
    assert s.shutdown(timeout_ms=5000)
