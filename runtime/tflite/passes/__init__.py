"""Graph passes of the TFLite interpreter, one per module, each a function from graph to new graph.

At load, after constant folding (fold_constants.py), the shape-independent fusions `FUSIONS` run in
order on the file's graph (reshape/transpose chains, pads into convolutions, activations, float32
layer norms, transposes into batch matmuls, negative-index wrapping into gathers). When a plan is
made for a set of input shapes (plan.py), fold_shapes and fold_constants specialise the graph to
them, identity reshapes are dropped and fuse_int8_chains turns int8 elementwise chains into tables.
`Interpreter(..., optimize=())` skips the fusions; `invoke_all` always runs the file's graph.
"""
from .fuse_activation import fuse_activation
from .fuse_gather_wrap import fuse_gather_wrap
from .fuse_layer_norm import fuse_layer_norm
from .fuse_pad import fuse_pad
from .fuse_reshapes import fuse_reshapes
from .fuse_transpose_matmul import fuse_transpose_matmul

FUSIONS = (fuse_reshapes, fuse_pad, fuse_activation, fuse_layer_norm, fuse_transpose_matmul, fuse_gather_wrap)

__all__ = ["FUSIONS", "fuse_activation", "fuse_gather_wrap", "fuse_layer_norm", "fuse_pad", "fuse_reshapes",
           "fuse_transpose_matmul"]
