"""Access to the test suite's conformance models from the benchmarks, without a copy of the builders.

The builders, converters and cache live in tests/runtime/conformance/ (the tests are their first
user); the benchmarks import that package from the repository root, so both measure the same files.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def conformance():
    """The tests.runtime.conformance package: .models.CONFORMANCE_MODELS, .convert.ModelStore, .oracles."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import tests.runtime.conformance.convert as convert
    import tests.runtime.conformance.models as models
    import tests.runtime.conformance.oracles as oracles

    return models, convert, oracles
