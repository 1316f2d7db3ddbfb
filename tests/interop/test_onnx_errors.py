"""load_onnx refuses what cnnlab cannot represent, and never trusts declared sizes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper  # noqa: E402

from cnnlab.engine.model import ModelFileError  # noqa: E402
from cnnlab.interop import export_onnx, load_onnx  # noqa: E402
from tests.interop.models import every_layer_model  # noqa: E402
from tests.interop.onnx_graphs import const, graph_model, node, weight  # noqa: E402


def _load(tmp_path, proto):
    path = tmp_path / "bad.onnx"
    path.write_bytes(proto.SerializeToString())  # onnx.save would refuse some of these
    return load_onnx(path)


def _conv_net(conv_attrs=None, extra_nodes=(), extra_inits=(), last="Relu"):
    nodes = [node("Conv", ["x", "w"], ["a"], name="conv1", **(conv_attrs or {})), *extra_nodes]
    nodes.append(node(last, [nodes[-1].output[0]], ["y"], name="last"))
    return graph_model(nodes, [weight("w", 2, 1, 3, 3), *extra_inits], [1, 8, 8])


@pytest.mark.parametrize("proto, message", [
    (_conv_net(extra_nodes=[node("BatchNormalization", ["a", "s", "b", "m", "v"], ["bn"], name="bn1")]),
     "node 'bn1' uses operation 'BatchNormalization', which cnnlab cannot import"),
    (_conv_net({"pads": [0, 0, 1, 1]}), r"node 'conv1' \(Conv\): pads \[0, 0, 1, 1\] are not symmetric"),
    (_conv_net({"group": 2}), "grouped convolution"),
    (_conv_net({"auto_pad": "SAME_UPPER", "strides": [2, 2]}), "pads unevenly"),
    (_conv_net(extra_nodes=[node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[4, 4], strides=[4, 4],
                                 ceil_mode=1)]), r"node 'pool' \(MaxPool\): ceil_mode=1 gives a partial"),
    (_conv_net(extra_nodes=[node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[2, 2],
                                 pads=[1, 1, 1, 1])]),
     "padded or dilated pooling"),
    (_conv_net(extra_nodes=[node("Softmax", ["a"], ["s"], name="sm")]),
     "only supported as the last operation"),
    (_conv_net(extra_nodes=[node("Relu", ["a"], ["r"]), node("Add", ["a", "r"], ["res"], name="skip")]),
     r"node 'skip' \(Add\): its operand 'a' is not a constant"),
    (_conv_net(extra_nodes=[node("Relu", ["x"], ["r"], name="branch")]), "not a single chain of layers"),
    (_conv_net(extra_nodes=[node("Mul", ["a", "neg"], ["m"], name="flip")], extra_inits=[const("neg", -2.0)]),
     "positive std"),
    (_conv_net(extra_nodes=[node("Flatten", ["a"], ["f"], name="f2", axis=2)]), r"only Flatten\(axis=1\)"),
    (_conv_net(extra_nodes=[node("Reshape", ["a", "shape"], ["r"], name="rs")],
               extra_inits=[const("shape", [-1, 2, 36], np.int64)]), "only a reshape to"),
    (_conv_net(extra_nodes=[node("Gemm", ["a", "gw"], ["g"], name="g")], extra_inits=[weight("gw", 3, 3)]),
     "expects flat input"),
    (_conv_net(extra_nodes=[node("Flatten", ["a"], ["f"]), node("MatMul", ["f", "nan"], ["g"], name="mm")],
               extra_inits=[const("nan", np.full((72, 2), np.nan))]),
     r"node 'mm' \(MatMul\): its weights contain NaN"),
])
def test_unsupported_graphs_are_refused_by_node_and_operation(tmp_path, proto, message):
    with pytest.raises(ModelFileError, match=message) as err:
        _load(tmp_path, proto)
    assert "bad.onnx" in str(err.value)


def test_custom_domain_and_used_second_outputs(tmp_path):
    custom = _conv_net()
    custom.graph.node[1].domain = "com.example"
    custom.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(ModelFileError, match="node 'last' uses operation 'com.example.Relu'"):
        _load(tmp_path, custom)
    proto = graph_model([node("MaxPool", ["x"], ["p", "idx"], name="pool", kernel_shape=[2, 2]),
                         node("Relu", ["p"], ["y"])], [], [1, 4, 4])
    proto.graph.output.append(helper.make_tensor_value_info("idx", TensorProto.INT64, None))
    with pytest.raises(ModelFileError, match="extra output 'idx' is used"):
        _load(tmp_path, proto)


def test_inputs_must_be_one_fixed_size_float_image(tmp_path):
    proto = _conv_net()
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "h"
    with pytest.raises(ModelFileError, match="needs fixed sizes after the batch axis"):
        _load(tmp_path, proto)
    proto = _conv_net()
    proto.graph.input.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3]))
    with pytest.raises(ModelFileError, match="expected one input, found 2"):
        _load(tmp_path, proto)
    proto = _conv_net()
    proto.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    with pytest.raises(ModelFileError, match="must be float32 or float64"):
        _load(tmp_path, proto)


def test_declared_sizes_are_checked_before_allocating(tmp_path):
    proto = _conv_net()
    w = proto.graph.initializer[0]
    w.dims[:] = [100_000, 100_000, 3, 3]
    with pytest.raises(ModelFileError, match="declares 90,000,000,000 elements"):
        _load(tmp_path, proto)
    w.dims[:] = [200, 1, 3, 3]
    with pytest.raises(ModelFileError, match="initializer 'w': dims .* need 7,200 bytes but it has 72"):
        _load(tmp_path, proto)
    w.dims[:] = [2, 1, 3, 3]
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="../../etc/passwd")
    with pytest.raises(ModelFileError, match="external file"):
        _load(tmp_path, proto)


def test_not_onnx_at_all(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelFileError, match="no graph with operations"):
        load_onnx(tmp_path / "empty.onnx")
    (tmp_path / "text.onnx").write_bytes(b"\xff\xff\xff\xff garbage")
    with pytest.raises(ModelFileError, match="not an ONNX model"):
        load_onnx(tmp_path / "text.onnx")
    with pytest.raises(FileNotFoundError):
        load_onnx(tmp_path / "absent.onnx")


@pytest.fixture(scope="module")
def exported_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    return export_onnx(every_layer_model(), path).read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_and_damaged_files_give_model_file_errors(tmp_path, exported_bytes, data):
    """Random bytes, and a real export with a stretch of it overwritten or cut off."""
    raw = data.draw(st.one_of(
        st.binary(max_size=400),
        st.tuples(st.integers(0, len(exported_bytes) - 1), st.binary(min_size=1, max_size=40)).map(
            lambda p: exported_bytes[:p[0]] + p[1] + exported_bytes[p[0] + len(p[1]):]),
        st.integers(1, len(exported_bytes) - 1).map(lambda n: exported_bytes[:n])))
    path = tmp_path / "fuzz.onnx"
    path.write_bytes(raw)
    try:
        load_onnx(path)  # a damaged weight byte can still be a valid model
    except ModelFileError:
        pass
