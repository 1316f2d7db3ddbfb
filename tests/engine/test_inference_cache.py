"""Inference keeps no training caches: after predict/evaluate a model holds its weights
and nothing a backward pass would need (im2col columns, inputs, masks)."""

import numpy as np

from cnnlab.engine.conv import Conv2D
from cnnlab.engine.layers import Dense, Dropout, Flatten, ReLU
from cnnlab.engine.model import Sequential
from cnnlab.engine.optim import SGD
from cnnlab.engine.pooling import MaxPool2D
from cnnlab.engine.trainer import Trainer, evaluate


def small_net() -> Sequential:
    rng = np.random.default_rng(0)
    return Sequential([Conv2D(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2), Dropout(0.2),
                       Flatten(), Dense(4 * 4 * 4, 3, rng=rng)], (1, 8, 8))


def cached_arrays(model: Sequential) -> dict[str, int]:
    """Bytes held by each layer's private (non-parameter, non-scratch) arrays."""
    held = {}
    for i, layer in enumerate(model.layers):
        for key, value in vars(layer).items():
            if not key.startswith("_") or key in ("_buffers", "_buffer_shapes"):
                continue
            items = value.values() if isinstance(value, dict) else (
                value if isinstance(value, (tuple, list)) else (value,))
            n = sum(v.nbytes for v in items if isinstance(v, np.ndarray))
            if n:
                held[f"{i}.{key}"] = n
    return held


def test_predict_and_evaluate_leave_no_forward_cache():
    model = small_net()
    x = np.random.default_rng(1).random((50, 1, 8, 8)).astype(np.float32)
    model.train()
    model.forward(x)
    assert cached_arrays(model)  # a training forward keeps what backward needs
    model.predict(x, batch_size=16)
    assert cached_arrays(model) == {}
    model.forward(x)
    evaluate(model, x, np.zeros(50, dtype=np.int64), batch_size=16)
    assert cached_arrays(model) == {}
    assert model.layers[0].training  # the previous mode is restored


def test_training_still_works_after_inference_and_clear_cache():
    model = small_net()
    rng = np.random.default_rng(2)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model.predict(x)
    Trainer(model, SGD(model.layers, lr=0.1), epochs=2, batch_size=8, val_fraction=0.25).fit(x, y)
    assert model.layers[0]._buffers  # training reuses scratch between steps
    model.clear_cache(buffers=True)
    assert cached_arrays(model) == {} and not model.layers[0]._buffers
    before = model.predict(x)
    Trainer(model, SGD(model.layers, lr=0.0), epochs=1, batch_size=8, val_fraction=0.0).fit(x, y)
    np.testing.assert_array_equal(model.predict(x), before)  # lr 0: same weights, same answers


def test_copy_of_a_trained_model_holds_only_weights():
    model = small_net()
    x = np.random.default_rng(3).random((20, 1, 8, 8)).astype(np.float32)
    model.train()
    model.forward(x)
    twin = model.copy()
    twin.predict(x)
    assert cached_arrays(twin) == {} and not twin.layers[0]._buffers
