"""The NumPy backend's ONNX half: a hand-written protobuf reader and an interpreter.

    from edgewise.runtime.onnx import read_model, Interpreter
    model = read_model(open("m.onnx", "rb").read(), "m.onnx", base_dir=".")
    outputs = Interpreter(model, "m.onnx").invoke([x])

NumPy and the standard library only; no `onnx`, no `protobuf`.
"""
from .model import Graph, Node, OnnxModel, SparseTensor, TypeInfo, ValueInfo
from .reader import read_model

__all__ = ["read_model", "OnnxModel", "Graph", "Node", "ValueInfo", "TypeInfo", "SparseTensor", "Interpreter"]


def __getattr__(name):
    if name == "Interpreter":
        from .interpreter import Interpreter

        return Interpreter
    raise AttributeError(name)
