"""Presets build, have the documented shapes, and specs resolve like Keras' input inference."""

import numpy as np
import pytest

from cnnlab.engine.model import infer_shapes
from cnnlab.lab import presets


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_builds_and_classifies_ten_classes(name):
    model = presets.build_preset(name)
    shape, _ = presets.preset_specs(name)
    assert tuple(model.input_shape) == shape
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    proba = model.predict_proba(x)
    assert proba.shape == (2, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_param_counts_of_the_classic_nets():
    # Hand-computed: 9*(1*3*3)+9 + 1521*10+10; 8*9+8 + 1568*100+100 + 100*10+10.
    conv9 = presets.build_preset("Conv3x3×9 → MaxPool2 → Softmax")
    assert sum(layer.n_params for layer in conv9.layers) == 90 + 15220
    small = presets.build_preset("Conv 3×3×8 pad 1 → ReLU → pool → 100 → 10")
    assert sum(layer.n_params for layer in small.layers) == 80 + 156900 + 1010
    lenet = presets.build_preset("LeNet-like (32-64 conv, 128 dense)")
    assert lenet.layers[-1].params["W"].shape == (128, 10)
    assert lenet.layers[-3].params["W"].shape == (3136, 128)
    cifar = presets.build_preset("CIFAR-10 net (32-64 conv, 128 dense)")
    assert cifar.layers[-3].params["W"].shape == (4096, 128)


def test_resolve_fills_input_sizes_and_strip_inverts_it():
    shape, specs = presets.preset_specs("LeNet-like (32-64 conv, 128 dense)")
    resolved = presets.resolve_specs(specs, shape)
    assert resolved[0]["in_channels"] == 1
    assert resolved[3]["in_channels"] == 32
    assert resolved[7]["in_features"] == 64 * 7 * 7
    assert presets.strip_sizes(resolved) == specs
    assert "in_channels" not in specs[0]  # the input is not modified


def test_an_impossible_layer_is_reported_on_its_row():
    specs = [{"type": "MaxPool2D", "kernel_size": 2}] * 5 + [
        {"type": "Conv2D", "out_channels": 4, "kernel_size": 5}, {"type": "Flatten"},
        {"type": "Dense", "out_features": 10}]
    rows = infer_shapes(presets.resolve_specs(specs, (1, 28, 28)), (1, 28, 28))
    assert rows[4].output_shape == (1, 0, 0) or rows[4].error  # 28→14→7→3→1→ pool of 1×1 fails
    bad = next(r for r in rows if r.error and r.error != "follows an invalid layer")
    assert bad.index in (4, 5)
    assert rows[-1].error == "follows an invalid layer"
    with pytest.raises(ValueError):
        presets.build(specs, (1, 28, 28))


def test_same_seed_gives_same_initial_weights():
    a = presets.build_preset("MLP (784→100→10)", seed=3).get_weights()
    b = presets.build_preset("MLP (784→100→10)", seed=3).get_weights()
    c = presets.build_preset("MLP (784→100→10)", seed=4).get_weights()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="unknown preset"):
        presets.preset_specs("ResNet-152")


def test_stratified_subset_keeps_every_class():
    from cnnlab.lab.sweeps import stratified_subset

    y = np.repeat(np.arange(10), 50)  # sorted by class, like the MNIST sample
    idx = stratified_subset(y, 100, seed=0)
    assert len(idx) == 100 and np.all(np.diff(idx) > 0)
    assert np.array_equal(np.bincount(y[idx]), np.full(10, 10))
    assert np.array_equal(idx, stratified_subset(y, 100, seed=0))
    assert not np.array_equal(idx, stratified_subset(y, 100, seed=1))
    assert np.array_equal(stratified_subset(y, 1000, seed=0), np.arange(500))
