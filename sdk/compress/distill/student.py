"""Students derived from a teacher: narrower (width multiplier) and shallower (blocks dropped).

Width: every Conv/Dense layer but the model's outputs gets round(width * filters) filters, as
MobileNet's width multiplier alpha thins every layer uniformly (Howard et al. 2017). Depth: a
layer named in `drop` is replaced by an identity, which is only possible where its input and
output shapes agree (a residual block's body, a same-padded conv keeping its channels); anything
else is refused naming the layer. The student starts from fresh, seeded weights: it learns from
the teacher by distillation (`fine_tune(..., teacher=, distill=)`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from edgewise.runtime.records import Record

from ..select import check_patterns

WIDTH_KEYS = {"Dense": "units", "Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters",
              "SeparableConv2D": "filters", "SeparableConv1D": "filters"}


@dataclass(frozen=True)
class StudentConfig(Record):
    """`width` multiplies filters/units of hidden layers; `drop` names (globs) layers replaced by identities."""

    width: float = 0.5
    drop: Tuple[str, ...] = ()

    def __post_init__(self):
        if not 0.0 < self.width <= 1.0:
            raise ValueError(f"StudentConfig.width must be in (0, 1], got {self.width}")


def derive_student(teacher, config: StudentConfig, seed: int = 0):
    """A new, untrained model shaped like `teacher` but narrower / shallower (see module doc)."""
    import fnmatch

    import keras

    names = [layer.name for layer in teacher.layers]
    check_patterns(names, config.drop, "StudentConfig.drop")
    outputs = {t._keras_history.operation.name for t in teacher.outputs}
    keras.utils.set_random_seed(seed)

    def clone(layer):
        cfg = layer.get_config()
        if any(fnmatch.fnmatchcase(layer.name, p) for p in config.drop):
            if tuple(layer.input.shape) != tuple(layer.output.shape):
                raise ValueError(f"StudentConfig.drop: layer {layer.name!r} maps {tuple(layer.input.shape)} to "
                                 f"{tuple(layer.output.shape)}; only shape-preserving layers can be dropped")
            return keras.layers.Identity(name=layer.name)
        key = WIDTH_KEYS.get(type(layer).__name__)
        if key is not None and layer.name not in outputs:
            cfg[key] = max(1, int(round(config.width * cfg[key])))
        return type(layer).from_config(cfg)

    student = keras.models.clone_model(teacher, clone_function=clone)
    student.name = f"{teacher.name}_student"  # type: ignore[misc]
    return student
