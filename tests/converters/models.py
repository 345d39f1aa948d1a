"""Small models for the converter tests that the conformance set lacks: two inputs and two outputs, a PyTorch CNN."""
from __future__ import annotations

import numpy as np

SEED = 7


def two_input_two_output():
    """A tabular branch and an image branch joined; a class-score head and a regression head."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    left = keras.Input((6,), name="left")
    right = keras.Input((6, 6, 2), name="right")
    a = layers.Dense(8, activation="relu")(left)
    b = layers.Conv2D(4, 3, activation="relu")(right)
    b = layers.Flatten()(b)
    h = layers.Concatenate()([a, b])
    probs = layers.Dense(5, activation="softmax", name="probs")(h)
    score = layers.Dense(1, name="score")(h)
    return keras.Model([left, right], [probs, score], name="two_io")


def two_io_samples(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"left": rng.uniform(-1, 1, (n, 6)).astype(np.float32),
            "right": rng.uniform(0, 1, (n, 6, 6, 2)).astype(np.float32)}


def torch_cnn():
    """Conv-BN-ReLU, a strided conv, a linear head: NCHW 3x16x16 in, 10 scores out."""
    import torch

    torch.manual_seed(SEED)

    class SmallCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2)
            self.fc = torch.nn.Linear(16 * 7 * 7, 10)

        def forward(self, x):
            x = torch.relu(self.bn(self.c1(x)))
            x = torch.relu(self.c2(x))
            return self.fc(torch.flatten(x, 1))

    net = SmallCNN()
    with torch.no_grad():  # BatchNorm statistics away from (0, 1), so folding it is not a no-op
        net.bn.running_mean.uniform_(-0.2, 0.2)
        net.bn.running_var.uniform_(0.5, 2.0)
    return net.eval()


def two_input_onnx(path, seed: int = SEED):
    """An ONNX graph with a tabular input `a` (N, 6) and an NCHW image input `b` (N, 2, 6, 6), two outputs.

    probs = Softmax(W3 [Relu(a W1 + c1), Flatten(Relu(Conv(b)))]) and score = (same features) W4; built
    with onnx.helper (opset 13), so no framework is needed to make it.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def init(name, *shape, scale=None):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        w = rng.standard_normal(shape) * (scale if scale is not None else np.sqrt(2.0 / max(fan, 1)))
        return numpy_helper.from_array(w.astype(np.float32), name)

    inits = [init("W1", 6, 8), init("c1", 8, scale=0.1), init("K", 4, 2, 3, 3), init("kb", 4, scale=0.1),
             init("W3", 8 + 64, 5, scale=0.3), init("W4", 8 + 64, 1, scale=0.3)]
    nodes = [
        helper.make_node("MatMul", ["a", "W1"], ["a1"]), helper.make_node("Add", ["a1", "c1"], ["a2"]),
        helper.make_node("Relu", ["a2"], ["a3"]),
        helper.make_node("Conv", ["b", "K", "kb"], ["b1"], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["b1"], ["b2"]), helper.make_node("Flatten", ["b2"], ["b3"], axis=1),
        helper.make_node("Concat", ["a3", "b3"], ["h"], axis=1),
        helper.make_node("MatMul", ["h", "W3"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        helper.make_node("MatMul", ["h", "W4"], ["score"]),
    ]
    graph = helper.make_graph(
        nodes, "two_io",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 6]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 2, 6, 6])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 5]),
         helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 1])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgewise-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def two_input_onnx_samples(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"b": rng.uniform(0, 1, (n, 2, 6, 6)).astype(np.float32),
            "a": rng.uniform(-1, 1, (n, 6)).astype(np.float32)}
