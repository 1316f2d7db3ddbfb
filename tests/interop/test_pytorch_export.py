"""export_pytorch: the generated model.py read as code (always) and run by PyTorch (when installed)."""

import ast
import importlib.util
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from cnnlab.interop import export_pytorch, load_safetensors
from cnnlab.interop.state_dict import torch_shapes
from tests.interop.models import every_layer_model, presets

#: the torch.nn constructor each cnnlab layer must become
EXPECTED = {"Conv2D": "nn.Conv2d", "Dense": "nn.Linear", "MaxPool2D": "nn.MaxPool2d",
            "AvgPool2D": "nn.AvgPool2d", "Flatten": "nn.Flatten", "ReLU": "nn.ReLU",
            "LeakyReLU": "nn.LeakyReLU", "Tanh": "nn.Tanh", "Sigmoid": "nn.Sigmoid",
            "Dropout": "nn.Dropout", "Normalize": "Normalize"}


def _sequential_calls(source: str) -> list[ast.Call]:
    """The arguments of the ``nn.Sequential(...)`` call inside ``build_model``."""
    tree = ast.parse(source)
    build = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_model")
    call = next(n for n in ast.walk(build) if isinstance(n, ast.Call)
                and ast.unparse(n.func) == "nn.Sequential")
    return call.args


def _state_dict_names(calls: list[ast.Call]) -> set[str]:
    """What PyTorch would name the parameters, read off the module calls alone."""
    names = set()
    for i, call in enumerate(calls):
        if ast.unparse(call.func) in ("nn.Conv2d", "nn.Linear"):
            names.add(f"{i}.weight")
            bias = [k for k in call.keywords if k.arg == "bias"]
            if not bias or ast.literal_eval(bias[0].value) is not False:
                names.add(f"{i}.bias")
    return names


@pytest.mark.parametrize("case", ["every layer", *range(6)])
def test_model_py_mirrors_the_layers_and_the_weights(tmp_path, case):
    if case == "every layer":
        model = every_layer_model()
    else:
        model = presets()[case][1]
    folder = export_pytorch(model, tmp_path / "export")
    source = (folder / "model.py").read_text(encoding="utf-8")
    calls = _sequential_calls(source)
    assert [ast.unparse(c.func) for c in calls] == [EXPECTED[layer.name] for layer in model.layers]
    weights = load_file(folder / "weights.safetensors")
    assert _state_dict_names(calls) == set(weights) == set(torch_shapes(model))
    for call, layer in zip(calls, model.layers):
        if layer.name == "Conv2D":
            assert [ast.literal_eval(a) for a in call.args] == [layer.in_channels, layer.out_channels]
            kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            for what, default in (("kernel_size", None), ("stride", 1), ("padding", 0), ("dilation", 1)):
                value = kw.get(what, default)
                assert (value, value) == getattr(layer, what) or tuple(value) == getattr(layer, what)
        if layer.name == "Dense":
            assert [ast.literal_eval(a) for a in call.args] == [layer.in_features, layer.out_features]


def test_docstring_states_input_training_and_loading(tmp_path):
    model = every_layer_model()
    model.meta = {"name": 'digits """ v2', "training": {"data": "mnist:sample", "optimizer": "adam",
                                                       "lr": 0.001, "epochs": 2, "batch_size": 32}}
    source = (export_pytorch(model, tmp_path) / "model.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source))
    assert "(N, 2, 21, 17)" in doc and "[0, 1]" in doc
    assert "optimizer=adam" in doc and "lr=0.001" in doc and "batch_size=32" in doc
    assert "model.load_state_dict(safetensors.torch.load_file(\"weights.safetensors\"))" in doc
    assert "load_safetensors" in doc
    assert doc.startswith("digits ''' v2")  # file text cannot end the docstring early


def _import_model_py(folder):
    spec = importlib.util.spec_from_file_location("exported_model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("exported_model", None)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_pytorch_runs_it_with_the_same_logits(tmp_path, dtype, tol):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = every_layer_model(dtype, seed=8).eval()
    folder = export_pytorch(model, tmp_path)
    net = _import_model_py(folder).build_model()
    net.load_state_dict(safetensors_torch.load_file(str(folder / "weights.safetensors")))
    net.eval()
    x = np.random.default_rng(1).random((4, *model.input_shape)).astype(dtype)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    assert theirs.dtype == dtype
    np.testing.assert_allclose(theirs, model.forward(x), rtol=0, atol=tol)

    # weights changed in PyTorch come back into cnnlab exactly
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(0.5).add_(0.01)
        theirs = net(torch.from_numpy(x)).numpy()
    safetensors_torch.save_file(net.state_dict(), str(tmp_path / "trained.safetensors"))
    load_safetensors(model, tmp_path / "trained.safetensors")
    np.testing.assert_allclose(theirs, model.forward(x), rtol=0, atol=tol)


def test_presets_run_in_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    for i, (name, model) in enumerate(presets(seed=2)):
        folder = export_pytorch(model, tmp_path / str(i))
        net = _import_model_py(folder).build_model().eval()
        net.load_state_dict(safetensors_torch.load_file(str(folder / "weights.safetensors")))
        x = np.random.default_rng(i).random((2, *model.input_shape)).astype(np.float32)
        with torch.no_grad():
            theirs = net(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(theirs, model.eval().forward(x), rtol=0, atol=1e-4, err_msg=name)


def test_full_circle_through_pytorchs_own_onnx_exporter(tmp_path):
    """cnnlab -> model.py -> torch.onnx.export (PyTorch's exporter, not ours) -> load_onnx."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    import warnings

    from cnnlab.interop import load_onnx

    model = every_layer_model(seed=9).eval()
    folder = export_pytorch(model, tmp_path)
    net = _import_model_py(folder).build_model().eval()
    net.load_state_dict(safetensors_torch.load_file(str(folder / "weights.safetensors")))
    x = torch.rand(3, *model.input_shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (x,), str(tmp_path / "torch.onnx"), input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "N"}}, dynamo=False)
    except Exception as exc:  # this PyTorch cannot export without extra packages
        pytest.skip(f"torch.onnx.export unavailable: {exc}")
    back = load_onnx(tmp_path / "torch.onnx")
    assert [layer.name for layer in back.layers] == [layer.name for layer in model.layers
                                                     if layer.name != "Dropout"]
    np.testing.assert_allclose(back.forward(x.numpy()), model.forward(x.numpy()), rtol=0, atol=1e-6)
