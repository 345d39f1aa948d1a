"""Exceptions raised by edgewise.runtime.

Every error names what is at fault: the model file, the op and node, or the tensor. Callers can
catch `RuntimeError_` (exported as `edgewise.runtime.EdgewiseRuntimeError`) for all of them.
"""
from __future__ import annotations


class EdgewiseRuntimeError(Exception):
    """Base class of every error edgewise.runtime raises on purpose."""


class ModelFormatError(EdgewiseRuntimeError):
    """The file is not a valid model: truncated, wrong magic, offsets out of range, bad sizes."""

    def __init__(self, source: str, detail: str):
        self.source = source
        self.detail = detail
        super().__init__(f"{source}: {detail}")


class UnsupportedOpError(EdgewiseRuntimeError):
    """The model uses an op (or an op variant) that the chosen backend cannot run."""

    def __init__(self, source: str, op: str, node: str, detail: str = ""):
        self.source = source
        self.op = op
        self.node = node
        msg = f"{source}: op {op} (node {node!r}) is not supported by the NumPy backend"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class InputError(EdgewiseRuntimeError):
    """The arrays given to `Model.run` do not fit the model's inputs."""


class BackendUnavailableError(EdgewiseRuntimeError):
    """The requested backend is not installed or cannot load this model."""
