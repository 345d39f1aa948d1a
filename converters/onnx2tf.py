"""ONNX -> TFLite through onnx2tf, offline, in a child process, checked against onnxruntime before it is accepted.

onnx2tf (1.28.8, pinned in the `onnx2tf` extra) rewrites an ONNX graph as TensorFlow ops, moving
channels last (NCHW -> NHWC), and writes a SavedModel and a float32 TFLite file. What it does
that a user must be protected from, and how this module does it:

- it runs `onnxsim` over its input file in place: it gets a copy in a temporary folder, so the
  user's file stays byte-identical;
- it downloads MS-COCO calibration images unless told otherwise, even when given `-cind`
  (a 4-D, 3-channel input with a small fixed batch triggers a download for its own checks): the
  file it would fetch, `calibration_image_sample_data_20x128x128x3_float32.npy`, is written into
  its working folder from the user's calibration samples, and `-cind` is always given with them;
- it crashes (segfaults) on some inputs, e.g. 4-channel calibration without `-cind`: it runs as a
  child process, so a crash is a ConversionError, not the end of the caller;
- it exits 0 with wrong outputs on some graphs (SqueezeNet's opset-9 Softmax comes out all ones):
  the float32 file is run next to onnxruntime on the user's samples and refused if they disagree.

Quantized files are made from onnx2tf's SavedModel with the same TFLiteConverter settings as the
Keras path (`tflite.write_tflite`), calibrated on the user's samples moved channels-last.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, Optional, Tuple

import numpy as np

from edgewise._extras import require

from .compare import PRECISIONS
from .errors import ConversionError
from .layout import adapt
from .reference import from_onnx
from .result import ConversionResult, VerifyConfig
from .samples import Feeds, SampleSource, as_feeds, as_float, count, take
from .tflite import CALIBRATION_SAMPLES, TFLiteOptions, saved_model_converter, write_tflite
from .verify import verify_detailed

ONNX2TF_VERSION = "1.28.8"
COCO_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
TIMEOUT_S = 3600
CHANNELS_LAST = {3: (0, 2, 1), 4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


def _check_version() -> str:
    from importlib import metadata

    try:
        version = metadata.version("onnx2tf")
    except metadata.PackageNotFoundError:
        require("onnx2tf", "ONNX -> TFLite conversion", extra="onnx2tf")
        raise
    if version != ONNX2TF_VERSION:
        raise ConversionError("onnx2tf", f"edgewise is tested with onnx2tf {ONNX2TF_VERSION}, found {version}; "
                              f"pip install 'edgewise[onnx2tf]'")
    return version


def _stand_in_images(feeds: Feeds) -> np.ndarray:
    """onnx2tf's sample-image file built from the user's data: 20 x 128 x 128 x 3 float32 in [0, 1].

    Only its shape matters to onnx2tf's internal dummy runs (our own verification decides); the
    values are the user's first image input, channels-last, nearest-neighbour resized and min-max
    scaled, or zeros when no input is an image.
    """
    out = np.zeros((20, 128, 128, 3), np.float32)
    img = next((a for a in feeds.values() if a.ndim == 4 and a.dtype.kind == "f"), None)
    if img is not None:
        x = np.transpose(img, (0, 2, 3, 1)) if img.shape[1] < img.shape[3] else img
        rows = np.arange(128) * x.shape[1] // 128
        cols = np.arange(128) * x.shape[2] // 128
        x = x[:, rows][:, :, cols][..., :3]
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
        for i in range(20):
            out[i, ..., :x.shape[-1]] = x[i % len(x)]
    return out


def _cind_args(feeds: Feeds, work: str) -> list:
    """`-cind NAME FILE MEAN STD` per input, the user's samples moved channels-last as onnx2tf expects them."""
    args = []
    for i, (name, a) in enumerate(feeds.items()):
        perm = CHANNELS_LAST.get(a.ndim) if a.dtype.kind == "f" else None
        data = np.transpose(a, perm) if perm else a
        path = os.path.join(work, f"cind_{i}.npy")
        np.save(path, np.ascontiguousarray(data[:CALIBRATION_SAMPLES]))
        args += ["-cind", name, path, "[0.0]", "[1.0]"]
    return args


