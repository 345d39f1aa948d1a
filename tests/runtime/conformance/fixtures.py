"""Session fixture over the converted conformance models; import it into a test module to use it."""
from __future__ import annotations

import pytest

from .convert import ModelStore


@pytest.fixture(scope="session")
def model_store() -> ModelStore:
    """Converts on first use per (model, format), then serves files from the on-disk cache."""
    return ModelStore()
