"""A float32 layer norm that the converter spelled as ten ops becomes one op.

TFLiteConverter lowers Keras' LayerNormalization (Ba et al., 2016, arXiv:1607.06450) over the last
axis to

    m = MEAN(x)            d = SQUARED_DIFFERENCE(x, m)    v = MEAN(d)    r = RSQRT(ADD(v, eps))
    g = MUL(r, gamma)      y = ADD(MUL(x, g), MUL(NEG(m), g))

(operands of the commutative ops in either order). EDGEWISE_LAYER_NORM computes the same
y = (x - m) * rsqrt(var + eps) * gamma in float64 and rounds once to float32, where the ten ops
round after each step; the two differ by a few float32 ulps relative to the output's scale (the
conformance tolerance is 1e-5). Only float32 is fused: int8 layer norms are chains of int8 ops
whose every rounding is LiteRT's, left to their own kernels (and fuse_int8_chains). Every
intermediate must be read only inside the pattern (m by NEG and SQUARED_DIFFERENCE, g by the two
MULs), and the output must not be read by anything that needs one of them.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional

import numpy as np

from ..graph import Graph

OP = "EDGEWISE_LAYER_NORM"  # inputs: x, gamma, axes, epsilon


def _other(op, t: int) -> Optional[int]:
    """For a two-input op reading t, the other input."""
    if len(op.inputs) != 2 or t not in op.inputs:
        return None
    a, b = op.inputs
    return b if a == t else a


def fuse_layer_norm(graph: Graph) -> Graph:
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    consts = graph.constants
    tensors = graph.tensors

    def prod(t: int, name: str):
        k = producers.get(t)
        return (k, ops[k]) if k is not None and ops[k].op == name else (None, None)

    def readers(t: int) -> List[int]:
        return consumers.get(t, [])

    dropped: Dict[int, object] = {}
    for k_add, add in enumerate(ops):
        if add.op != "ADD" or len(add.inputs) != 2 or add.options.get("fused_activation_function", "NONE") != "NONE":
            continue
        y = add.outputs[0]
        if tensors[y].dtype != "float32":
            continue
        for first, second in (add.inputs, add.inputs[::-1]):
            k_b, mul_b = prod(first, "MUL")
            k_a, mul_a = prod(second, "MUL")
            if mul_a is None or mul_b is None:
                continue
            # a = MUL(NEG(m), g), b = MUL(x, g)
            match = None
            for g in mul_a.inputs:
                nm = _other(mul_a, g)
                x = _other(mul_b, g)
                k_neg, neg = prod(nm, "NEG") if nm is not None else (None, None)
                if neg is None or x is None:
                    continue
                m = neg.inputs[0]
                k_g, mul_g = prod(g, "MUL")
                k_m1, mean1 = prod(m, "MEAN")
                if mul_g is None or mean1 is None or mean1.inputs[0] != x:
                    continue
                match = (g, nm, x, m, k_neg, k_g, mul_g, k_m1, mean1)
                break
            if match is None:
                continue
            g, nm, x, m, k_neg, k_g, mul_g, k_m1, mean1 = match
            gamma = next((i for i in mul_g.inputs if i in consts), None)
            r = _other(mul_g, gamma) if gamma is not None else None
            k_r, rsqrt = prod(r, "RSQRT") if r is not None else (None, None)
            if rsqrt is None:
                continue
            k_e, add_eps = prod(rsqrt.inputs[0], "ADD")
            if add_eps is None or add_eps.options.get("fused_activation_function", "NONE") != "NONE":
                continue
            eps = next((i for i in add_eps.inputs if i in consts), None)
            v = _other(add_eps, eps) if eps is not None else None
            k_m2, mean2 = prod(v, "MEAN") if v is not None else (None, None)
            if mean2 is None or consts.get(eps).size != 1:
                continue
            k_d, sqd = prod(mean2.inputs[0], "SQUARED_DIFFERENCE")
            if sqd is None or sorted(sqd.inputs) != sorted((x, m)):
                continue
            axes = mean1.inputs[1]
            a1, a2 = consts.get(axes), consts.get(mean2.inputs[1])
            rank = len(tensors[x].shape_signature)
            if a1 is None or a2 is None or rank == 0 or not np.array_equal(a1, a2):
                continue
            if sorted(int(a) % rank for a in a1.reshape(-1)) != [rank - 1]:
                continue
            if not (mean1.options.get("keep_dims") and mean2.options.get("keep_dims")):
                continue
            if any(tensors[t].dtype != "float32" for t in (x, m, g, y)):
                continue
            inner = [k_b, k_a, k_neg, k_g, k_m1, k_r, k_e, k_m2, k_d]
            inside = set(inner) | {k_add}
            private = all(tensors and all(c in inside for c in readers(t)) and t not in graph.outputs
                          for t in (first, second, nm, m, g, r, rsqrt.inputs[0], v, mean2.inputs[0]))
            if not private or any(k in dropped for k in inside):
                continue
            fused = replace(add, op=OP, opcode_index=-1, custom_code=None, inputs=(x, gamma, axes, eps),
                            options_type="", options={})
            for k in inner:
                dropped[k] = None
            dropped[k_add] = fused
            break
    if not dropped:
        return graph
    out = [dropped.get(k, op) if k in dropped else op for k, op in enumerate(ops)]
    return graph.with_operators([op for op in out if op is not None])