def upgrade_softmax(path: str) -> str:
    """Move a copy whose opset < 13 holds Softmax/LogSoftmax/Hardmax to opset 13, in place; a note saying so.

    Before opset 13 these ops flatten the input to 2-D at `axis` and normalise over everything
    after it; onnx2tf 1.28.8 normalises over the last (channels-last) axis instead, so SqueezeNet's
    (N, 1000, 1, 1) scores come out all ones. onnx's version converter rewrites the op in the
    opset-13 form (an explicit Flatten/Reshape around a per-axis Softmax), which onnx2tf gets right.
    """
    onnx = require("onnx", "ONNX -> TFLite conversion")
    from onnx import version_converter

    model = onnx.load(path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    kinds = {n.op_type for n in model.graph.node} & {"Softmax", "LogSoftmax", "Hardmax"}
    if opset >= 13 or not kinds:
        return ""
    try:
        upgraded = version_converter.convert_version(model, 13)
    except (RuntimeError, ValueError) as e:  # the converter's C++ errors surface as RuntimeError
        return f"opset {opset} kept (the version converter failed: {str(e).splitlines()[0][:200]})"
    onnx.save(upgraded, path)
    return f"opset {opset} -> 13 on the working copy, for onnx2tf's {'/'.join(sorted(kinds))}"


def run_onnx2tf(model_path: str, work: str, feeds: Feeds, label: str, batch: Optional[int] = None) -> Tuple[str, str]:
    """Run onnx2tf on `model_path` (a copy it may modify) in `work`; (float32 .tflite path, SavedModel folder)."""
    out = os.path.join(work, "out")
    np.save(os.path.join(work, COCO_FILE), _stand_in_images(feeds))
    cmd = [sys.executable, "-c", "import sys; from onnx2tf import main; sys.argv[0] = 'onnx2tf'; main()",
           "-i", model_path, "-o", out, "-n"] + _cind_args(feeds, work)
    if batch:
        cmd += ["-b", str(batch)]
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # onnxsim, from the same env
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConversionError(label, f"onnx2tf did not finish within {TIMEOUT_S} s") from None
    log = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited {proc.returncode}")
        raise ConversionError(label, f"onnx2tf {how}: {_last_error(log)}")
    stem = os.path.splitext(os.path.basename(model_path))[0]
    tfl = os.path.join(out, f"{stem}_float32.tflite")
    if not os.path.isfile(tfl):
        raise ConversionError(label, f"onnx2tf exited 0 but wrote no {os.path.basename(tfl)}: {_last_error(log)}")
    return tfl, out


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "ERROR" in ln]
    return (errors[-1] if errors else (lines[-1] if lines else "no output"))[-400:]


def onnx_to_tflite(source: "str | os.PathLike", path: "str | os.PathLike", calibration: Optional[SampleSource], *,
                   precision: str = "float32", verify: Optional[VerifyConfig] = None,
                   options: Optional[TFLiteOptions] = None, explain: bool = False,
                   evaluation: Optional[SampleSource] = None, reference=None) -> ConversionResult:
    """Convert the ONNX file `source` to TFLite at `path`, verified against onnxruntime (or `reference`).

    `calibration` (array, {input name: array} or .npz) is required: it sets the int8 ranges and,
    with `evaluation`, is what the artifact is verified on. `source` is never modified.
    """
    source, label = os.fspath(source), os.fspath(path)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if calibration is None:
        need = "sets the int8 ranges and verifies" if precision in ("int8", "int16x8") else "verifies"
        raise ValueError(f"{label}: ONNX -> TFLite ({precision}) needs a calibration set (--calib C.npz, one array "
                         f"per input name or 'x'): it {need} the converted file; nothing is downloaded")
    version = _check_version()
    t0 = time.perf_counter()
    ref = from_onnx(source)
    calib = as_float(as_feeds(calibration, ref.input_names, source))
    feeds = calib
    if evaluation is not None:
        ev = as_float(as_feeds(evaluation, ref.input_names, source))
        feeds = {n: np.concatenate([ev[n], calib[n].astype(ev[n].dtype)]) for n in ref.input_names}
    checker = reference if reference is not None else ref
    with tempfile.TemporaryDirectory(prefix="edgewise-onnx2tf-") as work:
        copy = os.path.join(work, "model.onnx")
        shutil.copyfile(source, copy)
        upgraded = upgrade_softmax(copy)
        tfl, saved = run_onnx2tf(copy, work, calib, label)
        with open(tfl, "rb") as f:
            float_bytes = f.read()
        try:  # the float32 file decides whether onnx2tf's graph is right at all
            _, layouts = verify_detailed(tfl, checker, feeds, "float32", verify, label=label, channels_last=True,
                                         cross=True)
        except ConversionError as e:
            raise ConversionError(label, f"onnx2tf {version} wrote a float32 model that does not match "
                                  f"{checker.name if hasattr(checker, 'name') else source}: {e.detail}; refused",
                                  e.tensor, e.measured) from None
        note = tuple(f"input {lay.name!r}: {lay.description}" for lay in layouts if lay.perm)
        note += (upgraded,) if upgraded else ()
        rep = None
        if precision in ("int8", "int16x8"):
            rep = _representative(adapt(calib, layouts))
        opts = options or TFLiteOptions()
        result = write_tflite(saved_model_converter(saved), rep, checker, feeds, label, precision, opts, verify,
                            source=source, converter=f"onnx2tf {version} + tf.lite.TFLiteConverter", explain=explain,
                            channels_last=True, cross=True, notes=note,
                            ready=float_bytes if precision == "float32" else None,
                            # a quantized file's layers are named after TFLiteConverter's float graph, not onnx2tf's
                            float_bytes=float_bytes if precision == "float32" else None)
    return dataclasses.replace(result, duration_s=time.perf_counter() - t0)  # onnx2tf's time included


def _representative(feeds: Dict[str, np.ndarray]):
    samples = take(feeds, 0, CALIBRATION_SAMPLES)

    def gen():
        for i in range(count(samples)):
            yield {n: a[i:i + 1].astype(np.float32) if a.dtype.kind == "f" else a[i:i + 1] for n, a in samples.items()}

    return gen
