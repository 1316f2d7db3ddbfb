"""load_onnx on graphs cnnlab did not write, checked against onnxruntime on the same file."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from cnnlab.interop import load_onnx  # noqa: E402
from tests.interop.onnx_graphs import const, digit_classifier, graph_model, node, weight  # noqa: E402


def _save(tmp_path, proto, name="m.onnx"):
    onnx.checker.check_model(proto, full_check=True)
    path = tmp_path / name
    onnx.save(proto, str(path))
    return path


def _ort(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("opset", [11, 17])
def test_a_foreign_digit_classifier_gives_onnxruntime_probabilities(tmp_path, opset):
    path = _save(tmp_path, digit_classifier(opset))
    model = load_onnx(path)
    assert [layer.name for layer in model.layers] == [
        "Normalize", "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "Sigmoid", "AvgPool2D", "Flatten",
        "Dense", "Dropout", "LeakyReLU", "Tanh", "Dense"]
    assert model[0].get_config() == {"type": "Normalize", "mean": pytest.approx(127.5),
                                       "std": pytest.approx(255.0)}
    assert model[1].padding == (1, 1) and model[4].padding == (1, 0) and model[4].dilation == (1, 2)
    assert model[9].p == 0.25 and model[10].negative_slope == pytest.approx(0.2)
    assert model.meta["dropped"].startswith("final Softmax")
    x = np.random.default_rng(0).integers(0, 256, (3, 1, 12, 12)).astype(np.float32)
    expected = _ort(path, x)
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-5)


def test_normalisation_by_sub_and_div_per_channel(tmp_path):
    nodes = [node("Sub", ["x", "mean"], ["a"]), node("Div", ["a", "std"], ["b"]),
             node("Flatten", ["b"], ["c"], axis=1), node("Gemm", ["c", "w", "bias"], ["y"], transB=1)]
    inits = [const("mean", [[[0.4914]], [[0.4822]], [[0.4465]]]),
             const("std", [[[0.247]], [[0.243]], [[0.261]]]),
             weight("w", 10, 3 * 4 * 4), weight("bias", 10)]
    path = _save(tmp_path, graph_model(nodes, inits, [3, 4, 4]))
    model = load_onnx(path)
    assert model[0].mean == pytest.approx([0.4914, 0.4822, 0.4465])
    assert model[0].std == pytest.approx([0.247, 0.243, 0.261])
    x = np.random.default_rng(1).random((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(model.forward(x), _ort(path, x), atol=1e-5)


def test_log_softmax_and_constant_nodes(tmp_path):
    nodes = [node("Constant", [], ["w"], value=weight("wv", 6, 3)),
             node("Constant", [], ["half"], value=const("hv", 0.5)),
             node("Sub", ["x", "half"], ["a"]), node("MatMul", ["a", "w"], ["b"]),
             node("LogSoftmax", ["b"], ["y"], axis=1)]
    path = _save(tmp_path, graph_model(nodes, [], [6]))
    model = load_onnx(path)
    assert [layer.name for layer in model.layers] == ["Normalize", "Dense"]
    assert not model[1].bias
    x = np.random.default_rng(2).random((4, 6)).astype(np.float32)
    np.testing.assert_allclose(np.log(model.predict_proba(x)), _ort(path, x), atol=1e-5)


def test_float64_input_gives_a_float64_model(tmp_path):
    from onnx import TensorProto, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(3).normal(size=(4, 2)), "w")
    nodes = [node("Gemm", ["x", "w"], ["a"]), node("Relu", ["a"], ["y"])]
    path = _save(tmp_path, graph_model(nodes, [w], [4], elem=TensorProto.DOUBLE))
    model = load_onnx(path)
    assert model.dtype == np.float64
    x = np.random.default_rng(4).random((3, 4))
    np.testing.assert_allclose(model.forward(x), _ort(path, x), rtol=0, atol=1e-12)


def test_constants_given_as_plain_numbers(tmp_path):
    nodes = [node("Constant", [], ["shape"], value_ints=[-1, 16]),
             node("Constant", [], ["half"], value_float=0.5),
             node("Constant", [], ["scales"], value_floats=[2.0]),
             node("Sub", ["x", "half"], ["a"]), node("Div", ["a", "scales"], ["b"]),
             node("Reshape", ["b", "shape"], ["c"]), node("Gemm", ["c", "w"], ["y"], transB=1)]
    path = _save(tmp_path, graph_model(nodes, [weight("w", 3, 16)], [1, 4, 4]))
    model = load_onnx(path)
    assert [layer.name for layer in model.layers] == ["Normalize", "Flatten", "Dense"]
    assert model[0].get_config() == {"type": "Normalize", "mean": 0.5, "std": 2.0}
    x = np.random.default_rng(5).random((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(model.forward(x), _ort(path, x), atol=1e-6)


def test_a_model_zoo_style_mnist_net(tmp_path):
    from tests.interop.onnx_graphs import model_zoo_style_mnist

    path = _save(tmp_path, model_zoo_style_mnist())
    model = load_onnx(path)
    assert [layer.name for layer in model.layers] == [
        "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"]
    assert model[0].padding == (2, 2) and model[0].bias and model[7].bias  # the Adds are biases
    x = np.random.default_rng(6).random((1, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(model.forward(x), _ort(path, x), atol=1e-4)
    assert model.forward(np.concatenate([x, x])).shape == (2, 10)  # any batch size in cnnlab


def test_a_flat_784_input_becomes_a_digit_image(tmp_path):
    from tests.interop.onnx_graphs import flat_mlp

    path = _save(tmp_path, flat_mlp())
    model = load_onnx(path)
    assert model.input_shape == (1, 28, 28) and model[0].name == "Flatten"
    assert [layer.name for layer in model.layers[1:]] == ["Dense", "ReLU", "Dense"]
    assert "784" in model.meta["input"]
    x = np.random.default_rng(7).random((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(model.predict_proba(x), _ort(path, x.reshape(3, 784)), atol=1e-6)
