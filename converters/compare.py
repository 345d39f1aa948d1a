"""Compare an artifact's outputs with its source's, and refuse the artifact when they disagree.

Which bound applies depends on the artifact's precision (see `VerifyConfig` for why):
float32 and float16 files are held to a worst-element bound relative to the output's magnitude;
quantized files (int8, dynamic range, int16x8) to a mean error in output quantization steps plus
top-1 agreement for classifiers.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from .errors import ConversionError
from .result import OutputCheck, Verification, VerifyConfig

FLOAT_PRECISIONS = ("float32", "float16")
QUANTIZED_PRECISIONS = ("int8", "dynamic", "int16x8")
PRECISIONS = FLOAT_PRECISIONS + QUANTIZED_PRECISIONS


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


def range_step(ref: np.ndarray) -> float:
    """The step an 8-bit grid spanning the reference output's range would have: (max - min) / 255."""
    span = float(np.max(ref) - np.min(ref)) if ref.size else 0.0
    return span / 255.0 if span > 0 else 1.0 / 255.0


def float_bound(precision: str, config: VerifyConfig, cross: bool) -> Tuple[float, float]:
    """(atol, rtol) of the worst-element bound for a float artifact."""
    if precision == "float16":
        return config.float_atol, config.float16_rtol
    return (config.cross_atol, config.cross_rtol) if cross else (config.float_atol, config.float_rtol)


def check_output(name: str, ref: np.ndarray, got: np.ndarray, config: VerifyConfig,
                 output_scale: Optional[float] = None, precision: Optional[str] = None,
                 cross: bool = False) -> OutputCheck:
    """Errors of one output and the verdict.

    `precision` None keeps the original two-way rule: float bound when `output_scale` is None,
    quantized bound otherwise. For a quantized precision without a scale, the step of an 8-bit
    grid over the reference's range stands in.
    """
    ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
    diff = np.abs(ref64 - got64)
    max_err, mean_err = float(diff.max(initial=0.0)), float(diff.mean()) if diff.size else 0.0
    norm = float(np.linalg.norm(ref64))
    rel = float(np.linalg.norm(ref64 - got64) / norm) if norm > 0 else float(np.linalg.norm(got64) > 0)
    denom = norm * float(np.linalg.norm(got64))
    cosine = float(np.dot(ref64.ravel(), got64.ravel()) / denom) if denom > 0 else None
    quantized = precision in QUANTIZED_PRECISIONS if precision is not None else output_scale is not None
    peak = float(np.abs(ref64).max(initial=0.0))
    if not quantized:
        atol, rtol = float_bound(precision or "float32", config, cross)
        tol = atol + rtol * peak
        agree, n = top1_agreement(ref, got, tol)
        rule = f"max |error| <= {atol:g} + {rtol:g} x max|reference| ({peak:.4g})"
        return OutputCheck(name, max_err, mean_err, "max_abs_error", tol, None, agree, None, n, rel, cosine, rule)
    scale = output_scale if output_scale is not None else range_step(ref)
    tol = config.int8_mean_scales * scale
    agree, n = top1_agreement(ref, got, tol)
    where = "the output's scale" if output_scale is not None else "(max - min) / 255 of the reference"
    rule = (f"mean |error| <= {config.int8_mean_scales:g} quantization steps ({where}: {scale:.4g})"
            + (f", top-1 agreement >= {config.min_top1_agreement:g}" if agree is not None else "")
            + f", cosine >= {config.min_cosine:g}")
    return OutputCheck(name, max_err, mean_err, "mean_abs_error", tol, scale, agree,
                       config.min_top1_agreement if agree is not None else None, n, rel, cosine, rule,
                       config.min_cosine)


def verify_outputs(artifact: str, reference: str, refs: Sequence[np.ndarray], gots: Sequence[np.ndarray],
                   names: Sequence[str], scales: Sequence[Optional[float]], config: VerifyConfig,
                   precision: Optional[str] = None, cross: bool = False) -> Verification:
    """Check every output; raise ConversionError naming the first output that fails."""
    if len(refs) != len(gots):
        raise ConversionError(artifact, f"has {len(gots)} outputs, the source ({reference}) has {len(refs)}")
    checks: List[OutputCheck] = []
    for ref, got, name, scale in zip(refs, gots, names, scales):
        if ref.shape != got.shape:
            raise ConversionError(artifact, f"output shape {got.shape} differs from the source's {ref.shape}", name)
        c = check_output(name, ref, got, config, scale, precision, cross)
        checks.append(c)
        if not c.passed:
            what = f"{c.metric.replace('_', ' ')} {c.measured:.6g} exceeds the tolerance {c.tolerance:.6g} ({c.rule})"
            if c.measured <= c.tolerance and c.min_cosine is not None and (c.cosine or 0.0) < c.min_cosine:
                what = f"cosine similarity {c.cosine:.4f} with the source is below {c.min_cosine:g} ({c.rule})"
            elif c.measured <= c.tolerance:
                what = (f"top-1 agreement {c.top1_agreement:.3f} with the source is below "
                        f"{c.min_top1_agreement:.3f} (on the {c.top1_samples} samples whose top-1 margin exceeds "
                        f"{c.tolerance:.3g})")
            measured = (c.measured if c.measured > c.tolerance else
                        c.top1_agreement if c.top1_agreement is not None and c.min_top1_agreement is not None
                        and c.top1_agreement < c.min_top1_agreement else c.cosine)
            raise ConversionError(artifact, f"does not match {reference} on {len(ref)} samples: {what}", name, measured)
    return Verification(reference, int(len(refs[0])) if refs else 0, tuple(checks))
