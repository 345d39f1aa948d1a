"""Ship the runtime, the agent and a model to a device, content-addressed, and start the agent.

The payload is one zip holding `edgewise/runtime/**` and `edgewise/device_tests/agent.py` (with
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
from typing import Dict, Iterator, Optional, Tuple

from edgewise.runtime.records import Record

from .agent import sha256_file
from .connectors.base import BaseConnector
from .errors import DeviceError

PAYLOAD_NAME = "edgewise-payload.zip"
#: The device_tests modules the agent imports on the device (stdlib, NumPy and the runtime only).
DEVICE_SIDE = ("agent.py", "textparse.py", "power/__init__.py", "power/parsers.py", "power/probes.py",
               "power/sampler.py", "power/energy.py")
HASH_PREFIX = 16
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip can hold


def _payload_sources() -> Iterator[Tuple[str, Optional[Path]]]:
    """(name in the zip, source file or None for an empty file), unsorted."""
    import edgewise.runtime

    runtime_dir = Path(edgewise.runtime.__file__).resolve().parent
    yield "edgewise/__init__.py", None
    yield "edgewise/device_tests/__init__.py", None
    here = Path(__file__).resolve().parent
    for rel in DEVICE_SIDE:
        yield "edgewise/device_tests/" + rel, here / rel
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


_built: Dict[tuple, bytes] = {}


def build_payload() -> bytes:
    """The deployment zip, byte-for-byte reproducible from the same sources.

    Built once per process for a given state of the source files (their names, sizes and
    modification times), since every benchmark deploys it.
    """
    sources = sorted(_payload_sources())
    key = tuple((name, None if src is None else (src.stat().st_mtime_ns, src.stat().st_size)) for name, src in sources)
    if key not in _built:
        _built.clear()
        _built[key] = _zip(sources)
    return _built[key]


def _zip(sources) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, src in sources:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the host is
            zf.writestr(info, b"" if src is None else src.read_bytes(), compresslevel=9)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Deployment(Record):
    """Where the payload and the model are on the device, and whether this call uploaded them."""

    cache_dir: str
    payload_path: str
    payload_sha256: str
    payload_uploaded: bool
    model_path: str
    model_sha256: str
    model_uploaded: bool


_DEFAULT_CACHE = '"${XDG_CACHE_HOME:-$HOME/.cache}/edgewise"'


def _probe(conn: BaseConnector, cache_dir: Optional[str], relative: Tuple[str, ...]) -> Tuple[str, Tuple[bool, ...]]:
    """One round trip: the cache folder as an absolute path, and which of `relative` it holds.

    Files arrive under their final name only when complete (put_file renames a temporary file),
    so a file that exists is a whole one.
    """
    q = shlex.quote
    parts = [f"c={q(cache_dir) if cache_dir else _DEFAULT_CACHE}", 'printf "cache=%s\\n" "$c"']
    parts += [f'if [ -f "$c"/{q(rel)} ]; then echo have{i}; fi' for i, rel in enumerate(relative)]
    res = conn.run_shell_command("; ".join(parts), timeout=60)
    lines = res.stdout.splitlines()
    cache = next((l[len("cache="):] for l in lines if l.startswith("cache=")), "")
    if not res.ok or not cache.startswith("/"):
        raise DeviceError(f"{conn.name}: cannot find a cache folder on the device ({res.describe()})")
    return cache, tuple(f"have{i}" in lines for i in range(len(relative)))


def deploy(conn: BaseConnector, model_path: str, cache_dir: Optional[str] = None) -> Deployment:
    """Put the payload and the model in the device's content-addressed cache (skip what is there)."""
    payload = build_payload()
    payload_sha = sha256_bytes(payload)
    model_sha = sha256_file(model_path)
    payload_rel = posixpath.join(payload_sha[:HASH_PREFIX], PAYLOAD_NAME)
    # The model keeps its file name, so errors raised on the device still name it.
    model_rel = posixpath.join(model_sha[:HASH_PREFIX], os.path.basename(model_path))
    cache, (have_payload, have_model) = _probe(conn, cache_dir, (payload_rel, model_rel))
    payload_remote = posixpath.join(cache, payload_rel)
    model_remote = posixpath.join(cache, model_rel)
    if not have_payload:
        with tempfile.TemporaryDirectory(prefix="edgewise-deploy-") as tmp:
            local_payload = os.path.join(tmp, PAYLOAD_NAME)
            with open(local_payload, "wb") as f:
                f.write(payload)
            conn.put_file(local_payload, payload_remote)
    if not have_model:
        conn.put_file(model_path, model_remote)
    return Deployment(cache, payload_remote, payload_sha, not have_payload, model_remote, model_sha, not have_model)


def agent_command(python: str, payload_path: str, agent_args) -> str:
    """The shell command that starts the agent from the payload, every word quoted."""
    from .agent import BOOTSTRAP

    words = [python, "-u", "-c", BOOTSTRAP, payload_path, *[str(a) for a in agent_args]]
    return " ".join(shlex.quote(w) for w in words)
