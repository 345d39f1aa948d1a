"""Run conversions in a network namespace with no route, and cache what they wrote.

onnx2tf fetches calibration images from the internet unless prevented; running the whole
conversion under `unshare -n` (a fresh network namespace: loopback down, no route) makes any
fetch fail loudly, so a passing run proves nothing was downloaded. Runs take a minute or more
each on two cores, so the written file, the result JSON and the console output are cached under
`$EDGEWISE_TEST_CACHE` (default ~/.cache/edgewise-tests) keyed by everything that decides them:
the model and sample bytes, the arguments, the converters' source and the library versions.
Tests re-check cached files against onnxruntime, so a stale cache cannot hide a wrong file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    returncode: int
    output: str
    out: Optional[Path]
    result: Optional[dict]


def require_netns() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to run the conversion without network")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -n needs root (or user namespaces): cannot prove the conversion stays offline")


def _key(files: List[Path], args: List[str]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    h.update(json.dumps(args).encode())
    for src in sorted((ROOT / "converters").glob("*.py")):
        h.update(src.read_bytes())
    for dist in ("tensorflow", "onnx2tf", "onnx", "onnxruntime", "torch"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            pass
    return h.hexdigest()[:20]


def cache_root() -> Path:
    root = os.environ.get("EDGEWISE_TEST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgewise-tests")
    return Path(root) / "converters"


def offline_cli(model: Path, out_name: str, args: List[str], inputs: List[Path]) -> Run:
    """`edgewise convert MODEL --out <cache>/OUT_NAME ARGS` under `unshare -n`, cached on success and failure."""
    require_netns()
    folder = cache_root() / _key([model] + inputs, [out_name] + args)
    done = folder / "run.json"
    if not done.exists():
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cmd = ["unshare", "-n", sys.executable, "-m", "edgewise.cli", "convert", str(model), "--out",
               str(tmp / out_name), "--json", str(tmp / "result.json"), "--log", str(tmp / "convert.log")] + args
        env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
        (tmp / "run.json").write_text(json.dumps({"returncode": proc.returncode,
                                                  "output": proc.stdout + proc.stderr}))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    run = json.loads(done.read_text())
    out = folder / out_name
    result = json.loads((folder / "result.json").read_text()) if (folder / "result.json").exists() else None
    return Run(run["returncode"], run["output"], out if out.exists() else None, result)


def offline_python(code: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    """Run a Python snippet (with the repository on the path) under `unshare -n`; not cached."""
    require_netns()
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    return subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=str(ROOT))
