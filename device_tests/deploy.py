"""Ship the runtime, the agent and a model to a device, content-addressed, and start the agent.

The bundle is one zip holding `edgewise/runtime/**` and `edgewise/device_tests/agent.py` (with
empty `edgewise/__init__.py` and `edgewise/device_tests/__init__.py`): Python imports straight
from it (zipimport, PEP 273), so nothing is pip-installed on the device. The zip's bytes depend
only on the source files (sorted names, fixed timestamps and permissions), so its SHA-256 names it:
files go to `<cache>/<first 16 hex digits of the sha256>/` (default cache
`${XDG_CACHE_HOME:-$HOME/.cache}/edgewise`) and are not uploaded again when already there.
"""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
import shlex
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple

from .connectors.base import BaseConnector
from .errors import DeviceError

BUNDLE_NAME = "edgewise-bundle.zip"
HASH_PREFIX = 16
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip can hold


def _bundle_sources() -> Iterator[Tuple[str, Optional[Path]]]:
    """(name in the zip, source file or None for an empty file), unsorted."""
    import edgewise.runtime

    runtime_dir = Path(edgewise.runtime.__file__).resolve().parent
    yield "edgewise/__init__.py", None
    yield "edgewise/device_tests/__init__.py", None
    yield "edgewise/device_tests/agent.py", Path(__file__).resolve().parent / "agent.py"
    folders = set()
    for path in runtime_dir.rglob("*.py"):
        rel = path.relative_to(runtime_dir)
        if "__pycache__" in rel.parts:
            continue
        folders.update(rel.parents)
        yield "edgewise/runtime/" + rel.as_posix(), path
    # zipimport cannot import namespace packages (folders without __init__.py), so they get an
    # empty one inside the zip; for code importing them this is the same thing.
    for folder in folders:
        if not (runtime_dir / folder / "__init__.py").exists():
            yield "edgewise/runtime/" + (folder / "__init__.py").as_posix(), None


def build_bundle() -> bytes:
    """The deployment zip, byte-for-byte reproducible from the same sources."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, src in sorted(_bundle_sources()):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the host is
            zf.writestr(info, b"" if src is None else src.read_bytes(), compresslevel=9)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Deployment:
    """Where the bundle and the model are on the device, and whether this call uploaded them."""

    cache_dir: str
    bundle_path: str
    bundle_sha256: str
    bundle_uploaded: bool
    model_path: str
    model_sha256: str
    model_uploaded: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "Deployment":
        return cls(**d)


def remote_cache_dir(conn: BaseConnector) -> str:
    """The device's cache folder as an absolute path (`~` is not expanded inside quotes)."""
    res = conn.run_shell_command('printf "%s" "${XDG_CACHE_HOME:-$HOME/.cache}/edgewise"', timeout=30)
    path = res.stdout.strip()
    if not res.ok or not path.startswith("/"):
        raise DeviceError(f"{conn.name}: cannot find a cache folder on the device ({res.describe()})")
    return path


def _exists(conn: BaseConnector, path: str) -> bool:
    res = conn.run_shell_command(f"test -f {shlex.quote(path)}", timeout=30)
    return res.exit_status == 0


def _push(conn: BaseConnector, local: str, remote: str) -> bool:
    if _exists(conn, remote):
        return False
    conn.put_file(local, remote)
    return True


def deploy(conn: BaseConnector, model_path: str, cache_dir: Optional[str] = None) -> Deployment:
    """Put the bundle and the model in the device's content-addressed cache (skip what is there)."""
    cache = cache_dir or remote_cache_dir(conn)
    bundle = build_bundle()
    bundle_sha = sha256_bytes(bundle)
    bundle_remote = posixpath.join(cache, bundle_sha[:HASH_PREFIX], BUNDLE_NAME)
    with tempfile.TemporaryDirectory(prefix="edgewise-deploy-") as tmp:
        local_bundle = os.path.join(tmp, BUNDLE_NAME)
        with open(local_bundle, "wb") as f:
            f.write(bundle)
        bundle_uploaded = _push(conn, local_bundle, bundle_remote)
    model_sha = sha256_file(model_path)
    # The model keeps its file name, so errors raised on the device still name it.
    model_remote = posixpath.join(cache, model_sha[:HASH_PREFIX], os.path.basename(model_path))
    model_uploaded = _push(conn, model_path, model_remote)
    return Deployment(cache, bundle_remote, bundle_sha, bundle_uploaded, model_remote, model_sha, model_uploaded)


def agent_command(python: str, bundle_path: str, agent_args) -> str:
    """The shell command that starts the agent from the bundle, every word quoted."""
    from .agent import BOOTSTRAP

    words = [python, "-u", "-c", BOOTSTRAP, bundle_path, *[str(a) for a in agent_args]]
    return " ".join(shlex.quote(w) for w in words)
