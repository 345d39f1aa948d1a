"""How close each conversion path's file is to its source: one table, one key=value line.

Runs `edgewise.converters.convert` over the test models (seeded random weights, random inputs;
nothing downloaded) and prints, per path and precision, what verification measured: max and mean
absolute error, cosine similarity and top-1 agreement against the source. These are accuracy
figures, not speed: conversions take from a second (Keras -> TFLite) to a few minutes (onnx2tf).

    python benchmarks/conversion_accuracy.py             # ~10 min on 2 cores (onnx2tf dominates)
    python benchmarks/conversion_accuracy.py --no-onnx2tf

Ends with `conversion paths=N passed=N worst_cosine=...`.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cases(work: Path, onnx2tf: bool):
    from tests.converters import light_models, models
    from tests.runtime.conformance import models as conformance

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    demo = conformance.demo_cnn()
    for q in ("none", "dynamic", "float16", "int8", "int16x8"):
        yield "keras demo CNN -> tflite", q, demo, dict(to="tflite", quantize=q, calibration=images)
    yield "keras demo CNN -> onnx", "none", demo, dict(to="onnx", calibration=images)
    mobilenet = conformance.mobilenet_v2()
    mn_x = rng.uniform(-1, 1, (32, 96, 96, 3)).astype(np.float32)
    yield "keras MobileNetV2 0.35 -> tflite", "int8", mobilenet, dict(to="tflite", quantize="int8", calibration=mn_x)
    ds_x = rng.uniform(-1, 1, (32, 49, 10, 1)).astype(np.float32)
    yield "keras DS-CNN -> tflite", "int8", conformance.ds_cnn(), dict(to="tflite", quantize="int8", calibration=ds_x)
    tokens = rng.integers(0, conformance.VOCAB, (32, conformance.SEQ)).astype(np.int32)
    yield "keras transformer -> tflite", "dynamic", conformance.transformer(), dict(
        to="tflite", quantize="dynamic", calibration=tokens)
    mlp_x = rng.uniform(-1, 1, (64, 20)).astype(np.float32)
    yield "keras MLP -> tflite", "int8", conformance.mlp(), dict(to="tflite", quantize="int8", calibration=mlp_x)
    two = models.two_input_onnx(work / "two_io.onnx")
    two_x = models.two_input_onnx_samples(64)
    for method in ("minmax", "entropy", "percentile"):
        from edgewise.converters import OnnxQuantOptions

        yield f"onnx two-input -> onnx ({method})", "int8", str(two), dict(
            to="onnx", quantize="int8", calibration=two_x, onnx_options=OnnxQuantOptions("qdq", method))
    yield "onnx SqueezeNet -> onnx", "int8", str(light_models.randomized("squeezenet", work / "sq.onnx")), dict(
        to="onnx", quantize="int8", calibration=light_models.images(16))
    try:
        import torch  # noqa: F401
        net = models.torch_cnn()
        t_x = rng.uniform(-1, 1, (32, 3, 16, 16)).astype(np.float32)
        yield "torch CNN -> onnx", "none", net, dict(to="onnx", calibration=t_x)
        yield "torch CNN -> onnx", "int8", net, dict(to="onnx", quantize="int8", calibration=t_x)
        if onnx2tf:
            yield "torch CNN -> tflite (onnx2tf)", "int8", net, dict(to="tflite", quantize="int8", calibration=t_x)
    except ImportError:
        print("torch not installed: PyTorch paths skipped")
    if onnx2tf:
        for q in ("none", "int8"):
            yield "onnx two-input -> tflite (onnx2tf)", q, str(two), dict(to="tflite", quantize=q, calibration=two_x)
        yield "onnx SqueezeNet -> tflite (onnx2tf)", "none", str(work / "sq.onnx"), dict(
            to="tflite", calibration=light_models.images(6))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-onnx2tf", action="store_true")
    args = ap.parse_args()
    from edgewise.converters import ConversionError, convert

    rows, passed, cosines = [], 0, []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for i, (path, q, model, kw) in enumerate(_cases(work, not args.no_onnx2tf)):
            try:
                r = convert(model, work / f"out{i}.{kw['to']}", **kw)
            except ConversionError as e:
                rows.append(f"{path:<36} {q:<9} REFUSED: {e}")
                continue
            passed += 1
            for c in r.verification.outputs:
                cosines.append(c.cosine if c.cosine is not None else 1.0)
                top1 = f"{c.top1_agreement:.3f}" if c.top1_agreement is not None else "-"
                rows.append(f"{path:<36} {q:<9} {c.tensor[:18]:<18} {c.max_abs_error:>10.3g} {c.mean_abs_error:>10.3g} "
                            f"{c.cosine:>9.6f} {top1:>6} {r.size_bytes:>10,}")
            print(rows[-1], flush=True)
    print(f"\n{'path':<36} {'precision':<9} {'output':<18} {'max err':>10} {'mean err':>10} {'cosine':>9} "
          f"{'top-1':>6} {'bytes':>10}")
    print("\n".join(rows))
    print(f"conversion paths={i + 1} passed={passed} worst_cosine={min(cosines):.6f}")


if __name__ == "__main__":
    main()
