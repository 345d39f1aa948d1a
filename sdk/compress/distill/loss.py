"""Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network").

The student learns from the teacher's soft targets p_T = softmax(z_t / T) as well as the labels:

    L = alpha * T^2 * KL(p_T(teacher) || p_T(student)) + (1 - alpha) * CE(y, softmax(z_s))

A high temperature T exposes the teacher's "dark knowledge" (which wrong classes it finds
plausible); the T^2 factor keeps the soft term's gradients on the same scale as the hard term's
when T changes (section 2 of the paper). Models that end in softmax give probabilities, not
logits: log p is a logit up to a per-sample constant, which softmax ignores, so it is used as z.

The loop feeds Keras one target array per sample: column 0 holds the hard label, the rest the
teacher's logits (`pack_targets`), computed once since the teacher is frozen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgewise.runtime.records import Record

_EPS = 1e-7


@dataclass(frozen=True)
class DistillConfig(Record):
    """Temperature T and the weight alpha of the soft-target term (1 - alpha goes to the labels)."""

    temperature: float = 4.0
    alpha: float = 0.7

    def __post_init__(self):
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"DistillConfig.temperature must be a positive number, got {self.temperature}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"DistillConfig.alpha must be in [0, 1], got {self.alpha}")


def as_logits(outputs: np.ndarray, from_logits: bool) -> np.ndarray:
    out = np.asarray(outputs, np.float32)
    return out if from_logits else np.log(np.clip(out, _EPS, 1.0))


def pack_targets(labels: np.ndarray, teacher_outputs: np.ndarray, from_logits: bool) -> np.ndarray:
    """(n, 1 + classes) float32: the hard label, then the teacher's logits."""
    return np.concatenate([np.asarray(labels, np.float32).reshape(-1, 1),
                           as_logits(teacher_outputs, from_logits)], axis=1)


def distillation_loss(config: DistillConfig, from_logits: bool = False):
    """A Keras loss on (packed targets, student outputs) implementing Hinton et al.'s mix."""
    from keras import ops

    t, alpha = float(config.temperature), float(config.alpha)

    def distillation(packed, pred):
        labels = ops.cast(packed[:, 0], "int32")
        teacher_z = packed[:, 1:]
        student_z = pred if from_logits else ops.log(ops.clip(pred, _EPS, 1.0))
        p_t = ops.softmax(teacher_z / t, axis=-1)
        log_p_s = ops.log_softmax(student_z / t, axis=-1)
        log_p_t = ops.log(ops.clip(p_t, _EPS, 1.0))
        soft = ops.sum(p_t * (log_p_t - log_p_s), axis=-1) * (t * t)
        hard_logp = ops.log_softmax(student_z, axis=-1)
        hard = -ops.take_along_axis(hard_logp, ops.expand_dims(labels, -1), axis=-1)[:, 0]
        return alpha * soft + (1.0 - alpha) * hard

    return distillation
