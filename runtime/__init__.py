"""edgewise.runtime: run .tflite and .onnx models on a device with NumPy alone.

    from edgewise.runtime import load
    model = load("model.tflite")          # LiteRT if installed, else the NumPy interpreter
    y, = model.run(x, quantize=True)      # float in, float out, even for an int8 model

This package imports nothing but NumPy and the standard library; LiteRT (ai_edge_litert or
tflite_runtime) and onnxruntime are used when they are installed.
"""
from .errors import (
    BackendUnavailableError,
    EdgewiseRuntimeError,
    InputError,
    ModelFormatError,
    UnsupportedOpError,
)
from .model import BACKENDS, BackendInfo, Model, detect_format, load
from .spec import Quantization, TensorSpec

__all__ = [
    "load",
    "BACKENDS",
    "Model",
    "BackendInfo",
    "TensorSpec",
    "Quantization",
    "detect_format",
    "EdgewiseRuntimeError",
    "ModelFormatError",
    "UnsupportedOpError",
    "InputError",
    "BackendUnavailableError",
]
__version__ = "0.1.0"
