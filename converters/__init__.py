"""Converters to TFLite and ONNX from Keras, SavedModel, ONNX and PyTorch, each artifact verified before it is written.

    from edgewise.converters import convert
    r = convert("model.onnx", "out/model.int8.tflite", to="tflite", quantize="int8", calibration="calib.npz")
    r.verification.outputs[0].max_abs_error, r.layouts[0].description, r.runtimes

The per-source functions (`keras_to_tflite`, `keras_to_onnx`, `quantize_onnx_int8`,
`saved_model_to_tflite`, `onnx_to_tflite`, `torch_to_onnx`) are the same steps `convert` chains.
Every function writes atomically and raises ConversionError if the artifact disagrees with its
source; TensorFlow, onnx, onnxruntime, onnx2tf and torch are imported on first use.
"""
from .convert import QUANTIZE_MODES, convert
from .errors import ConversionError
from .onnx import OnnxQuantOptions, keras_to_onnx, quantize_onnx_int8
from .onnx2tf import onnx_to_tflite
from .pytorch import torch_to_onnx
from .result import (
    ConversionResult, InputLayout, LayerError, LayerReport, OutputCheck, RuntimeSupport, Verification, VerifyConfig,
)
from .tflite import TFLiteOptions, keras_to_tflite, saved_model_to_tflite
from .verify import verify_artifact
from .weights import file_sparsity, read_weights

__all__ = [
    "convert", "QUANTIZE_MODES", "keras_to_tflite", "saved_model_to_tflite", "keras_to_onnx", "quantize_onnx_int8",
    "onnx_to_tflite", "torch_to_onnx", "verify_artifact", "ConversionError", "ConversionResult", "OutputCheck",
    "Verification", "VerifyConfig", "InputLayout", "LayerError", "LayerReport", "RuntimeSupport", "TFLiteOptions",
    "OnnxQuantOptions", "file_sparsity", "read_weights",
]
