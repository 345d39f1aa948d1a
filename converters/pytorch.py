"""PyTorch nn.Module -> ONNX with `torch.onnx.export`, verified against the module itself.

Uses the TorchScript-based exporter (`dynamo=False`): it needs nothing beyond torch (the dynamo
exporter pulls in onnxscript) and covers the CNNs and MLPs edge users ship. The batch dimension is
exported dynamic (named "batch") unless `dynamic_batch=False`. From there the ONNX path applies:
`convert(module, ..., to="tflite")` goes on through onnx2tf and is verified against the module.
"""
from __future__ import annotations

import os
import time
from typing import Optional, Sequence

import numpy as np

from edgewise._extras import require
from edgewise.fileio import atomic_path

from .errors import ConversionError
from .reference import Reference, from_torch
from .result import ConversionResult, VerifyConfig
from .samples import SampleSource, as_feeds, as_float, take
from .specs import artifact_specs
from .support import runtime_support
from .verify import verify_detailed
from .weights import file_sparsity

OPSET = 17


def torch_reference(module, input_names: Sequence[str]) -> Reference:
    return from_torch(module, input_names)


def export_onnx(module, path: str, feeds, input_names: Sequence[str], output_names: Sequence[str],
                dynamic_batch: bool, label: str) -> None:
    """`torch.onnx.export` of `module` traced on one sample of each input."""
    torch = require("torch", "PyTorch -> ONNX export", extra="torch")
    module.eval()
    args = tuple(torch.from_numpy(np.ascontiguousarray(feeds[n][:1])) for n in input_names)
    axes = {n: {0: "batch"} for n in list(input_names) + list(output_names)} if dynamic_batch else None
    try:
        torch.onnx.export(module, args, path, input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    except Exception as e:  # the exporter raises torch.onnx errors, RuntimeError, TypeError, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(label, f"torch.onnx.export failed: {first}") from e


def torch_to_onnx(module, path: "str | os.PathLike", calibration: SampleSource, *,
                  input_names: Sequence[str] = ("input",), output_names: Optional[Sequence[str]] = None,
                  dynamic_batch: bool = True, verify: Optional[VerifyConfig] = None,
                  evaluation: Optional[SampleSource] = None) -> ConversionResult:
    """Export `module` to float ONNX at `path`, verified against the module on the user's samples."""
    label = os.fspath(path)
    t0 = time.perf_counter()
    names = list(input_names)
    feeds = as_float(as_feeds(calibration, names, label))
    if evaluation is not None:
        ev = as_float(as_feeds(evaluation, names, label))
        feeds = {n: np.concatenate([ev[n], feeds[n]]) for n in names}
    ref = from_torch(module, names)
    n_out = len(ref(take(feeds, 0, 1)))
    outs = list(output_names) if output_names else (["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)])
    ref.output_names = outs
    with atomic_path(label, ".onnx") as tmp:
        export_onnx(module, tmp, feeds, names, outs, dynamic_batch, label)
        verification, layouts = verify_detailed(tmp, ref, feeds, "float32", verify, label=label, cross=True)
        specs_in, specs_out = artifact_specs(tmp)
        support = runtime_support(tmp, take(feeds, 0, 4), layouts, label=label)
    torch = require("torch", "PyTorch -> ONNX export", extra="torch")
    return ConversionResult(label, "onnx", "float32", os.path.getsize(label), file_sparsity(label), verification,
                            time.perf_counter() - t0, ref.name, f"torch.onnx.export (torch {torch.__version__}, "
                            f"opset {OPSET})", specs_in, specs_out, layouts, False, support)
