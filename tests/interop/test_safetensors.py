"""safetensors weights: PyTorch names and layouts, bit-exact round trips, clear errors."""

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from cnnlab.engine.model import ModelFileError
from cnnlab.interop import load_safetensors, save_safetensors
from cnnlab.interop.state_dict import torch_shapes
from tests.interop.models import every_layer_model, presets


def _same_weights(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return wa.keys() == wb.keys() and all(
        wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    model = every_layer_model(dtype, seed=1)
    target = every_layer_model(dtype, seed=2)
    assert not _same_weights(model, target)
    path = save_safetensors(model, tmp_path / "w.safetensors")
    assert load_safetensors(target, path) is target
    assert _same_weights(model, target)
    x = np.random.default_rng(0).random((3, *model.input_shape))
    assert np.array_equal(model.eval().forward(x), target.eval().forward(x))


def test_presets_round_trip(tmp_path):
    for (name, model), (_, target) in zip(presets(seed=3), presets(seed=4)):
        load_safetensors(target, save_safetensors(model, tmp_path / "p.safetensors"))
        assert _same_weights(model, target), name


def test_pytorch_names_and_layouts(tmp_path):
    model = every_layer_model(seed=5)
    tensors = load_file(save_safetensors(model, tmp_path / "w.safetensors"))
    assert list(tensors) == sorted(torch_shapes(model))  # safetensors sorts names
    assert set(tensors) == {"1.weight", "1.bias", "4.weight", "9.weight", "9.bias", "11.weight",
                            "14.weight", "14.bias"}
    assert np.array_equal(tensors["1.weight"], model[1].params["W"])  # conv: same layout
    assert tensors["9.weight"].shape == (7, 27)  # Linear: (out, in)
    assert np.array_equal(tensors["9.weight"], model[9].params["W"].T)
    assert np.array_equal(tensors["14.bias"], model[14].params["b"])
    assert all(t.dtype == np.float32 for t in tensors.values())


def _rewrite(tmp_path, model, change):
    tensors = load_file(save_safetensors(model, tmp_path / "w.safetensors"))
    change(tensors)
    save_file(tensors, tmp_path / "bad.safetensors")
    return tmp_path / "bad.safetensors"


def test_mismatches_are_reported_by_name_and_leave_the_model_alone(tmp_path):
    model = every_layer_model(seed=6)
    before = model.get_weights()

    def damage(t):
        del t["9.bias"]
        t["9.weight"] = t["9.weight"].T.copy()  # cnnlab layout instead of PyTorch's
        t["4.weight"] = t["4.weight"].astype(np.float64)
        t["99.weight"] = np.zeros(2, np.float32)

    with pytest.raises(ModelFileError) as err:
        load_safetensors(model, _rewrite(tmp_path, model, damage))
    text = str(err.value)
    assert "9.bias: missing" in text and "99.weight: not in the model" in text
    assert "9.weight: shape (27, 7) but the model needs (7, 27)" in text
    assert "4.weight: dtype F64 but the model is F32" in text
    assert "bad.safetensors" in text
    assert all(np.array_equal(before[k], v) for k, v in model.get_weights().items())


def test_non_finite_weights_are_refused(tmp_path):
    model = every_layer_model(seed=7)

    def poison(t):
        t["14.bias"][1] = np.nan

    with pytest.raises(ModelFileError, match="'14.bias' contains NaN"):
        load_safetensors(model, _rewrite(tmp_path, model, poison))


def _file(tmp_path, header: dict, data: bytes = b"", declared: int | None = None):
    raw = json.dumps(header).encode()
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw) if declared is None else declared) + raw + data)
    return path


@pytest.mark.parametrize("header, data, declared, message", [
    ({}, b"", 10**12, "declares a 1,000,000,000,000-byte header"),
    ({"0.weight": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 8]}}, b"x" * 8, None,
     "do not hold a F32 tensor of shape"),
    ({"0.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"x" * 4, None,
     "lie outside the 4 data bytes"),
    ({"0.weight": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}, b"x" * 8, None,
     "unknown dtype 'Q9'"),
    ({"0.weight": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"x" * 8, None,
     "non-negative ints"),
    ({"0.weight": [1, 2]}, b"", None, "not an object"),
])
def test_malformed_headers_give_clear_errors(tmp_path, header, data, declared, message):
    model = every_layer_model()
    with pytest.raises(ModelFileError, match=message):
        load_safetensors(model, _file(tmp_path, header, data, declared))


def test_not_a_safetensors_file(tmp_path):
    model = every_layer_model()
    (tmp_path / "short").write_bytes(b"abc")
    with pytest.raises(ModelFileError, match="too short"):
        load_safetensors(model, tmp_path / "short")
    (tmp_path / "text").write_bytes(struct.pack("<Q", 3) + b"{x]")
    with pytest.raises(ModelFileError, match="not JSON"):
        load_safetensors(model, tmp_path / "text")
    with pytest.raises(FileNotFoundError):
        load_safetensors(model, tmp_path / "absent.safetensors")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.binary(max_size=200).map(lambda b: struct.pack("<Q", len(b)) + b))
def test_random_bytes_never_crash(tmp_path, data):
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(data)
    model = every_layer_model()
    before = model.get_weights()
    with pytest.raises(ModelFileError):
        load_safetensors(model, path)
    assert all(np.array_equal(before[k], v) for k, v in model.get_weights().items())
