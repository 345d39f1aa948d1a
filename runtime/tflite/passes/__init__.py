"""Graph passes of the TFLite interpreter, one per module, each a function `Graph -> Graph`.

Applied at load, in this order, to the file's graph after constant folding (`FUSIONS`); the
shape-dependent ones (fold_shapes, then fold_constants again) run when a plan is made for a set of
input shapes (plan.py). `Interpreter(..., optimize=())` runs the file's graph without fusions.
"""
from .fuse_reshapes import fuse_reshapes

FUSIONS = (fuse_reshapes,)

__all__ = ["FUSIONS"]
