"""Session fixtures for the SDK tests; the model is trained once (see trained.py)."""
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from . import trained  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return trained.digits()


@pytest.fixture(scope="session")
def trained_model():
    return trained.trained_model()


@pytest.fixture(scope="session")
def pruned():
    return trained.pruned()
