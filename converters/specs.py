"""The input and output specs of a written file, read with edgewise.runtime's own parsers.

A dynamic dimension is None (TFLite `shape_signature` -1) or a symbol (ONNX `dim_param`), so the
batch size and every free dimension read off the specs in the ConversionResult.
"""
from __future__ import annotations

import os
from typing import Tuple

from edgewise.runtime.summary import inspect_model
from edgewise.runtime.spec import TensorSpec


def artifact_specs(path: "str | os.PathLike") -> Tuple[Tuple[TensorSpec, ...], Tuple[TensorSpec, ...]]:
    summary = inspect_model(os.fspath(path))
    return tuple(summary.inputs), tuple(summary.outputs)


def describe_dims(spec: TensorSpec) -> str:
    """'batch 1, fixed' / 'batch dynamic' plus the other dynamic dimensions, for the CLI's summary."""
    if not spec.shape:
        return "scalar"
    first = spec.shape[0]
    batch = f"batch {first}" if isinstance(first, int) and first > 0 else f"batch dynamic ({first or '?'})"
    free = [i for i, d in enumerate(spec.shape[1:], 1) if not (isinstance(d, int) and d > 0)]
    return batch + (f", dynamic dims {free}" if free else "")
