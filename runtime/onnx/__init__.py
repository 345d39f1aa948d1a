"""The NumPy backend's ONNX half: a hand-written protobuf reader and an interpreter.

    from edgewise.runtime.onnx import read_model, Interpreter
    model = read_model(open("m.onnx", "rb").read(), "m.onnx", base_dir=".")
    model.opset_imports, model.inputs, model.initializers["w"], model.nodes[0].attributes
    outputs = Interpreter(model, "m.onnx").invoke([x])

NumPy and the standard library only; no `onnx`, no `protobuf`. The modules follow the pipeline:
  wire.py (protobuf records, bounds-checked) -> schema.py + message.py (fields by name, wire types
  checked) -> tensors.py (TensorProto: sizes, external data) + reader.py (the model) -> model.py
  (the parsed objects); registry.py (which kernel runs which op at which opset) -> ops/ (one pure
  function per op; ops/planned.py: sparse / exact weight plans for constant weights) ->
  fold_affine.py (a graph pass) -> interpreter.py (checks, orders, folds constants, plans, runs).
"""
from .model import Graph, Node, OnnxModel, SparseTensor, TypeInfo, ValueInfo
from .reader import read_model

__all__ = ["read_model", "OnnxModel", "Graph", "Node", "ValueInfo", "TypeInfo", "SparseTensor", "Interpreter"]


def __getattr__(name):
    if name == "Interpreter":
        from .interpreter import Interpreter

        return Interpreter
    raise AttributeError(name)
