"""Sequential: shape inference, summary, config, weights, copies and model files."""

import json
import os
import zipfile

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine import model as M
from cnnlab.engine.model import ModelFileError, Sequential, infer_shapes, load


def lenet(dtype=None, dropout=False):
    layers = [L.Normalize(0.5, 1.0), L.Conv2D(1, 4, 5, padding=2, rng=0), L.ReLU(), L.MaxPool2D(2),
              L.Conv2D(4, 6, 3, rng=1), L.ReLU(), L.MaxPool2D(2), L.Flatten(),
              L.Dense(6 * 2 * 2, 16, rng=2), L.ReLU()]
    if dropout:
        layers.append(L.Dropout(0.5, rng=0))
    layers.append(L.Dense(16, 10, rng=3))
    return Sequential(layers, (1, 12, 12), dtype=dtype)


def images(n=5, seed=0):
    return np.random.default_rng(seed).random((n, 1, 12, 12), dtype=np.float32)


def test_shapes_are_inferred_at_build_time():
    model = lenet()
    assert model.shapes[1] == (4, 12, 12) and model.shapes[6] == (6, 2, 2)
    assert model.output_shape == (10,) and model.input_shape == (1, 12, 12)
    assert [layer.index for layer in model.layers] == list(range(len(model.layers)))
    assert model.forward(images()).shape == (5, 10)


@pytest.mark.parametrize("layers,shape,message", [
    ([L.Conv2D(1, 2, 5, dilation=2)], (1, 8, 8),
     r"Conv2D #0: kernel 5x5 \(dilation 2 → 9x9\) does not fit padded input 8x8"),
    ([L.ReLU(), L.Conv2D(1, 2, 7, padding=1)], (1, 4, 4),
     r"Conv2D #1: kernel 7x7 does not fit padded input 6x6"),
    ([L.Conv2D(3, 2, 3)], (1, 8, 8), r"Conv2D #0: expects 3 input channels, got 1"),
    ([L.Flatten(), L.Dense(10, 2)], (1, 3, 3), r"Dense #1: in_features is 10 but its input has 9"),
    ([L.Dense(9, 2)], (1, 3, 3), r"Dense #0: expects flat input \(9,\), got shape \(1, 3, 3\)"),
    ([L.Conv2D(1, 2, 3)], (28, 28), r"Conv2D #0: expects input \(C, H, W\)"),
    ([L.MaxPool2D(4)], (1, 3, 3), r"MaxPool2D #0: window 4x4 does not fit input 3x3"),
])
def test_bad_architectures_raise_at_build_time(layers, shape, message):
    with pytest.raises(ValueError, match=message):
        Sequential(layers, shape)


def test_bad_inputs_raise_in_forward():
    model = lenet()
    with pytest.raises(ValueError, match=r"expects input \(N, 1, 12, 12\), got shape \(1, 12, 12\)"):
        model.forward(np.zeros((1, 12, 12), dtype=np.float32))
    with pytest.raises(ValueError, match="input_shape must be positive ints"):
        Sequential([L.ReLU()], (0, 3))
    with pytest.raises(ValueError, match="needs at least one layer"):
        Sequential([], (3,))


def test_dtype_is_taken_from_layers_or_cast():
    assert lenet().dtype == np.float32
    model64 = lenet(dtype=np.float64)
    assert model64.layers[1].params["W"].dtype == np.float64
    assert model64.forward(images()).dtype == np.float64
    with pytest.raises(ValueError, match="mix float32 and float64"):
        Sequential([L.Dense(2, 2), L.Dense(2, 2, dtype=np.float64)], (2,))
    # float64 input to a float32 model runs in float32; uint8 images are scaled to [0, 1]
    model = lenet()
    x = images()
    assert model.forward(x.astype(np.float64)).dtype == np.float32
    as_bytes = np.round(x * 255).astype(np.uint8)
    np.testing.assert_allclose(model.forward(as_bytes), model.forward(as_bytes / np.float32(255)),
                               rtol=1e-5, atol=1e-6)


def test_backward_fills_grads_and_returns_input_gradient():
    model = lenet()
    out = model.forward(images())
    dx = model.backward(np.ones_like(out))
    assert dx.shape == (5, 1, 12, 12)
    assert all(np.any(layer.grads["W"]) for layer in model.layers if layer.params)
    assert model.backward(np.ones_like(out), need_input_grad=False) is None


def test_predict_runs_in_inference_mode():
    model = lenet(dropout=True).train()
    x = images(7)
    probs = model.predict_proba(x)
    assert probs.shape == (7, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict_proba(x), probs)  # dropout is off
    assert model.training  # mode restored
    np.testing.assert_array_equal(model.predict(x), probs.argmax(axis=1))
    single = model.predict_proba(x[0])
    np.testing.assert_allclose(single, probs[0], rtol=1e-5)
    assert model.predict(x[0]) == probs[0].argmax()
    np.testing.assert_allclose(model.predict_proba(x, batch_size=3), probs, rtol=1e-5)


