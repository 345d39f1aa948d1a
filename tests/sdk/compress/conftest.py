import pytest

from . import models


@pytest.fixture(scope="session")
def digits():
    return models.digits()


@pytest.fixture(scope="session")
def cnn():
    return models.trained("cnn")


@pytest.fixture(scope="session")
def mlp():
    return models.trained("mlp")
