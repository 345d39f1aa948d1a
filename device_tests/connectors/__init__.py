"""Connectors: how the harness reaches a device ("local" or "ssh://USER@HOST[:PORT]")."""
from __future__ import annotations

from typing import Optional

from .base import BaseConnector, CommandResult
from .local import LocalConnector


def connect(
    device: str,
    *,
    identity: Optional[str] = None,
    known_hosts: Optional[str] = None,
    accept_new_host_key: bool = False,
    connect_timeout: float = 15.0,
    jump: Optional[BaseConnector] = None,
    dead_link_s: float = 30.0,
) -> BaseConnector:
    """Open a connector for `device`: "local" (this machine) or "ssh://USER@HOST[:PORT]"."""
    if device == "local":
        return LocalConnector()
    if device.startswith("ssh://"):
        from .ssh import SSHConnector

        return SSHConnector(
            device,
            identity=identity,
            known_hosts=known_hosts,
            accept_new_host_key=accept_new_host_key,
            connect_timeout=connect_timeout,
            jump=jump,
            dead_link_s=dead_link_s,
        )
    raise ValueError(f"unknown device {device!r}: use 'local' or 'ssh://USER@HOST[:PORT]'")


__all__ = ["BaseConnector", "CommandResult", "LocalConnector", "connect"]
