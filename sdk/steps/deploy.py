"""The deployable artifact of a step: its int8 TFLite file packed as the `.ewb` bundle (issue 8).

Pruning, clustering and k-bit weights make no TFLite file smaller (a zero or a shared value still
takes a byte); the bundle's entropy-coded weight streams are where they pay. So every training
step's deployable size is its model converted to full-integer int8 and packed, and a quantize
step's int8 TFLite file is packed beside it; `steps.measure.deployable_file` then picks whichever
file is smallest.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

from .base import StepContext

BUNDLE_SUFFIX = ".ewb"


def is_int8_tflite(path: str) -> bool:
    """The int8 TFLite files the quantize step writes (`model.int8.tflite`): what the bundle packs."""
    return os.path.basename(path).endswith(".int8.tflite")


def pack_file(tflite: str, out: str, recipe_report: Optional[str] = None, name: Optional[str] = None) -> str:
    """Pack `tflite` as the bundle `out` (atomically); returns `out`."""
    from ..bundle import pack

    pack(tflite, out, recipe_report=recipe_report, name=name)
    return out


def write_bundle(model, stem: str, ctx: StepContext) -> str:
    """A `runner.DEPLOYABLE_WRITERS` writer: `model` as int8 TFLite (`stem.int8.tflite`), packed as `stem.ewb`."""
    from ..converters import keras_to_tflite

    tflite = stem + ".int8.tflite"
    keras_to_tflite(model, tflite, ctx.calib.x, precision="int8")
    return pack_file(tflite, stem + BUNDLE_SUFFIX)


def bundle_artifacts(out_dir: str, artifacts: Sequence[str], stem: str) -> List[str]:
    """Pack a post-training step's int8 TFLite file(s) as `stem.ewb` (paths relative to out_dir)."""
    written = []
    for rel in (a for a in artifacts if is_int8_tflite(a)):
        target = stem + BUNDLE_SUFFIX if not written else stem + f".{len(written)}" + BUNDLE_SUFFIX
        pack_file(os.path.join(out_dir, rel), os.path.join(out_dir, target))
        written.append(target)
    return written


FINAL_BUNDLE = "model.ewb"


def final_tflite(files: Sequence[str]) -> Optional[str]:
    """The int8 TFLite file the final bundle packs (`model.int8.tflite` first), relative to the output folder."""
    int8 = sorted((f for f in files if is_int8_tflite(f)), key=lambda f: (os.path.basename(f) != "model.int8.tflite", f))
    return int8[0] if int8 else None


def write_final_bundle(out_dir: str, tflite_rel: str, report_json: str, eval_d, int8_report=None):
    """Pack the run's int8 TFLite file as `model.ewb` with the run's report in its manifest, then measure it.

    Returns (ArtifactReport, BundleSizes). Accuracy is measured by loading the .ewb itself with the
    NumPy backend (`edgewise.runtime.load`), and on the other backends of the model it holds; the
    three sizes are read back from the bundle as `edgewise inspect` reads them. Not benchmarked:
    once loaded it is the int8 file, whose latency the report already holds.
    """
    from ..evaluate import evaluate_backend
    from ..runtime.summary import inspect_model
    from ..report import schema as rs
    from ..runtime.model import ENGINES_FOR_FORMAT

    path = pack_file(os.path.join(out_dir, tflite_rel), os.path.join(out_dir, FINAL_BUNDLE), recipe_report=report_json)
    info = inspect_model(path).bundle
    backends = ("numpy",) + tuple(b for b in ENGINES_FOR_FORMAT["tflite"] if b != "numpy")
    results = tuple(evaluate_backend(path, b, eval_d) for b in backends)
    numpy = results[0]
    accuracy = numpy.accuracy if numpy.status == "ok" else None
    artifact = rs.ArtifactReport(
        FINAL_BUNDLE, "ewb", "int8", info.download_bytes, accuracy, "numpy",
        int8_report.sparsity if int8_report is not None else 0.0,
        dict(int8_report.sparsity_detail) if int8_report is not None else {},
        dict(int8_report.verification) if int8_report is not None else {}, results, None,
        int8_report.source if int8_report is not None else "")
    sizes = rs.BundleSizes(FINAL_BUNDLE, tflite_rel, info.download_bytes, info.disk_bytes, info.ram_bytes, accuracy)
    return artifact, sizes
