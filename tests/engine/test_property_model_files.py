"""Property tests: a model file of any bytes, or a real one with bytes changed, loads or
raises ModelFileError; a config of any JSON builds or raises ValueError. Neither ever
allocates more than a small budget (tracemalloc)."""

import io
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.engine import layers as L
from cnnlab.engine.model import ModelFileError, Sequential, load
from tests.forge import within_budget

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _model() -> Sequential:
    return Sequential([L.Conv2D(1, 2, 3, rng=0), L.ReLU(), L.MaxPool2D(2), L.Flatten(),
                       L.Dense(2 * 3 * 3, 3, rng=1)], (1, 8, 8))


def _saved_bytes(compress: bool) -> bytes:
    model = _model()
    buf = io.BytesIO()
    arrays = {"config": np.array(json.dumps(model.get_config())), "format_version": np.array(1),
              **model.get_weights()}
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


def mutated(valid: bytes):
    edits = st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), max_size=6)
    cut = st.one_of(st.none(), st.integers(0, len(valid)))

    def apply(args):
        out = bytearray(valid)
        for pos, value in args[0]:
            out[pos] = value
        return bytes(out[:args[1]] if args[1] is not None else out)

    return st.tuples(edits, cut).map(apply)


@FAST
@given(st.one_of(st.binary(max_size=600), mutated(_saved_bytes(False)), mutated(_saved_bytes(True))))
def test_model_file_reader(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("m") / "m.npz"
    path.write_bytes(raw)
    model, error = within_budget(lambda: load(path), ModelFileError)
    assert isinstance(model, Sequential) or path.name in str(error)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats()
                    | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12),
                                                                                inner, max_size=5),
                    max_leaves=30)
LAYER_KEYS = ["type", "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "in_features", "out_features", "bias", "init", "p", "mean", "std", "negative_slope",
              "dtype"]
SIZES = st.one_of(st.integers(-5, 10**12), st.lists(st.integers(-5, 10**6), max_size=3), JSON)
LAYER = st.dictionaries(st.sampled_from(LAYER_KEYS), SIZES, max_size=8).map(
    lambda d: d if "type" not in d or not isinstance(d["type"], int) else {
        **d, "type": list(L.LAYER_TYPES)[d["type"] % len(L.LAYER_TYPES)]})
CONFIG = st.fixed_dictionaries({"format": st.just("cnnlab.sequential"), "version": st.just(1),
                                "input_shape": st.one_of(st.lists(st.integers(-2, 10**5), max_size=4),
                                                         JSON),
                                "layers": st.lists(LAYER, max_size=5)},
                               optional={"meta": JSON, "dtype": st.one_of(
                                   st.sampled_from(["float32", "float64", "float16", "int8", "f"]),
                                   JSON)})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(CONFIG, JSON))
def test_config_loader(cfg):
    model, error = within_budget(lambda: Sequential.from_config(cfg, seed=0), ValueError)
    assert isinstance(model, Sequential) or str(error)  # built, or a message saying why


@FAST
@given(st.one_of(CONFIG, JSON))
def test_model_file_with_any_config(tmp_path_factory, cfg):
    model = _model()
    arrays = {"config": np.array(json.dumps(cfg)), **model.get_weights()}
    path = tmp_path_factory.mktemp("c") / "c.npz"
    np.savez(path, **arrays)
    model, error = within_budget(lambda: load(path), ModelFileError)
    assert isinstance(model, Sequential) or path.name in str(error)