def test_summary_lists_layers_shapes_weights_and_total():
    text = lenet().summary()
    assert "Conv2D" in text and "(4, 12, 12)" in text and "(4, 1, 5, 5) + (4,)" in text
    total = 4 * 25 + 4 + 6 * 4 * 9 + 6 + 24 * 16 + 16 + 16 * 10 + 10
    assert f"Total params: {total:,}" in text
    assert lenet().n_params == total


def test_summary_has_input_shape_and_neuron_columns():
    lines = lenet().summary().splitlines()
    assert lines[0].split() == ["#", "Layer", "Input", "shape", "Output", "shape", "Neurons",
                                "Weights", "Params"]
    assert lines[2].split() == ["Input", "(1,", "12,", "12)", "144"]
    # conv 5x5 pad 2 keeps 12x12: 4 * 12 * 12 = 576 neurons; its pool halves it to 144
    assert lines[4].split()[:9] == ["1", "Conv2D", "(1,", "12,", "12)", "(4,", "12,", "12)", "576"]
    assert lines[6].split()[:9] == ["3", "MaxPool2D", "(4,", "12,", "12)", "(4,", "6,", "6)", "144"]
    assert lines[-2].startswith("---") and lines[4].split()[-1] == "104"


def test_config_round_trips_through_json():
    model = lenet(dropout=True)
    model.meta = {"name": "tiny", "classes": list("0123456789")}
    cfg = json.loads(json.dumps(model.get_config()))
    assert cfg["format"] == "cnnlab.sequential" and cfg["version"] == 1
    assert cfg["input_shape"] == [1, 12, 12] and cfg["meta"]["name"] == "tiny"
    rebuilt = Sequential.from_config(cfg)
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.summary() == model.summary()


def test_get_and_set_weights():
    a, b = lenet(), Sequential.from_config(lenet().get_config(), seed=42)
    weights = a.get_weights()
    assert sorted(weights)[:2] == ["1.W", "1.b"]
    weights["1.W"][:] = 0  # a copy: the model is unchanged
    assert np.any(a.layers[1].params["W"])
    held = b.layers[1].params["W"]
    b.set_weights(a.get_weights())
    assert b.layers[1].params["W"] is held  # in place: an optimizer keeps working
    np.testing.assert_array_equal(b.forward(images()), a.forward(images()))
    bad = a.get_weights()
    bad["8.W"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"Dense #8: weight W must have shape \(24, 16\), got \(3, 3\)"):
        b.set_weights(bad)
    del bad["8.W"]
    with pytest.raises(ValueError, match=r"missing \['8.W'\]"):
        b.set_weights(bad)


def test_copy_is_independent_and_in_eval_mode():
    model = lenet(dropout=True).train()
    snapshot = model.copy()
    assert not snapshot.training
    before = snapshot.predict_proba(images())
    model.layers[1].params["W"] += 1
    np.testing.assert_array_equal(snapshot.predict_proba(images()), before)
    assert snapshot.layers[1].params["W"] is not model.layers[1].params["W"]


def test_activations_return_every_layer_output_in_eval_mode():
    model = lenet(dropout=True).train()
    acts = model.activations(images(1)[0])
    assert [(i, name) for i, name, _ in acts] == [(layer.index, layer.name) for layer in model.layers]
    assert acts[1][2].shape == (1, 4, 12, 12)
    np.testing.assert_allclose(acts[-1][2], model.eval().forward(images(1)), rtol=1e-6)


def test_infer_shapes_never_raises():
    cfgs = lenet().get_config()["layers"]
    rows = infer_shapes(cfgs, (1, 12, 12))
    assert [r.output_shape for r in rows][-1] == (10,)
    assert rows[1].weight_shapes == {"W": (4, 1, 5, 5), "b": (4,)} and rows[1].n_params == 104
    assert all(r.error is None for r in rows)
    rows = infer_shapes(cfgs, (1, 6, 6))  # too small: the second pool fails
    first_bad = next(r for r in rows if r.error)
    assert first_bad.index == 6 and "MaxPool2D #6: window 2x2 does not fit input 1x1" in first_bad.error
    assert all(r.error == "follows an invalid layer" and r.output_shape is None
               for r in rows[7:])
    rows = infer_shapes([{"type": "Conv2D", "in_channels": 1, "out_channels": 2, "kernel_size": 0},
                         {"type": "ReLU"}, {"type": "Nope"}], (1, 5, 5))
    assert rows[0].error == "Conv2D #0: kernel_size must be positive, got 0"
    assert rows[1].error == rows[2].error == "follows an invalid layer"
    assert "unknown layer type 'Nope'" in infer_shapes([{"type": "Nope"}], (1, 5, 5))[0].error


