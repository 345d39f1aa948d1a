"""Graph pass: fold a constant per-channel scale and shift that follow a Conv into its weights.

tf2onnx leaves the BatchNormalization after each depthwise convolution of a Keras MobileNet as
Mul(y, s) -> Add(., t) with constant per-channel s and t. At inference, for output channel m,

    (conv(x, W)[m] + b[m]) * s[m] + t[m] = conv(x, W[m] * s[m]) + (b[m] * s[m] + t[m])

(batch-norm folding, Ioffe & Szegedy 2015, sec. 3.1; onnxruntime's default optimisation level
applies the same fusion), which saves two passes over every such activation. Only float results
change, by rounding. A Mul or Add is folded only if it is the sole reader of the tensor before it,
that tensor is not a graph output, and its other operand is a constant that broadcasts per output
channel (shape (M, 1, ..., 1), (1, M, 1, ..., 1) or a single value).
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np

from .model import Node


def _per_channel(c: Optional[np.ndarray], M: int, spatial: int, dtype) -> Optional[np.ndarray]:
    """c as an (M,) vector if it broadcasts per channel against (N, M, *spatial), else None."""
    if c is None or c.dtype != dtype:
        return None
    if c.size == 1 and c.ndim <= spatial + 2:
        return np.full(M, c.reshape(()), dtype)
    shape = (1,) * (spatial + 2 - c.ndim) + tuple(c.shape)
    if c.ndim > spatial + 2 or shape[0] != 1 or shape[1] != M or any(d != 1 for d in shape[2:]):
        return None
    return c.reshape(M)


def _sole_reader(readers: Dict[str, List[Node]], name: str, keep: Set[str], op: str) -> Optional[Node]:
    r = readers.get(name, [])
    if name in keep or len(r) != 1 or r[0].op_type != op or r[0].domain not in ("", "ai.onnx"):
        return None
    return r[0]


def fold_conv_scale_shift(
    nodes: Sequence[Node], constants: Mapping[str, np.ndarray], keep: Set[str]
) -> Tuple[List[Tuple[Node, Node]], Dict[str, np.ndarray]]:
    """The graph with every Conv -> Mul(per-channel) [-> Add(per-channel)] folded into the Conv.

    nodes: in topological order, the ones that run per inference; constants: known values;
    keep: tensors that must survive (graph outputs). Returns (new node, node it replaces) for every
    remaining node (a node unchanged is its own origin), and the new constants (folded weights and
    biases, named after the Conv's output).
    """
    readers: Dict[str, List[Node]] = {}
    for n in nodes:
        for x in set(n.inputs):
            if x:
                readers.setdefault(x, []).append(n)
    removed: Set[int] = set()
    replaced: Dict[int, Node] = {}
    new_consts: Dict[str, np.ndarray] = {}
    for conv in nodes:
        if conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx") or len(conv.inputs) < 2:
            continue
        W = constants.get(conv.inputs[1])
        B = constants.get(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
        if W is None or W.dtype not in (np.float32, np.float64) or W.ndim < 3:
            continue
        if len(conv.inputs) > 2 and conv.inputs[2] and B is None:
            continue
        M, spatial = W.shape[0], W.ndim - 2
        mul = _sole_reader(readers, conv.outputs[0], keep, "Mul")
        if mul is None or len(mul.inputs) != 2:
            continue
        other = mul.inputs[1] if mul.inputs[0] == conv.outputs[0] else mul.inputs[0]
        s = _per_channel(constants.get(other), M, spatial, W.dtype)
        if s is None:
            continue
        w = W * s.reshape((M,) + (1,) * (W.ndim - 1))
        b = (B.astype(W.dtype) * s) if B is not None else np.zeros(M, W.dtype)
        out, last = mul.outputs[0], [mul]
        add = _sole_reader(readers, out, keep, "Add")
        if add is not None and len(add.inputs) == 2:
            other = add.inputs[1] if add.inputs[0] == out else add.inputs[0]
            t = _per_channel(constants.get(other), M, spatial, W.dtype)
            if t is not None:
                b = b + t
                out, last = add.outputs[0], [mul, add]
        w_name, b_name = f"{conv.outputs[0]}::folded_W", f"{conv.outputs[0]}::folded_B"
        new_consts[w_name], new_consts[b_name] = w, b
        replaced[id(conv)] = dataclasses.replace(conv, inputs=(conv.inputs[0], w_name, b_name), outputs=(out,))
        removed.update(id(n) for n in last)
    result = [(replaced.get(id(n), n), n) for n in nodes if id(n) not in removed]
    return result, new_consts
