"""Small ONNX graphs written by hand, the way other tools write them (no cnnlab metadata)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(0)


def weight(name, *shape, scale=0.3):
    return numpy_helper.from_array(RNG.normal(0, scale, shape).astype(np.float32), name)


def const(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def graph_model(nodes, inits, in_shape, out_name="y", opset=17, out_dims=("batch", "k"),
                elem=TensorProto.FLOAT):
    """A model proto with input ``x`` ``(N, *in_shape)`` and output ``out_name``."""
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("x", elem, ["batch", *in_shape])],
        [helper.make_tensor_value_info(out_name, elem, list(out_dims))], inits)
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or f"{op.lower()}_{outputs[0]}", **attrs)


def digit_classifier(opset=17):
    """A Keras/tf2onnx-style digit net: Mul/Add scaling, SAME conv, ceil-mode pool that
    tiles exactly, Reshape, MatMul + Add, Dropout, LeakyRelu, Softmax."""
    nodes = [node("Mul", ["x", "scale"], ["a"]), node("Add", ["shift", "a"], ["b"]),
             node("Conv", ["b", "w1", "b1"], ["c"], auto_pad="SAME_UPPER", kernel_shape=[3, 3]),
             node("Relu", ["c"], ["d"]),
             node("MaxPool", ["d"], ["e"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             node("Conv", ["e", "w2"], ["f"], pads=[1, 0, 1, 0], strides=[2, 1], dilations=[1, 2]),
             node("Sigmoid", ["f"], ["g"]),
             node("AveragePool", ["g"], ["h"], kernel_shape=[1, 2], strides=[1, 1]),
             node("Reshape", ["h", "flat"], ["i"]),
             node("MatMul", ["i", "w3"], ["j"]), node("Add", ["j", "b3"], ["k"]),
             (node("Dropout", ["k", "ratio"], ["l"]) if opset >= 12
              else node("Dropout", ["k"], ["l"], ratio=0.25)),
             node("LeakyRelu", ["l"], ["m"], alpha=0.2), node("Tanh", ["m"], ["n"]),
             node("Gemm", ["n", "w4", "b4"], ["o"], alpha=0.5, beta=2.0, transB=0),
             node("Softmax", ["o"], ["y"], axis=-1)]
    inits = [const("scale", 1 / 255), const("shift", -0.5), weight("w1", 4, 1, 3, 3),
             weight("b1", 4), weight("w2", 3, 4, 3, 2), const("flat", [0, -1], np.int64),
             weight("w3", 3 * 3 * 3, 16), weight("b3", 16), weight("w4", 16, 10), weight("b4", 1, 10)]
    if opset >= 12:
        inits.append(const("ratio", 0.25))
    return graph_model(nodes, inits, [1, 12, 12], opset=opset, out_dims=["batch", 10])


def model_zoo_style_mnist():
    """The layout of the ONNX model zoo's MNIST net: fixed batch 1, biases as separate Adds,
    SAME padding, a weight reshaped inside the graph, Reshape to (1, 256), MatMul + Add."""
    nodes = [node("Conv", ["x", "w1"], ["c1"], kernel_shape=[5, 5], auto_pad="SAME_UPPER"),
             node("Add", ["c1", "b1"], ["a1"]), node("Relu", ["a1"], ["r1"]),
             node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Conv", ["p1", "w2"], ["c2"], kernel_shape=[5, 5], auto_pad="SAME_UPPER"),
             node("Add", ["c2", "b2"], ["a2"]), node("Relu", ["a2"], ["r2"]),
             node("MaxPool", ["r2"], ["p2"], kernel_shape=[3, 3], strides=[3, 3]),
             node("Reshape", ["p2", "flat"], ["f"]),
             node("Reshape", ["w3_4d", "w3_shape"], ["w3"], name="weight_reshape"),
             node("MatMul", ["f", "w3"], ["m"]), node("Add", ["m", "b3"], ["y"])]
    inits = [weight("w1", 8, 1, 5, 5), weight("b1", 8, 1, 1), weight("w2", 16, 8, 5, 5, scale=0.1),
             weight("b2", 16, 1, 1), const("flat", [1, 256], np.int64), weight("w3_4d", 16, 4, 4, 10),
             const("w3_shape", [256, 10], np.int64), weight("b3", 1, 10)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])]
    inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]  # IR 3
    graph = helper.make_graph(nodes, "mnist", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)], ir_version=3)


def flat_mlp():
    """An MLP on flat (N, 784) rows, as scikit-learn or a `view(-1, 784)` net exports it."""
    nodes = [node("MatMul", ["x", "w1"], ["a"]), node("Add", ["a", "b1"], ["b"]), node("Relu", ["b"], ["c"]),
             node("Gemm", ["c", "w2", "b2"], ["d"]), node("Softmax", ["d"], ["y"], axis=1)]
    inits = [weight("w1", 784, 32, scale=0.05), weight("b1", 32), weight("w2", 32, 10), weight("b2", 10)]
    return graph_model(nodes, inits, [784], opset=13, out_dims=("batch", 10))