# ------------------------------------------------------------------ files
def test_save_and_load_round_trip(tmp_path):
    model = lenet()
    model.meta = {"name": "tiny", "test_accuracy": 0.5}
    path = tmp_path / "tiny.npz"
    model.save(path)
    loaded = load(path)
    assert not loaded.training
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict_proba(images()), model.predict_proba(images()))
    assert os.listdir(tmp_path) == ["tiny.npz"]  # no temp files left
    assert path.stat().st_mode & 0o777 == 0o644  # not the temp file's private 0600
    model.save(str(tmp_path / "plain_name"))  # exactly the given name
    assert load(tmp_path / "plain_name").n_params == model.n_params


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    lenet().save(path)
    original = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(M.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        lenet().save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.npz"]


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing.npz")


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def saved_arrays(tmp_path):
    path = tmp_path / "good.npz"
    lenet().save(path)
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_bad_model_files_raise_model_file_error(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello, not a model")
    with pytest.raises(ModelFileError, match="notes.npz: not a readable .npz archive"):
        load(text)
    with pytest.raises(ModelFileError, match="not a cnnlab model: no config entry"):
        load(write_npz(tmp_path / "data.npz", x=np.zeros(3)))
    with pytest.raises(ModelFileError, match="a.npy: not a readable .npz archive"):
        np.save(tmp_path / "a.npy", np.zeros(3))
        load(tmp_path / "a.npy")

    good = tmp_path / "good.npz"
    lenet().save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="truncated.npz"):
        load(truncated)


def test_model_file_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    arrays = saved_arrays(tmp_path)
    arrays["1.W"] = np.array([{"x": 1}], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError):
        load(path)


def test_wrong_weight_shapes_and_versions(tmp_path):
    arrays = saved_arrays(tmp_path)
    arrays["4.W"] = np.zeros((6, 4, 2, 2), dtype=np.float32)
    with pytest.raises(ModelFileError, match=r"Conv2D #4: parameter W must have shape \(6, 4, 3, 3\)"):
        load(write_npz(tmp_path / "shape.npz", **arrays))

    arrays = saved_arrays(tmp_path)
    del arrays["8.b"]
    with pytest.raises(ModelFileError, match="Dense #8: weights 8.b are missing"):
        load(write_npz(tmp_path / "missing.npz", **arrays))

    arrays = saved_arrays(tmp_path)
    cfg = json.loads(str(arrays["config"]))
    cfg["version"] = 99
    arrays["config"] = np.array(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="version 99 is not supported"):
        load(write_npz(tmp_path / "future.npz", **arrays))

    arrays = saved_arrays(tmp_path)
    arrays["config"] = np.array("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load(write_npz(tmp_path / "json.npz", **arrays))

    arrays = saved_arrays(tmp_path)
    cfg = json.loads(str(arrays["config"]))
    cfg["layers"][4]["kernel_size"] = 30
    arrays["config"] = np.array(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="Conv2D #4: kernel 30x30 does not fit"):
        load(write_npz(tmp_path / "arch.npz", **arrays))


def test_model_file_is_a_plain_zip_of_npy(tmp_path):
    path = tmp_path / "m.npz"
    lenet().save(path)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert {"config.npy", "format_version.npy", "1.W.npy", "1.b.npy"} <= names


def test_seeded_construction_and_reset_are_reproducible():
    cfg = lenet().get_config()
    a, b = Sequential.from_config(cfg, seed=3), Sequential.from_config(cfg, seed=3)
    assert all(np.array_equal(v, b.get_weights()[k]) for k, v in a.get_weights().items())
    held = a.layers[1].params["W"]
    a.reset_parameters(seed=4)
    assert a.layers[1].params["W"] is held  # redrawn in place
    assert not np.array_equal(held, b.layers[1].params["W"])
    b.reset_parameters(seed=4)
    np.testing.assert_array_equal(a.layers[1].params["W"], b.layers[1].params["W"])


def test_inference_mode_restores_each_layer_and_sequence_protocol():
    model = lenet(dropout=True).train()
    model.layers[0].training = False
    with pytest.raises(RuntimeError):
        with model.inference_mode():
            assert not any(layer.training for layer in model)
            raise RuntimeError
    assert [layer.training for layer in model] == [False] + [True] * (len(model) - 1)
    assert model[1] is model.layers[1] and len(model) == 12


def test_as_input_scales_bytes_and_casts_floats():
    x = np.array([0, 51, 255], dtype=np.uint8)
    np.testing.assert_allclose(M.as_input(x, np.float32), [0, 0.2, 1], rtol=1e-6)
    assert M.as_input(x, np.float64).dtype == np.float64
    f = np.ones(2, dtype=np.float32)
    assert M.as_input(f, np.float32) is f


def test_config_with_unknown_or_missing_options_says_which():
    from cnnlab.engine.layers import layer_from_config

    with pytest.raises(ValueError, match=r"Conv2D: unknown option 'filters' \(options: in_channels"):
        layer_from_config({"type": "Conv2D", "filters": 3, "in_channels": 1, "out_channels": 2,
                           "kernel_size": 3})
    with pytest.raises(ValueError, match=r"Dense: missing 'in_features'"):
        layer_from_config({"type": "Dense", "out_features": 3}, allocate=False)
    with pytest.raises(ValueError, match=r"ReLU: unknown option 'x' \(options: none\)"):
        layer_from_config({"type": "ReLU", "x": 1})
