"""The NumPy TFLite backend: a bounds-checked FlatBuffer reader and an interpreter whose int8 results
match LiteRT's builtin kernels (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES) bit for bit.

    from edgewise.runtime.tflite import read_model, Interpreter
    model = read_model(open("m.tflite", "rb").read(), "m.tflite")
    it = Interpreter(model, "m.tflite")
    y, = it.invoke([x])

Bit-exactness means mirroring the code LiteRT actually runs, which is its optimized kernels, not its
reference ones: int8 GEMMs go through ruy (both roundings half-up), the elementwise kernels run
16- or 8-lane NEON loops (on x86 through NEON_2_SSE) with a scalar tail that rounds half away from
zero, and several activations are lookup tables filled with float arithmetic. Each kernel's docstring
names the LiteRT function it reproduces; `ops/vector_paths.py` models the vector/tail split. LiteRT's
own thread count is assumed to be 1 (its default): the int8 MEAN kernel splits channels differently
across threads.
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
