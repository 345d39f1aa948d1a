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


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """(out_dir, Report) of one full `run_demo()`: train, prune, convert, evaluate, benchmark, report."""
    from edgewise.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    lines = []
    report = run_demo(out_dir=out, progress=lines.append)
    return out, report, lines


@pytest.fixture(scope="session")
def flat_digits():
    return trained.flat_digits()


@pytest.fixture(scope="session")
def tiny_mlp():
    return trained.tiny_mlp()
