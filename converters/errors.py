"""The one error a conversion raises when its output cannot be trusted."""
from __future__ import annotations

from typing import Optional


class ConversionError(RuntimeError):
    """A converter failed, or its artifact disagrees numerically with the source model.

    Carries the artifact path, the output tensor at fault and the measured error, so a CI log
    says which file to distrust and by how much.
    """

    def __init__(self, artifact: str, detail: str, tensor: Optional[str] = None, measured: Optional[float] = None):
        self.artifact = artifact
        self.tensor = tensor
        self.measured = measured
        self.detail = detail
        where = f" (output {tensor!r})" if tensor else ""
        super().__init__(f"{artifact}{where}: {detail}")
