"""Exceptions of the device harness. Each message names the device and what failed on it."""
from __future__ import annotations


class DeviceError(Exception):
    """Base class of every error edgewise.device_tests raises on purpose."""


class ConnectError(DeviceError):
    """The device could not be reached or refused the login."""


class LoginError(ConnectError):
    """The device answered but refused the login: retrying will not help."""


class HostKeyError(ConnectError):
    """The device's SSH host key is unknown (and not accepted) or differs from the recorded one."""


class ConnectionLostError(DeviceError):
    """The link to the device dropped while a command was running."""


#: Errors worth another attempt: the network, not the device's answer (a refused host key or
#: login, an agent's report, are not retried).
def is_transient(error: BaseException) -> bool:
    return isinstance(error, (ConnectionLostError, CommandTimeoutError)) or (
        type(error) is ConnectError)


class CommandTimeoutError(DeviceError):
    """A command on the device ran past its time limit."""


class AgentError(DeviceError):
    """The benchmark agent on the device reported an error (or died without a report).

    `kind` is the exception class the agent met ("ModelFormatError", "NumpyMissing", ...).
    """

    def __init__(self, device: str, kind: str, message: str):
        self.device = device
        self.kind = kind
        self.message = message
        super().__init__(f"{device}: {message}")
