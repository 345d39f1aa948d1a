"""Host-key checking against an OpenSSH known_hosts file, as `ssh` itself does.

Default: a host missing from the file is refused (OpenSSH's StrictHostKeyChecking=yes), a key
that differs from the recorded one is always refused. With `accept_new=True` an unknown host's
key is trusted on first use and appended to the file (StrictHostKeyChecking=accept-new).
Fingerprints are printed as OpenSSH prints them: "SHA256:" + unpadded base64 of the SHA-256 of
the key blob (ssh-keygen -l).
"""
from __future__ import annotations

import base64
import hashlib
import os

from edgewise.fileio import write_bytes_atomic
from ..errors import HostKeyError


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def host_entry_name(host: str, port: int) -> str:
    """The name known_hosts uses: `host` on port 22, `[host]:port` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def append_atomic(path: str, line: str) -> None:
    """Add one line to `path` by writing the whole new file beside it and renaming it into place."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    old = b""
    mode = 0o600
    if os.path.exists(path):
        with open(path, "rb") as f:
            old = f.read()
        mode = os.stat(path).st_mode & 0o777
    if old and not old.endswith(b"\n"):
        old += b"\n"
    write_bytes_atomic(path, old + line.encode("utf-8") + b"\n", mode=mode)


def make_policy(paramiko, known_hosts: str, accept_new: bool):
    """A paramiko MissingHostKeyPolicy: refuse unknown hosts, or record them when `accept_new`."""

    class _Policy(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            fp = fingerprint(key)
            if not accept_new:
                raise HostKeyError(
                    f"host {hostname} is not in {known_hosts}; it offered the {key.get_name()} key {fp}. "
                    "Check that fingerprint on the device (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and "
                    "then connect once with accept_new_host_key=True (CLI: --accept-new-host-key), or add it "
                    "with ssh-keyscan"
                )
            append_atomic(known_hosts, f"{hostname} {key.get_name()} {key.get_base64()}")
            client.get_host_keys().add(hostname, key.get_name(), key)

    return _Policy()


def bad_key_error(hostname: str, known_hosts: str, got, expected) -> HostKeyError:
    return HostKeyError(
        f"HOST KEY MISMATCH for {hostname}: it offered the {got.get_name()} key {fingerprint(got)}, but "
        f"{known_hosts} records {expected.get_name()} {fingerprint(expected)}. Someone may be intercepting the "
        "connection, or the device was reinstalled. Refusing to connect; if the change is expected, remove the "
        f"old entry (ssh-keygen -R '{hostname}' -f {known_hosts}) and connect again"
    )
