"""export_onnx: onnxruntime (an independent implementation) gives the engine's logits,
and load_onnx brings back the same model."""

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from cnnlab.interop import OnnxUnavailable, export_onnx, load_onnx  # noqa: E402
from tests.interop.models import every_layer_model, presets  # noqa: E402


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": x.astype(np.float32)})[0]


@pytest.mark.parametrize("index", range(6))
def test_every_preset_matches_onnxruntime(tmp_path, index):
    name, model = presets(seed=index)[index]
    path = export_onnx(model, tmp_path / "m.onnx")
    for n in (1, 5):  # the batch axis is dynamic
        x = np.random.default_rng(n).random((n, *model.input_shape)).astype(np.float32)
        theirs = _run(path, x)
        assert theirs.shape == (n, 10)
        assert np.abs(theirs - model.eval().forward(x)).max() <= 1e-4, name


@pytest.mark.parametrize("opset", [9, 13, 17, onnx.defs.onnx_opset_version()])
def test_every_layer_type_matches_onnxruntime(tmp_path, opset):
    model = every_layer_model(seed=3).eval()
    path = export_onnx(model, tmp_path / "m.onnx", opset=opset)
    x = np.random.default_rng(0).random((4, *model.input_shape)).astype(np.float32)
    assert np.abs(_run(path, x) - model.forward(x)).max() <= 1e-5
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.HasField("dim_value")
    assert proto.opset_import[0].version == opset
    assert load_onnx(path).get_config() == model.get_config()
    assert "Dropout" not in {n.op_type for n in proto.graph.node}


def _same_model(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return (a.get_config() == b.get_config() and wa.keys() == wb.keys()
            and all(np.array_equal(wa[k], wb[k]) for k in wa))


def test_load_onnx_of_export_onnx_is_the_same_model(tmp_path):
    for name, model in [*presets(seed=4), ("every layer", every_layer_model(seed=4))]:
        model.meta = {"name": name}
        back = load_onnx(export_onnx(model, tmp_path / "m.onnx"))
        assert _same_model(model, back), name
        assert not back.training


def test_the_graph_alone_gives_the_same_network(tmp_path):
    """Without cnnlab's metadata (as another tool would write it) the layers and weights
    still come back; only Dropout and the initializer names are lost."""
    model = every_layer_model(seed=5)
    path = export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "plain.onnx"))
    back = load_onnx(tmp_path / "plain.onnx")
    kept = [layer for layer in model.layers if layer.name != "Dropout"]
    assert [layer.name for layer in back.layers] == [layer.name for layer in kept]
    x = np.random.default_rng(0).random((2, *model.input_shape)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x), model.eval().forward(x))


def test_float64_models_are_written_as_float32(tmp_path):
    model = every_layer_model(np.float64, seed=6).eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    x = np.random.default_rng(0).random((3, *model.input_shape))
    assert np.abs(_run(path, x) - model.forward(x)).max() <= 1e-5
    assert load_onnx(path).dtype == np.float32


def test_bad_opset_and_missing_onnx(tmp_path, monkeypatch):
    model = every_layer_model()
    with pytest.raises(ValueError, match="opset must be an integer"):
        export_onnx(model, tmp_path / "m.onnx", opset=3)
    assert not (tmp_path / "m.onnx").exists()
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(OnnxUnavailable, match=r"pip install 'cnnlab\[onnx\]'"):
        export_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(ImportError, match="onnx"):
        load_onnx(tmp_path / "m.onnx")
