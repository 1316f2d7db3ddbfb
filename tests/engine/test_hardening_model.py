"""Model files, layer configs and the engine API under hostile or careless input (issue 12,
items 2, 3, 7, 8): checked before allocating, refused with messages in the user's words."""

import json
import os
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from cnnlab.engine import layers as L
from cnnlab.engine import limits, model_file
from cnnlab.engine.model import ModelFileError, Sequential, load
from cnnlab.engine.optim import SGD, Adam
from cnnlab.engine.trainer import Trainer, TrainingDiverged
from cnnlab.files import write_atomically
from tests.forge import npy, npz_with


def tiny(dtype=np.float32):
    return Sequential([L.Flatten(), L.Dense(4, 3, rng=0, dtype=dtype)], (1, 2, 2))


def saved(tmp_path, model=None):
    path = tmp_path / "good.npz"
    (model or tiny()).save(path)
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def forged_header(shape, dtype="<f4") -> bytes:
    """An .npy header declaring ``shape`` with no data after it."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


# ------------------------------------------------------------------ model files
def test_unknown_entry_is_refused_before_any_decompression(tmp_path, monkeypatch):
    arrays = {f"{k}.npy": npy(v) for k, v in saved(tmp_path).items()}
    arrays["extra.npy"] = npy(np.zeros(4_000_000, np.uint8))  # 4 MB deflating to a few kB
    path = npz_with(tmp_path / "bomb.npz", arrays)
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    with pytest.raises(ModelFileError, match="bomb.npz: unexpected entry 'extra'"):
        load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000


def test_total_size_is_capped_before_reading(tmp_path, monkeypatch):
    arrays = saved(tmp_path)
    arrays["1.W"] = np.zeros((4, 3), np.float32)
    path = tmp_path / "m.npz"
    np.savez_compressed(path, **arrays)
    monkeypatch.setattr(model_file, "MAX_MODEL_BYTES", 200)
    with pytest.raises(ModelFileError, match="would take [0-9,]+ bytes, more than the 200 allowed"):
        load(path)


def test_a_header_declaring_a_huge_shape_is_refused_without_allocating(tmp_path):
    entries = {f"{k}.npy": npy(v) for k, v in saved(tmp_path).items()}
    entries["1.W.npy"] = forged_header((10**12,))
    tracemalloc.start()
    with pytest.raises(ModelFileError, match=r"entry '1.W' declares shape \(1000000000000,\)"):
        load(npz_with(tmp_path / "huge.npz", entries))
    assert tracemalloc.get_traced_memory()[1] < 1_000_000
    tracemalloc.stop()


def test_duplicate_entry_names_are_refused(tmp_path):
    good = saved(tmp_path)
    path = tmp_path / "dup.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in good.items():
            zf.writestr(f"{k}.npy", npy(v))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("1.W.npy", npy(np.ones((4, 3), np.float32)))
    with pytest.raises(ModelFileError, match="'1.W.npy' appears more than once"):
        load(path)


def test_object_arrays_never_mention_numpy_internals(tmp_path):
    arrays = saved(tmp_path)
    arrays["1.W"] = np.array([{"x": 1}], dtype=object)
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ModelFileError) as info:
        load(tmp_path / "evil.npz")
    assert "allow_pickle" not in str(info.value) and "evil.npz" in str(info.value)
    np.savez(tmp_path / "data.npz", images=np.array([[1, 2]], dtype=object))
    with pytest.raises(ModelFileError, match="not a cnnlab model: no config entry") as info:
        load(tmp_path / "data.npz")
    assert "allow_pickle" not in str(info.value)


@pytest.mark.parametrize("version", [True, 1.0, "1", None])
def test_version_must_be_the_integer_one(tmp_path, version):
    arrays = saved(tmp_path)
    cfg = json.loads(str(arrays["config"]))
    cfg["version"] = version
    arrays["config"] = np.array(json.dumps(cfg))
    np.savez(tmp_path / "v.npz", **arrays)
    with pytest.raises(ModelFileError, match="model format version .* is not supported"):
        load(tmp_path / "v.npz")


def test_float32_max_weights_are_refused_on_load_and_never_predict(tmp_path):
    model = tiny()
    weights = {k: np.full_like(v, np.finfo(np.float32).max) for k, v in model.get_weights().items()}
    model.set_weights(weights)  # finite, so accepted by the API...
    with pytest.raises(ValueError, match="outputs are NaN or Inf .* no class can be predicted"):
        model.predict(np.ones((2, 1, 2, 2), np.float32))
    model.save(tmp_path / "max.npz")
    with pytest.raises(ModelFileError, match="Dense #1: weight W holds values up to 3.4e\\+38"):
        load(tmp_path / "max.npz")


def test_nan_weights_are_refused_by_set_weights():
    model = tiny()
    weights = model.get_weights()
    weights["1.b"][0] = np.nan
    with pytest.raises(ValueError, match="Dense #1: weight b contains NaN or Inf"):
        model.set_weights(weights)
    assert np.isfinite(model.get_weights()["1.b"]).all()


def test_predict_batch_size_and_empty_batches():
    model = tiny()
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        model.predict(np.zeros((3, 1, 2, 2)), batch_size=0)
    empty = model.predict(np.zeros((0, 1, 2, 2), np.float32))
    assert empty.shape == (0,) and empty.dtype == np.int64
    assert model.predict_proba(np.zeros((0, 1, 2, 2), np.uint8)).shape == (0, 3)
    with pytest.raises(ValueError, match="input contains NaN"):
        model.predict(np.full((1, 1, 2, 2), np.nan, np.float32))


# ------------------------------------------------------------------ architecture limits
@pytest.mark.parametrize("cfg, message", [
    ({"type": "Dense", "in_features": 10, "out_features": 10**9}, "Dense: out_features 1,000,000,000"),
    ({"type": "Conv2D", "in_channels": 1, "out_channels": 100_000, "kernel_size": 3},
     "Conv2D: out_channels 100,000 is outside the allowed 1..1,024"),
    ({"type": "Conv2D", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 100_000},
     "padding 100,000 is outside the allowed 0..64"),
    ({"type": "MaxPool2D", "kernel_size": 1000}, "kernel_size 1,000 is outside"),
])
def test_layer_configs_obey_the_designer_limits(cfg, message):
    for allocate in (False, True):
        with pytest.raises(ValueError, match=message):
            L.layer_from_config(cfg, allocate=allocate)


def test_parameter_budget_is_checked_before_drawing_weights():
    tracemalloc.start()
    with pytest.raises(limits.ModelTooLarge, match=r"Dense: 1,000,100,000 parameters would need"):
        L.Dense(10_000, 100_000)
    assert tracemalloc.get_traced_memory()[1] < 1_000_000
    tracemalloc.stop()


def test_activation_budget_names_the_layer_before_anything_is_allocated():
    cfg = {"format": "cnnlab.sequential", "version": 1, "input_shape": [3, 2048, 2048],
           "layers": [{"type": "Conv2D", "in_channels": 3, "out_channels": 64, "kernel_size": 3,
                       "padding": 1}]}
    tracemalloc.start()
    with pytest.raises(limits.ModelTooLarge, match="Conv2D #0: the network up to here needs about"):
        Sequential.from_config(cfg)
    assert tracemalloc.get_traced_memory()[1] < 1_000_000
    tracemalloc.stop()


def test_from_config_draws_the_same_weights_as_before():
    cfg = tiny().get_config()
    a, b = Sequential.from_config(cfg, seed=3), Sequential.from_config(cfg, seed=3)
    np.testing.assert_array_equal(a.get_weights()["1.W"], b.get_weights()["1.W"])
    rng = np.random.default_rng(3)
    ref = L.Dense(4, 3, rng=rng)
    np.testing.assert_array_equal(a.get_weights()["1.W"], ref.params["W"])


def test_the_designer_reads_its_limits_from_the_engine():
    form = pytest.importorskip("cnnlab.app.panels.layer_form")
    for kind, fields in form.FIELDS.items():
        for key, _label, field_kind, lo, hi in fields:
            if field_kind in ("int", "size"):
                assert (lo, hi) == limits.limit(kind, key), (kind, key)


@pytest.mark.parametrize("init", ["he_normal", "glorot_uniform", {"name": "normal", "sigma": 0.1},
                                  {"name": "uniform", "a": -0.2, "b": 0.3}])
def test_initialisers_draw_in_the_layer_dtype(init):
    tracemalloc.start()
    layer = L.Dense(1000, 1000, init=init, rng=0, dtype=np.float32)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    w = layer.params["W"]
    assert w.dtype == np.float32 and peak < 2.6 * w.nbytes  # W and its gradient, no float64 copy
    if isinstance(init, dict) and init["name"] == "uniform":
        assert -0.2 <= w.min() and w.max() < 0.3
    assert abs(float(w.std()) - layer.init(w.shape, 1000, 1000, np.random.default_rng(1)).std()) < 1e-2


# ------------------------------------------------------------------ API validation
def test_adam_eps_zero_and_tiny_normalize_std_are_refused():
    with pytest.raises(ValueError, match="Adam: eps must be at least 1e-12"):
        Adam([L.Dense(2, 2)], eps=0)
    with pytest.raises(ValueError, match="Normalize: std must be positive, between 1e-06"):
        L.Normalize(0.0, 1e-300)
    with pytest.raises(ValueError, match="Normalize: mean must be a finite number"):
        L.Normalize(True, 1.0)


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 2, 2), dtype=np.float32), rng.integers(0, 3, n)


def test_nan_only_in_validation_data_is_a_clear_error():
    x, y = _data()
    x_val, y_val = _data(6, 1)
    x_val[2, 0, 1, 1] = np.nan
    trainer = Trainer(tiny(), SGD(tiny(), lr=0.1), epochs=1)
    with pytest.raises(ValueError, match=r"Trainer.fit \(validation\): the images contain 1 NaN"):
        trainer.fit(x, y, x_val, y_val)


def test_empty_training_sets_and_boolean_labels_are_clear_errors():
    model = tiny()
    trainer = Trainer(model, SGD(model, lr=0.1), epochs=1, val_fraction=0)
    with pytest.raises(ValueError, match="the training set is empty"):
        trainer.fit(np.zeros((0, 1, 2, 2), np.float32), np.zeros(0, np.int64))
    x, y = _data()
    with pytest.raises(ValueError, match="labels must be a 1-D integer array, got bool"):
        trainer.fit(x, y > 0)


def test_diverged_message_names_the_cause():
    x, y = _data()
    model = tiny()
    bad_inputs = Trainer(model, SGD(model, lr=0.1), epochs=1, val_fraction=0,
                         augment=lambda xb, rng: xb * np.float32(np.nan))
    with pytest.raises(TrainingDiverged, match="images of this batch contain NaN") as info:
        bad_inputs.fit(x, y)
    assert info.value.cause == "inputs"
    model = tiny()
    huge = Trainer(model, SGD(model, lr=10.0), epochs=50, val_fraction=0,
                   augment=lambda xb, rng: xb * np.float32(1e30))
    expected = r"\(learning rate 10\): the learning rate is probably too large"
    with pytest.raises(TrainingDiverged, match=expected) as info:
        huge.fit(x, y)
    assert info.value.cause == "rate"


# ------------------------------------------------------------------ stale temp files
def test_saves_remove_stale_temp_files_of_the_same_target(tmp_path):
    target = tmp_path / "m.npz"
    stale = [tmp_path / f".m.npz.{k}.tmp" for k in ("a1", "b2")]
    fresh = tmp_path / ".m.npz.c3.tmp"  # another save may be writing it right now
    other = tmp_path / ".other.npz.d4.tmp"
    for p in (*stale, fresh, other):
        p.write_bytes(b"x" * 100)
    old = time.time() - 3600
    for p in (*stale, other):
        os.utime(p, (old, old))
    tiny().save(target)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and other.exists()
    write_atomically(tmp_path / "other.npz", lambda f: f.write(b"ok"))
    assert not other.exists()

