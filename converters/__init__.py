"""Keras -> TFLite / ONNX converters, int8 quantizers and the numeric check every artifact passes.

    from edgewise.converters import keras_to_tflite, keras_to_onnx, quantize_onnx_int8
    r = keras_to_tflite(model, "out/model.int8.tflite", calib_x, precision="int8")
    r.size_bytes, r.sparsity.overall, r.verification.outputs[0].top1_agreement

Every function writes atomically and raises ConversionError if the artifact disagrees with its
source; TensorFlow, onnx and onnxruntime are imported on first use.
"""
from .check import verify_artifact
from .errors import ConversionError
from .onnx import keras_to_onnx, quantize_onnx_int8
from .result import ConversionResult, OutputCheck, Verification, VerifyConfig
from .tflite import keras_to_tflite
from .weights import file_sparsity, read_weights

__all__ = [
    "keras_to_tflite", "keras_to_onnx", "quantize_onnx_int8", "verify_artifact", "ConversionError",
    "ConversionResult", "OutputCheck", "Verification", "VerifyConfig", "file_sparsity", "read_weights",
]
