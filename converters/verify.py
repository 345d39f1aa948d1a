"""Compare an artifact's outputs with its source's, and refuse the artifact when they disagree."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .errors import ConversionError
from .result import OutputCheck, Verification, VerifyConfig


def top1_agreement(ref: np.ndarray, got: np.ndarray, margin: float = 0.0) -> Tuple[Optional[float], int]:
    """(share of samples with the same arg-max class, samples counted) for (N, classes) outputs.

    Only samples whose reference top-1 score beats the runner-up by more than `margin` count: a
    closer call can flip under quantization noise of that size without anything being wrong.
    (None, 0) when the output is not a class-score matrix or no sample is decided by the margin.
    """
    if ref.ndim != 2 or ref.shape[1] < 2:
        return None, 0
    top2 = np.sort(ref, axis=1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) > margin
    n = int(decided.sum())
    if n == 0:
        return None, 0
    return float(np.mean(ref[decided].argmax(axis=1) == got[decided].argmax(axis=1))), n


def check_output(name: str, ref: np.ndarray, got: np.ndarray, config: VerifyConfig,
                 output_scale: Optional[float] = None) -> OutputCheck:
    """Errors of one output; float tolerance when `output_scale` is None, int8 tolerance otherwise."""
    diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
    max_err, mean_err = float(diff.max(initial=0.0)), float(diff.mean()) if diff.size else 0.0
    if output_scale is None:
        tol = config.float_atol + config.float_rtol * float(np.abs(ref).max(initial=0.0))
        agree, n = top1_agreement(ref, got, tol)
        return OutputCheck(name, max_err, mean_err, "max_abs_error", tol, None, agree, None, n)
    tol = config.int8_mean_scales * output_scale
    agree, n = top1_agreement(ref, got, tol)
    return OutputCheck(name, max_err, mean_err, "mean_abs_error", tol, output_scale, agree,
                       config.min_top1_agreement if agree is not None else None, n)


def verify_outputs(artifact: str, reference: str, refs: Sequence[np.ndarray], gots: Sequence[np.ndarray],
                   names: Sequence[str], scales: Sequence[Optional[float]], config: VerifyConfig) -> Verification:
    """Check every output; raise ConversionError naming the first output that fails."""
    if len(refs) != len(gots):
        raise ConversionError(artifact, f"has {len(gots)} outputs, the source ({reference}) has {len(refs)}")
    checks: List[OutputCheck] = []
    for ref, got, name, scale in zip(refs, gots, names, scales):
        if ref.shape != got.shape:
            raise ConversionError(artifact, f"output shape {got.shape} differs from the source's {ref.shape}", name)
        c = check_output(name, ref, got, config, scale)
        checks.append(c)
        if not c.passed:
            what = f"{c.metric.replace('_', ' ')} {c.measured:.6g} exceeds the tolerance {c.tolerance:.6g}"
            if c.output_scale is not None:
                what += f" ({config.int8_mean_scales:g} x output scale {c.output_scale:.6g})"
            if c.measured <= c.tolerance:
                what = (f"top-1 agreement {c.top1_agreement:.3f} with the source is below "
                        f"{c.min_top1_agreement:.3f} (on the {c.top1_samples} samples whose top-1 margin exceeds "
                        f"{c.tolerance:.3g})")
            raise ConversionError(artifact, f"does not match {reference} on {len(ref)} calibration samples: {what}",
                                  name, c.measured if c.measured > c.tolerance else c.top1_agreement)
    return Verification(reference, int(len(refs[0])) if refs else 0, tuple(checks))
