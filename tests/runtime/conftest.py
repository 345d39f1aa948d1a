"""Fixtures shared by the runtime tests."""
import pytest

from .conformance.fixtures import model_store  # noqa: F401  (shared session fixture)


@pytest.fixture(scope="session")
def host_golden_dir(tmp_path_factory):
    """Golden cases made here with the real converters and reference runtimes (host only)."""
    from .conformance.convert import ModelStore
    from .portable.goldens import write_goldens

    return write_goldens(tmp_path_factory.mktemp("goldens"), ModelStore())
