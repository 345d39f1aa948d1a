"""Keras / SavedModel -> TFLite at every precision TFLite offers, verified before it replaces anything on disk.

Uses `TFLiteConverter.from_keras_model` and `from_saved_model` only: `from_concrete_functions`
with a Keras 3 model writes a model whose variables are frozen wrongly (it loads and computes
garbage). Precisions:

- float32; float16 (weights stored as float16, dequantized at load);
- dynamic range (weights int8, activations quantized on the fly);
- int8: post-training full-integer quantization (Jacob et al. 2018, "Quantization and Training of
  Neural Networks for Efficient Integer-Arithmetic-Only Inference"): weights per-channel
  symmetric int8 (per-tensor on request), activations per-tensor int8 with ranges from the
  user's calibration samples, input and output int8, uint8 or float32;
- int16x8: int16 activations with int8 weights, for models whose activations need the range.

TFLite's sparse tensor encoding (`Optimize.EXPERIMENTAL_SPARSITY`) stores only non-zeros plus
index metadata; at moderate sparsity the metadata outweighs the savings (at 50% it makes int8
files bigger), so `sparse="auto"` converts both ways and keeps the smaller file.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np

from edgewise._extras import require
from edgewise.fileio import atomic_path
from edgewise.runtime.records import Record

from .compare import PRECISIONS, QUANTIZED_PRECISIONS
from .errors import ConversionError
from .explain import diverged, layer_report
from .result import ConversionResult, VerifyConfig
from .samples import Feeds, SampleSource, as_feeds, as_float, count, take
from .specs import artifact_specs
from .support import runtime_support
from .verify import check_calibration, ensure_called, input_layouts, verify_detailed
from .weights import file_sparsity

IO_TYPES = ("int8", "uint8", "float32")
SPARSE_MODES = ("auto", "never", "always")
CALIBRATION_SAMPLES = 200  # what TFLite's own docs suggest is enough for stable ranges
SPARSE_WORTH_TRYING = 0.3  # below this share of zeros the encoding's index metadata cannot pay


@dataclass(frozen=True)
class TFLiteOptions(Record):
    """How to quantize and encode a TFLite file. `input_type`/`output_type` apply to int8 only."""

    input_type: str = "int8"
    output_type: str = "int8"
    per_channel: bool = True
    sparse: str = "auto"


DENSE = TFLiteOptions(sparse="never")  # the per-source functions' default: what they wrote before sparse encoding


def _quantize_settings(conv, tf, precision: str, opts: TFLiteOptions, representative: Optional[Callable]) -> None:
    if precision == "float32":
        return
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif precision in ("int8", "int16x8"):
        conv.representative_dataset = representative
        if precision == "int8":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = getattr(tf, opts.input_type)
            conv.inference_output_type = getattr(tf, opts.output_type)
        else:
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if not opts.per_channel:
            conv._experimental_disable_per_channel = True  # the only switch TFLite offers for per-tensor weights


def _representative(feeds: Feeds, order: List[str], as_dict: bool) -> Callable:
    samples = take(feeds, 0, CALIBRATION_SAMPLES)

    def gen():
        for i in range(count(samples)):
            one = {n: samples[n][i:i + 1] for n in order}
            yield one if as_dict else [one[n] for n in order]

    return gen


def convert_bytes(make_converter: Callable, precision: str, opts: TFLiteOptions, representative: Optional[Callable],
                  label: str, sparse: bool = False) -> bytes:
    """One TFLiteConverter run; errors become ConversionError naming the file and precision."""
    tf = require("tensorflow", "TFLite conversion")
    conv = make_converter()
    _quantize_settings(conv, tf, precision, opts, representative)
    if sparse:
        conv.optimizations = list(conv.optimizations or []) + [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    try:
        return conv.convert()
    except Exception as e:  # the converter raises ConverterError, RuntimeError, ValueError, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(label, f"TFLiteConverter ({precision}{', sparse' if sparse else ''}) failed: {first}") from e


def _keras_converter(model):
    tf = require("tensorflow", "TFLite conversion")
    return lambda: tf.lite.TFLiteConverter.from_keras_model(model)


def saved_model_converter(folder: str):
    tf = require("tensorflow", "TFLite conversion")
    return lambda: tf.lite.TFLiteConverter.from_saved_model(folder)


def write_tflite(make_converter: Callable, representative: Optional[Callable], reference, feeds: Feeds, path: str,
                 precision: str, opts: TFLiteOptions, verify: Optional[VerifyConfig], *, source: str,
                 converter: str, explain: bool = False, channels_last: bool = False, cross: bool = False,
                 float_bytes: Optional[bytes] = None, notes: Tuple[str, ...] = (),
                 ready: Optional[bytes] = None) -> ConversionResult:
    """Convert, pick the encoding, verify, describe, and only then move the file to `path`.

    `ready` is a file another converter already wrote (onnx2tf's float32 model): it is verified and
    described as it is, with no TFLiteConverter run and no sparse re-encoding.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if opts.sparse not in SPARSE_MODES:
        raise ValueError(f"sparse must be one of {SPARSE_MODES}, got {opts.sparse!r}")
    for what, t in (("input_type", opts.input_type), ("output_type", opts.output_type)):
        if t not in IO_TYPES:
            raise ValueError(f"{what} must be one of {IO_TYPES}, got {t!r}")
    t0 = time.perf_counter()
    data = ready if ready is not None else convert_bytes(make_converter, precision, opts, representative, path)
    sparse_used, notes = False, tuple(notes)
    if opts.sparse != "never" and ready is None:
        zeros = _zeros_share(data)
        if opts.sparse == "always" or zeros >= SPARSE_WORTH_TRYING:
            sparse = convert_bytes(make_converter, precision, opts, representative, path, sparse=True)
            if opts.sparse == "always" or len(sparse) < len(data):
                notes += (f"sparse tensor encoding: {len(sparse):,} bytes against {len(data):,} dense",)
                data, sparse_used = sparse, True
            else:
                notes += (f"sparse tensor encoding not used: {len(sparse):,} bytes against {len(data):,} dense",)
    with atomic_path(path, ".tflite") as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            verification, layouts = verify_detailed(tmp, reference, feeds, precision, verify, label=path,
                                                    channels_last=channels_last, cross=cross)
        except ConversionError as e:
            if precision == "float32":
                raise
            if float_bytes is None:
                float_bytes = convert_bytes(make_converter, "float32", opts, None, path)
            where = layer_report(tmp, float_bytes, take(feeds, 0, 8),
                                 input_layouts(tmp, reference, take(feeds, 0, 1), channels_last), label=path)
            raise ConversionError(path, e.detail + diverged(where), e.tensor, e.measured) from None
        specs_in, specs_out = artifact_specs(tmp)
        sample = take(feeds, 0, 8)
        support = runtime_support(tmp, sample, layouts, label=path)
        layers = None
        if explain and precision != "float32":
            if float_bytes is None:
                float_bytes = convert_bytes(make_converter, "float32", opts, None, path)
            layers = layer_report(tmp, float_bytes, take(feeds, 0, 16), layouts, label=path)
    return ConversionResult(path, "tflite", precision, os.path.getsize(path), file_sparsity(path), verification,
                            time.perf_counter() - t0, source, converter, specs_in, specs_out, layouts, sparse_used,
                            support, layers, notes)


def _zeros_share(data: bytes) -> float:
    """Share of exact zeros in the weight tensors of a converted (not yet written) file."""
    with tempfile.TemporaryDirectory() as d:
        probe = os.path.join(d, "probe.tflite")
        with open(probe, "wb") as f:
            f.write(data)
        return file_sparsity(probe).overall


def keras_to_tflite(model, path: "str | os.PathLike", calibration: SampleSource, *, precision: str = "float32",
                    verify: Optional[VerifyConfig] = None, options: Optional[TFLiteOptions] = None,
                    explain: bool = False, evaluation: Optional[SampleSource] = None) -> ConversionResult:
    """Convert a Keras model to `path` and check it against the model on the user's samples.

    Without `options` the file is dense (as this function always wrote it); `convert()` and the
    CLI pass `TFLiteOptions()`, whose `sparse="auto"` keeps the sparse encoding when smaller.

    `calibration` sets the quantization ranges; it and `evaluation` (if given) are the
    verification set. On any failure a ConversionError is raised and an existing file at `path`
    is left as it was.
    """
    label = os.fspath(path)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    from .reference import from_keras

    if not isinstance(calibration, (dict, str, os.PathLike)):
        calibration = check_calibration(calibration, label)
    ensure_called(model, calibration)
    ref = from_keras(model)
    feeds = _verification_set(calibration, evaluation, ref.input_names, label)
    calib = as_float(as_feeds(calibration, ref.input_names, label))
    rep = _representative(calib, ref.input_names, as_dict=False) if precision in ("int8", "int16x8") else None
    return write_tflite(_keras_converter(model), rep, ref, feeds, label, precision, options or DENSE, verify,
                        source=f"keras model {model.name!r}", converter=f"tf.lite.TFLiteConverter {_tf_version()}",
                        explain=explain)


def saved_model_to_tflite(folder: "str | os.PathLike", path: "str | os.PathLike", calibration: SampleSource, *,
                          precision: str = "float32", verify: Optional[VerifyConfig] = None,
                          options: Optional[TFLiteOptions] = None, explain: bool = False,
                          evaluation: Optional[SampleSource] = None) -> ConversionResult:
    """Convert a SavedModel folder (its serving_default signature) to `path`, verified against the SavedModel."""
    from .reference import from_saved_model

    folder, label = os.fspath(folder), os.fspath(path)
    ref = from_saved_model(folder)
    feeds = _verification_set(calibration, evaluation, ref.input_names, label)
    calib = as_float(as_feeds(calibration, ref.input_names, label))
    rep = _representative(calib, ref.input_names, as_dict=True) if precision in ("int8", "int16x8") else None
    return write_tflite(saved_model_converter(folder), rep, ref, feeds, label, precision, options or DENSE,
                        verify, source=folder, converter=f"tf.lite.TFLiteConverter {_tf_version()}", explain=explain)


def _verification_set(calibration, evaluation, names, label) -> Feeds:
    """The samples every artifact is checked on: the evaluation set first (unseen by calibration), then calibration."""
    feeds = as_float(as_feeds(calibration, names, label))
    if evaluation is not None:
        ev = as_float(as_feeds(evaluation, names, label))
        feeds = {n: np.concatenate([ev[n], feeds[n].astype(ev[n].dtype)]) for n in names}
    return feeds


def _tf_version() -> str:
    return require("tensorflow", "TFLite conversion").__version__


__all__ = ["keras_to_tflite", "saved_model_to_tflite", "TFLiteOptions", "write_tflite", "QUANTIZED_PRECISIONS"]
