"""ONNX kernels: pure functions on NumPy arrays, named and parameterised as the ONNX spec names
them (inputs positional, attributes keyword-only with the spec's defaults). Registration, with the
opset versions each kernel implements, is in `..registry`.
"""
