"""Verify a written (or about-to-be-written) artifact against its source on the user's samples.

The source is any `Reference` (a Keras model, an onnxruntime session over the ONNX file a
quantized file came from, a PyTorch module, a function). The artifact runs on LiteRT or
onnxruntime (see `runners`), fed the same samples through the layout adapters (see `layout`);
its precision decides the tolerance (see `VerifyConfig`). The quantized tolerance is tied to the
output quantization scale, read from the file: the TFLite output tensor's scale, or for a QDQ
ONNX model the scale of the DequantizeLinear that produces the output (or feeds the ops that
follow it, e.g. Softmax).
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from edgewise._extras import require

from .compare import PRECISIONS, QUANTIZED_PRECISIONS, verify_outputs
from .errors import ConversionError
from .layout import match_inputs, pair, restore, adapt
from .reference import Reference, as_reference
from .result import InputLayout, Verification, VerifyConfig
from .runners import open_artifact
from .samples import LABEL_KEYS, SampleSource, as_feeds, as_float, load_npz, take

_PASS_THROUGH = {"Softmax", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Sigmoid", "Relu"}


def onnx_output_scales(path: str) -> List[Optional[float]]:
    """Per graph output, the scale of the nearest DequantizeLinear upstream through pass-through ops, or None."""
    onnx = require("onnx", "ONNX verification")
    numpy_helper = require("onnx.numpy_helper", "ONNX verification")
    graph = onnx.load(path, load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    inits = {i.name: i for i in graph.initializer}
    scales: List[Optional[float]] = []
    for out in graph.output:
        name, scale = out.name, None
        for _ in range(16):
            node = producer.get(name)
            if node is None:
                break
            if node.op_type == "DequantizeLinear":
                init = inits.get(node.input[1])
                if init is not None:
                    s = numpy_helper.to_array(init)
                    scale = float(s) if s.size == 1 else None
                break
            if node.op_type not in _PASS_THROUGH:
                break
            name = node.input[0]
        scales.append(scale)
    return scales


def tflite_output_scales(path: str) -> List[Optional[float]]:
    """Per output, its quantization scale, or for a float output the scale of the DEQUANTIZE input feeding it.

    An int8 file with float output (`--output-type float32`) still computes on the int8 grid of
    the last op; its step, not the range of the float values, is what rounding can cost.
    """
    from edgewise.runtime.model import read_source
    from edgewise.runtime.tflite import read_model

    data, source, _ = read_source(path)
    m = read_model(data, source)
    sg = m.main
    producer = {o: op for op in sg.operators for o in op.outputs}
    scales: List[Optional[float]] = []
    for index in sg.outputs:
        t = sg.tensors[index]
        op = producer.get(index)
        if (t.quantization is None or not len(t.quantization.scale)) and op is not None \
                and m.operator_codes[op.opcode_index].op == "DEQUANTIZE":
            t = sg.tensors[op.inputs[0]]
        q = t.quantization
        scales.append(float(q.scale[0]) if q is not None and len(q.scale) == 1 else None)
    return scales


def verify_artifact(artifact: "str | os.PathLike", reference, x: SampleSource, precision: str,
                    config: Optional[VerifyConfig] = None, label: Optional[str] = None, *,
                    channels_last: bool = False, cross: bool = False) -> Verification:
    """Run `artifact` and `reference` on `x`; raise ConversionError on mismatch.

    `reference` is a Keras model, an ONNX path or a `Reference`; `x` an array (single input), a
    mapping of input name to array, or an .npz path. `precision` is one of float32, float16,
    dynamic, int8, int16x8. `label` names the artifact in errors when `artifact` is still a
    temporary file. `channels_last` says the converter may have moved channels last (onnx2tf);
    `cross` that the artifact's kernels come from another framework (wider float bound).
    """
    return verify_detailed(artifact, reference, x, precision, config, label,
                           channels_last=channels_last, cross=cross)[0]


def verify_detailed(artifact, reference, x: SampleSource, precision: str, config: Optional[VerifyConfig] = None,
                    label: Optional[str] = None, *, channels_last: bool = False, cross: bool = False,
                    ) -> Tuple[Verification, Tuple[InputLayout, ...]]:
    """`verify_artifact`, also returning how each source input was laid out for the artifact."""
    artifact = os.fspath(artifact)
    label = label or artifact
    config = config or VerifyConfig()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    ref = as_reference(reference)
    feeds = as_float(as_feeds(x, ref.input_names, label))
    feeds = take(feeds, 0, config.samples)
    try:
        runner = open_artifact(artifact)
        layouts = _layouts(runner, ref, feeds, channels_last)
        gots = runner.run(adapt(feeds, layouts))
    except Exception as e:  # noqa: BLE001 - LiteRT raises RuntimeError/ValueError, onnxruntime its own pybind types
        raise ConversionError(label, f"could not be run for verification: {type(e).__name__}: {e}") from None
    refs = ref(feeds)
    out_names = ref.output_names if len(ref.output_names) == len(refs) else [f"output_{i}" for i in range(len(refs))]
    try:
        pairs = pair(out_names, [r.shape for r in refs], [o.name for o in runner.outputs],
                     [g.shape for g in gots], channels_last, "output")
    except ValueError as e:
        raise ConversionError(label, f"outputs do not correspond to {ref.name}'s: {e}") from None
    ordered = [restore(gots[j], perm) for j, perm in pairs]
    names = [runner.outputs[j].name for j, _ in pairs]
    if precision in QUANTIZED_PRECISIONS:
        file_scales = tflite_output_scales(artifact) if _is_tflite(artifact) else onnx_output_scales(artifact)
        scales: Sequence[Optional[float]] = [file_scales[j] if precision == "int8" else None for j, _ in pairs]
    else:
        scales = [None] * len(refs)
    verification = verify_outputs(label, ref.name, refs, ordered, names, scales, config, precision, cross)
    return verification, layouts


def _layouts(runner, ref: Reference, feeds, channels_last: bool) -> Tuple[InputLayout, ...]:
    return match_inputs(ref.input_names, [feeds[n].shape for n in ref.input_names],
                        [i.name for i in runner.inputs], [i.shape for i in runner.inputs], channels_last)


def input_layouts(artifact: str, reference, x: SampleSource, channels_last: bool = False) -> Tuple[InputLayout, ...]:
    """How each of the reference's inputs maps onto the artifact's (see `layout.match_inputs`)."""
    ref = as_reference(reference)
    return _layouts(open_artifact(artifact), ref, as_feeds(x, ref.input_names, os.fspath(artifact)), channels_last)


def _is_tflite(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"TFL3"


def check_calibration(x: np.ndarray, what: str) -> np.ndarray:
    """Calibration samples as float32, or an error saying why they cannot be used."""
    x = np.asarray(x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{what}: calibration data must be a non-empty batch (N, ...), got shape {x.shape}")
    return x.astype(np.float32)


def ensure_called(model, x) -> None:
    """Call the model once: Keras builds its graph (and export's input signature) on the first call."""
    if isinstance(x, (str, os.PathLike)):
        x = load_npz(x)
    if not isinstance(x, dict):
        model(np.asarray(x[:1], np.float32), training=False)
        return
    try:
        names = [t.name for t in model.inputs]
    except (AttributeError, ValueError):  # a Sequential model that was never built has no inputs yet
        names = []
    if names:
        feeds = as_feeds(x, names, "calibration")
        arrays = [np.asarray(feeds[n][:1]) for n in names]
    else:
        arrays = [np.asarray(a[:1]) for k, a in x.items() if k not in LABEL_KEYS]
    model(arrays if len(arrays) > 1 else arrays[0], training=False)

