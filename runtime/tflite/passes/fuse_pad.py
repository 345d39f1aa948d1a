"""A PAD / PADV2 in front of a VALID CONV_2D or DEPTHWISE_CONV_2D becomes that convolution's padding.

A VALID convolution of the padded tensor reads, for every output, the window that the same
convolution with the pads applied by its own padded input buffer reads (common.PaddedInput: the
kernels already pad that way for SAME), so both compute every output from the same values,
provided the fill is the same: float32 pads with 0.0 on both sides; int8 PAD fills with its output
zero point (pad.cc) and the int8 convolutions pad with the input zero point (the input offset of
conv.cc / depthwise_conv.cc), which are equal when the PAD's input and output share quantization
(checked; PAD never requantizes). PADV2 must fill with that same value. Pads equal to SAME's
(total = max((out - 1) s + (k - 1) d + 1 - H, 0), total // 2 before: tflite/kernels/padding.h)
become padding "SAME" (Keras's ZeroPadding2D(correct_pad) before a stride-2 convolution); any other
height/width pads become padding "EXPLICIT" with the pads in `explicit_padding` (ResNet's
ZeroPadding2D(3) before its 7x7 stride-2 stem), which the kernels read through
common.conv_padding. So the fused op gives identical arrays, and one full copy of the feature map
(the PAD's output) is no longer made. Not fused: batch or channel pads, 1x1 kernels (their kernels
read the input without a padded buffer), dynamic-range (float input, int8 weights) convolutions
(their per-image input quantization would see the padded image), and a PAD whose output another op
reads (`Graph.is_private`).
"""
from __future__ import annotations

from dataclasses import replace
from ..graph import Graph
from ..ops.common import out_size_and_pad

CONVOLUTIONS = frozenset(("CONV_2D", "DEPTHWISE_CONV_2D"))


def _fill_matches(graph: Graph, pad_op, x, y) -> bool:
    tensors = graph.tensors
    tx, ty = tensors[x], tensors[y]
    if tx.dtype != ty.dtype or tx.dtype not in ("float32", "int8"):
        return False
    fill = 0.0
    if tx.dtype == "int8":
        qx, qy = tx.quantization, ty.quantization
        if qx is None or qy is None or len(qx.scale) != 1 or len(qy.scale) != 1:
            return False
        if tuple(qx.scale) != tuple(qy.scale) or tuple(qx.zero_point) != tuple(qy.zero_point):
            return False
        fill = int(qy.zero_point[0])
    if pad_op.op == "PADV2" and len(pad_op.inputs) > 2 and pad_op.inputs[2] >= 0:
        value = graph.constants.get(pad_op.inputs[2])
        if value is None or value.size != 1 or value.reshape(-1)[0] != fill:
            return False
    return True


def fuse_pad(graph: Graph) -> Graph:
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    tensors = graph.tensors
    dropped = set()
    for k, conv in enumerate(ops):
        if conv.op not in CONVOLUTIONS or conv.options.get("padding") != "VALID" or not conv.inputs:
            continue
        padded = conv.inputs[0]
        src = producers.get(padded)
        if src is None or src in dropped or ops[src].op not in ("PAD", "PADV2"):
            continue
        pad_op = ops[src]
        x = pad_op.inputs[0] if pad_op.inputs else -1
        pads = graph.constants.get(pad_op.inputs[1]) if len(pad_op.inputs) > 1 else None
        w = graph.constants.get(conv.inputs[1]) if len(conv.inputs) > 1 else None
        if x < 0 or pads is None or w is None or w.ndim != 4 or not graph.is_private(padded, consumers):
            continue
        x_shape = tuple(tensors[x].shape)
        if len(x_shape) != 4 or pads.shape != (4, 2) or any(int(v) for v in pads[0]) or any(int(v) for v in pads[3]):
            continue
        if any(d <= 0 for d in x_shape[1:3]) or not _fill_matches(graph, pad_op, x, padded):
            continue
        o = conv.options
        if w.shape[1] == w.shape[2] == 1 or tensors[conv.inputs[1]].dtype != tensors[x].dtype:
            continue
        hw = ((int(pads[1][0]), int(pads[1][1])), (int(pads[2][0]), int(pads[2][1])))
        if any(v < 0 for side in hw for v in side):
            continue
        same = all(out_size_and_pad("SAME", x_shape[axis], w.shape[axis], o[f"stride_{n}"], o[f"dilation_{n}_factor"])
                   == out_size_and_pad(hw[axis - 1], x_shape[axis], w.shape[axis], o[f"stride_{n}"],
                                       o[f"dilation_{n}_factor"]) for axis, n in ((1, "h"), (2, "w")))
        options = dict(o)
        options["padding"] = "SAME" if same else "EXPLICIT"
        if not same:
            options["explicit_padding"] = hw
        ops[k] = replace(conv, inputs=(x,) + tuple(conv.inputs[1:]), options=options)
        dropped.add(src)
    if not dropped:
        return graph
    return graph.with_operators([o for j, o in enumerate(ops) if j not in dropped])
