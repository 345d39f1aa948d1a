"""Knowledge distillation: Hinton et al.'s loss (usable by every fine-tuning) and derived students."""
from .loss import DistillConfig, distillation_loss, pack_targets
from .student import StudentConfig, derive_student

__all__ = ["DistillConfig", "distillation_loss", "pack_targets", "StudentConfig", "derive_student"]
