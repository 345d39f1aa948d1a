"""Say which extra to install when a host feature meets a machine that lacks it."""
from __future__ import annotations

import importlib


class MissingExtraError(ImportError):
    """A host feature was used without the packages of the `host` extra."""


def require(module: str, feature: str, extra: str = "host"):
    """Import `module` or raise an error naming the feature and the pip command that fixes it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{feature} needs the Python package {module.split('.')[0]!r}, which is not installed "
            f"({e}). Install the host extra: pip install 'edgewise[{extra}]'"
        ) from None


def pyplot(feature: str):
    """matplotlib.pyplot on the file-only Agg backend (reports draw off-screen), or MissingExtraError."""
    matplotlib = require("matplotlib", feature)
    matplotlib.use("Agg", force=True)
    return require("matplotlib.pyplot", feature)
