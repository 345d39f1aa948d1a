"""`--device local` measures the environment edgewise runs in, and says which (issue 12)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from edgewise.device_tests.bench import BenchSettings, run_benchmark

pytestmark = pytest.mark.host  # the fixture model comes from TFLiteConverter, the ONNX one from onnx


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or os.path.join(sys.base_prefix, "bin", "python3")


def _venv(path: Path, site_dirs=()) -> Path:
    """A venv without pip; `site_dirs` are added to it (with their .pth files) by a .pth of its own."""
    subprocess.run([_base_python(), "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    if site_dirs:
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        lines = [f"import site; site.addsitedir({d!r})" for d in site_dirs]
        Path(purelib, "edgewise_test_env.pth").write_text("\n".join(lines) + "\n")
    return python


def test_local_bench_uses_edgewise_own_interpreter_not_python3_on_path(tiny_tflite, tmp_path):
    # `python3` first on PATH has no NumPy: the old default (--python python3) failed, or silently
    # measured another interpreter where that one had NumPy.
    bare = _venv(tmp_path / "bare")
    assert subprocess.run([str(bare.parent / "python3"), "-c", "import numpy"], capture_output=True).returncode != 0
    # edgewise itself runs in another venv; its packages (NumPy, edgewise, LiteRT) come from this test's environment
    env_python = _venv(tmp_path / "edgewise env", site_dirs=[sysconfig.get_path("purelib")])
    out_json = tmp_path / "result.json"
    env = dict(os.environ, PATH=f"{bare.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(env_python), "-m", "edgewise.cli", "bench", str(tiny_tflite), "--device", "local", "--runs", "5",
         "--warmup", "1", "--min-duration", "0", "--json", str(out_json)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    agent = json.loads(out_json.read_text())["agent"]
    assert agent["python_executable"] == str(env_python)
    assert agent["venv"] == str(tmp_path / "edgewise env")
    assert agent["libraries"]["numpy"] == np.__version__
    summary = next(l for l in proc.stdout.splitlines() if l.startswith("python:"))
    assert str(env_python) in summary and f"venv {tmp_path / 'edgewise env'}" in summary
    assert f"numpy {np.__version__}" in summary


def test_explicit_python_still_wins_locally(tiny_tflite, tmp_path):
    bare = _venv(tmp_path / "bare")
    from edgewise.device_tests.errors import AgentError

    with pytest.raises(AgentError) as err:
        run_benchmark(tiny_tflite, device="local", settings=BenchSettings(runs=2, warmup=0), python=str(bare))
    assert err.value.kind == "NumpyMissing" and str(bare) in err.value.message


def _onnx_mlp(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
    return path


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
def test_local_backend_is_the_one_load_picks_in_process(kind, tiny_tflite, tmp_path):
    from edgewise.runtime import load

    model = tiny_tflite if kind == "tflite" else _onnx_mlp(tmp_path / "mm.onnx")
    expected = load(model).backend
    r = run_benchmark(model, device="local", settings=BenchSettings(runs=3, warmup=0))
    assert (r.backend["name"], r.backend["library"]) == (expected.name, expected.library)
    assert r.agent.python_executable == sys.executable and r.agent.prefix == sys.prefix
