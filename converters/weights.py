"""Read the weight tensors back out of a written .tflite or .onnx file, to count what survived.

Sparsity only pays if the zeros are in the deployed file, so edgewise measures them there rather
than in the Keras model. A "weight tensor" here is a constant (stored in the file, not computed)
of rank >= 2 and a float or 8-bit integer type: conv and dense kernels, and in an int8 file their
quantized forms. Biases (rank 1) and shape constants are left out, as in the pruning table.

Both formats are read with edgewise.runtime's own bounds-checked readers (edgewise.runtime.summary),
the same code `edgewise inspect` uses.
"""
from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np

from edgewise.runtime.summary import weight_tensors

from .sparsity import SparsitySummary


def read_weights(path: "str | os.PathLike") -> List[Tuple[str, np.ndarray]]:
    """(name, array) of every weight tensor stored in a .tflite or .onnx file."""
    return weight_tensors(path)


def file_sparsity(path: "str | os.PathLike") -> SparsitySummary:
    """Exact zeros in the weight tensors of a written model file, per tensor and overall."""
    return SparsitySummary.of_arrays(read_weights(path))
