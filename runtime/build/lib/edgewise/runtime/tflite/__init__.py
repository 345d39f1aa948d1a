"""The NumPy TFLite backend: a bounds-checked FlatBuffer reader and an interpreter whose int8 results
match LiteRT's builtin kernels bit for bit.

    from edgewise.runtime.tflite import read_model, Interpreter
    model = read_model(open("m.tflite", "rb").read(), "m.tflite")
    it = Interpreter(model, "m.tflite")
    y, = it.invoke([x])
"""
from .model import Operator, QuantParams, Subgraph, Tensor, TFLiteModel, read_model
from .sparsity import DimMetadata, Sparsity

__all__ = [
    "read_model", "TFLiteModel", "Subgraph", "Tensor", "Operator", "QuantParams", "Sparsity", "DimMetadata",
    "Interpreter",
]


def __getattr__(name):
    if name == "Interpreter":
        from .interpreter import Interpreter

        return Interpreter
    raise AttributeError(name)
