"""Where a quantized file loses accuracy: each layer's output against the float source's, with the NumPy backend.

Both files run on edgewise.runtime's NumPy interpreter with `keep_intermediates=True`, which
returns every tensor by name; tensors are paired by name (TFLiteConverter and onnxruntime's
quantizer keep the float graph's tensor names for the ops they quantize). Per layer:

- error in steps: mean |dequantized - float| / scale, the tensor's own quantization step (for a
  float tensor, (max - min) / 255 of the float value, the step an 8-bit grid would have);
- SNR = 10 log10(sum float^2 / sum error^2) in dB (capped at 120 for an exact match);
- growth: how many dB this layer lost against the worst of its inputs (0 where every input is
  still exact: where a float input is first rounded is not a layer's fault). The layer with the
  largest growth is where quantization hurts most (the usual suspects are layers whose output
  range is dominated by a few outliers, cf. Nagel et al. 2021, "A White Paper on Neural Network
  Quantization", section 3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime import EdgewiseRuntimeError, load
from edgewise.runtime.model import detect_format, read_source

from .compare import range_step
from .layout import for_model
from .result import InputLayout, LayerError, LayerReport
from .samples import Feeds

SNR_CAP = 120.0
SKIP_OPS = {"QUANTIZE", "DEQUANTIZE", "QuantizeLinear", "DequantizeLinear"}


@dataclass(frozen=True)
class _Op:
    index: int
    op: str
    inputs: Tuple[str, ...]
    outputs: Tuple[str, ...]


def _graph(data: bytes, source: str, base_dir: Optional[str]):
    """(ops in execution order, {tensor: (scale, zero point) or None}, {tensor: tensor holding its quantized value}).

    In a TFLite file an integer tensor holds its own quantized value. In a QDQ ONNX file an op
    writes float and the QuantizeLinear -> DequantizeLinear pair after it holds the value the next
    op sees (after the quantizer folded a Relu into the pair's range, only the pair is right), so
    the op's output is measured at the DequantizeLinear, already dequantized (zero point None).
    """
    if detect_format(data, source) == "tflite":
        from edgewise.runtime.tflite import read_model

        m = read_model(data, source)
        sg = m.main
        names = [t.name for t in sg.tensors]
        quant = {}
        for t in sg.tensors:
            q = t.quantization
            quant[t.name] = ((float(np.mean(q.scale)), int(q.zero_point[0])) if q is not None and len(q.scale)
                             and np.dtype(t.dtype).kind in "iu" else None)
        ops = [_Op(i, m.operator_codes[o.opcode_index].op, tuple(names[k] for k in o.inputs if k >= 0),
                   tuple(names[k] for k in o.outputs)) for i, o in enumerate(sg.operators)]
        return ops, quant, {}
    from edgewise.runtime.onnx import read_model

    m = read_model(data, source, base_dir)
    nodes = m.nodes
    ops = [_Op(i, n.op_type, tuple(n.inputs), tuple(n.outputs)) for i, n in enumerate(nodes)]
    dq_of = {n.inputs[0]: n for n in nodes if n.op_type == "DequantizeLinear"}
    quant, alias = {}, {}
    for n in nodes:
        if n.op_type == "QuantizeLinear" and n.outputs[0] in dq_of and n.inputs[1] in m.initializers:
            scale = np.asarray(m.initializers[n.inputs[1]], np.float64)
            quant[n.inputs[0]] = (float(np.mean(scale)), None)
            alias[n.inputs[0]] = dq_of[n.outputs[0]].outputs[0]
    return ops, quant, alias


def _intermediates(path_or_bytes, feeds: Feeds, layouts: Sequence[InputLayout]) -> Tuple[Dict[str, np.ndarray], object]:
    """Every tensor over the user's samples (run one at a time, concatenated), raw as stored."""
    model = load(path_or_bytes, backend="numpy")
    bound = for_model([s.name for s in model.inputs], feeds, layouts)
    per: Dict[str, List[np.ndarray]] = {}
    n = len(next(iter(feeds.values())))
    for i in range(n):
        env = model.run({k: a[i:i + 1] for k, a in bound.items()}, quantize=True, keep_intermediates=True)
        for k, v in env.items():
            if isinstance(v, np.ndarray):
                per.setdefault(k, []).append(v)
    return {k: np.concatenate(v) if v[0].ndim else np.stack(v) for k, v in per.items() if len(v) == n}, model


def _snr(ref: np.ndarray, err: np.ndarray) -> float:
    p_ref, p_err = float(np.sum(ref * ref)), float(np.sum(err * err))
    if p_err == 0.0:
        return SNR_CAP
    if p_ref == 0.0:
        return -SNR_CAP
    return float(min(SNR_CAP, 10.0 * np.log10(p_ref / p_err)))


def layer_report(artifact: str, float_source, feeds: Feeds, layouts: Sequence[InputLayout],
                 label: Optional[str] = None) -> LayerReport:
    """Per-layer error of `artifact` against `float_source` (path or bytes of the float file in the same format).

    `label` replaces the artifact's (temporary) path in the reason when no report can be made.
    """
    name = float_source if isinstance(float_source, str) else "float32 conversion of the same source"
    samples = len(next(iter(feeds.values())))
    try:
        data, source, base_dir = read_source(artifact)
        ops, quant, alias = _graph(data, source, base_dir)
        got, model = _intermediates(artifact, feeds, layouts)
        ref, _ = _intermediates(float_source, feeds, layouts)
    except (EdgewiseRuntimeError, KeyError, ValueError, NotImplementedError) as e:
        why = str(e).splitlines()[0][:300] if str(e) else ""
        return LayerReport(name, samples, (), None, f"{type(e).__name__}: {why.replace(artifact, label or artifact)}")
    snr: Dict[str, float] = {}
    dynamic = {spec.name for spec in model.inputs}  # tensors that depend on the input (not weights, not shapes)

    def value(name: str) -> Optional[np.ndarray]:
        """The artifact's value of `name` in float: dequantized, or read at its DequantizeLinear."""
        g = got.get(alias.get(name, name))
        if g is None:
            return None
        q = quant.get(name)
        return (g.astype(np.float64) - q[1]) * q[0] if q is not None and q[1] is not None else g.astype(np.float64)

    for i in dynamic:  # the quantized input's own rounding is where the error starts
        g = value(i)
        if i in ref and g is not None and ref[i].shape == g.shape:
            snr[i] = _snr(ref[i].astype(np.float64), g - ref[i])
    layers: List[LayerError] = []
    for op in ops:
        if not any(i in dynamic for i in op.inputs):
            continue
        dynamic.update(op.outputs)
        if op.op in SKIP_OPS:  # carry the SNR through: a (de)quantize is not a layer
            for o in op.outputs:
                src = next((i for i in op.inputs if i in snr), None)
                if src is not None:
                    snr[o] = snr[src]
            continue
        for out in op.outputs:
            r = ref.get(out)
            deq = value(out)
            if r is None or deq is None or r.shape != deq.shape or r.dtype.kind != "f":
                continue
            q = quant.get(out)
            r64 = r.astype(np.float64)
            err = deq - r64
            step = q[0] if q is not None else range_step(r64)
            s = _snr(r64, err)
            inputs = [snr[i] for i in op.inputs if i in snr and snr[i] < SNR_CAP]  # an exact input: first rounding
            growth = max(0.0, min(inputs) - s) if inputs else 0.0
            snr[out] = s
            if out in alias:
                snr[alias[out]] = s
            layers.append(LayerError(op.index, op.op, out, float(np.mean(np.abs(err)) / step),
                                     float(np.max(np.abs(err), initial=0.0) / step), s, growth))
    if not layers:
        return LayerReport(name, samples, (), None, "no tensor names in common between the two files")
    worst = max(layers, key=lambda e: e.growth_db)
    return LayerReport(name, samples, tuple(layers), worst.tensor if worst.growth_db > 0 else None)


def diverged(report: LayerReport) -> str:
    """The clause a ConversionError gets for a quantized file: where the error grows most."""
    if report.worst_growth:
        worst = next(e for e in report.layers if e.tensor == report.worst_growth)
        return (f"; per layer, the error grows most at {worst.op} {worst.tensor!r} (SNR {worst.snr_db:.1f} dB, "
                f"{worst.growth_db:.1f} dB lost there)")
    return f"; per-layer report: {report.unavailable or 'no layer stands out'}"


def format_layers(report: LayerReport, limit: int = 40) -> str:
    """The per-layer table `edgewise convert --explain` prints."""
    if report.unavailable:
        return f"per-layer report unavailable: {report.unavailable}"
    lines = [f"per-layer error against {report.reference} ({report.samples} samples):",
             f"  {'#':>4} {'op':<22} {'steps':>8} {'max':>8} {'SNR dB':>8} {'lost dB':>8}  tensor"]
    shown = report.layers if len(report.layers) <= limit else sorted(
        report.layers, key=lambda e: -e.growth_db)[:limit]
    for e in sorted(shown, key=lambda e: e.index):
        mark = "  <- error grows most" if e.tensor == report.worst_growth else ""
        lines.append(f"  {e.index:>4} {e.op[:22]:<22} {e.steps:>8.3f} {e.max_steps:>8.2f} {e.snr_db:>8.2f} "
                     f"{e.growth_db:>8.2f}  {e.tensor[:60]}{mark}")
    if len(report.layers) > limit:
        lines.append(f"  ({len(report.layers) - limit} layers with the least growth not shown)")
    if report.worst_growth:
        lines.append(f"error grows most at {report.worst_growth!r}")
    return "\n".join(lines)
