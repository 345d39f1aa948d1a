"""A RELU / RELU6 / RELU_N1_TO_1 op after a CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or ADD
without a fused activation moves into that op's output stage (its `fused_activation_function`).

float32: the standalone op computes max(y, 0) / clip(y, lo, hi) on the producer's float32 output,
which is what the producer's fused stage (quant.float_activation) computes on the same values.
int8: the standalone op requantizes by in_scale / out_scale and clamps to its range
(QuantizedReluX); the pass only fuses when its input and output share scale and zero point, where
that multiplier is exactly 1 (QuantizeMultiplier(1.0) = 2^30 * 2^1, and the doubling high
multiply of 2x by 2^30 returns x) and its clamp bounds are the producer's activation range
(quant.activation_range: the same float32 division and rounding). So fused and unfused ops give
identical results. The intermediate tensor must be private (`Graph.is_private`).
"""
from __future__ import annotations

from dataclasses import replace

from ..graph import Graph

PRODUCERS = frozenset(("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD"))
ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}


def _same_quantization(a, b) -> bool:
    qa, qb = a.quantization, b.quantization
    if a.dtype != b.dtype:
        return False
    if a.dtype == "float32":
        return True
    return (qa is not None and qb is not None and tuple(qa.scale) == tuple(qb.scale)
            and tuple(qa.zero_point) == tuple(qb.zero_point) and len(qa.scale) == 1)


def fuse_activation(graph: Graph) -> Graph:
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    tensors = graph.tensors
    dropped = set()
    for k, op in enumerate(ops):
        if op.op not in ACTIVATIONS or not op.inputs or op.inputs[0] < 0:
            continue
        y = op.inputs[0]
        src = producers.get(y)
        if src is None or src in dropped or ops[src].op not in PRODUCERS or len(ops[src].outputs) != 1:
            continue
        producer = ops[src]
        if producer.options.get("fused_activation_function", "NONE") != "NONE":
            continue
        if not graph.is_private(y, consumers) or not _same_quantization(tensors[y], tensors[op.outputs[0]]):
            continue
        if tensors[y].dtype not in ("float32", "int8"):
            continue
        options = dict(producer.options)
        options["fused_activation_function"] = ACTIVATIONS[op.op]
        ops[src] = replace(producer, outputs=tuple(op.outputs), options=options)
        dropped.add(k)
    if not dropped:
        return graph
    return graph.with_operators([o for j, o in enumerate(ops) if j not in dropped])
