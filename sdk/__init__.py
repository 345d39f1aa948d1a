"""edgewise: compress, convert, run and measure neural networks on phones and small boards.

Importing `edgewise` is cheap and pulls nothing heavy: the runtime (`edgewise.runtime`) needs only
NumPy, and the host features import TensorFlow, onnx and friends when they are first used.
"""
__version__ = "0.1.0"
