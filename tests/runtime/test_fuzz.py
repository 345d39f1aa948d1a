"""Fuzzing both model readers and load-time validators with mutants of real models.

The bases are the small models checked in under tests/runtime/fixtures/ (the same bytes on every
machine, so a finding reproduces anywhere) and the conformance models converted on this machine
(which follow the converters' versions and add variety).

Contract of `read_model` then `validate` (edgewise.runtime.tflite / .onnx) on any bytes: return or
raise ModelFormatError. Anything else (IndexError, struct.error, UnicodeDecodeError, MemoryError,
RecursionError, ...) is a bug and is reported with the base file and the mutation seed, which
reproduce it: `mutate(open(base, "rb").read(), seed)` (conformance/mutations.py).

Mutants that parse then go through `load(..., backend="numpy")` and one `run()` in child processes
(conformance/fuzz_child.py) under RLIMIT_AS = 2 GiB, so that a segfault or an attempt to allocate
gigabytes shows up as a failed case instead of taking pytest down. Allowed outcomes of a run on a
mutant: success, or one of the runtime's own errors, all EdgewiseRuntimeError subclasses:
  ModelFormatError      - the file is inconsistent (a shape that does not fit, a bad index);
  UnsupportedOpError    - a mutated opcode or attribute names an op or variant the backend lacks;
  InputError            - the declared inputs cannot take the arrays the harness built from them;
  BackendUnavailableError.
Every other exception, a death by signal, or a case that runs past 20 s is a failure.

A sweep (test_geometry_sweep_never_crashes) sets every integer option or attribute of the
checked-in models to extreme values in turn: the class of the issue-6 finding (a CONV_2D stride of
-2**31 made the interpreter ask NumPy for 256 GiB), which random byte mutations rarely hit exactly.

Finally, LiteRT trusts its input: `load()` must validate with our reader before LiteRT sees the
bytes. A spy around ai_edge_litert's Interpreter proves that no rejected mutant reaches it, and
the accepted mutants are run through LiteRT in a child process to check that what the reader
lets through does not crash it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from edgewise.runtime import ModelFormatError, load
from edgewise.runtime.onnx import read_model as read_onnx
from edgewise.runtime.onnx.validate import validate as validate_onnx
from edgewise.runtime.tflite import read_model as read_tflite
from edgewise.runtime.tflite.validate import validate as validate_tflite

from .conformance.mutations import KINDS, mutate

FIXTURES = Path(__file__).parent / "fixtures"
# (checked-in file, mutants): seeds 0..n-1 of these bytes give the same mutants on every machine.
FIXED_BASES = {
    "tflite": [("tiny_cnn.float32.tflite", 1200), ("tiny_cnn.int8.tflite", 1200)],
    "onnx": [("tiny_cnn.onnx", 1600)],
}
# (model, variant, mutants) converted on this machine: mostly small files, so that most mutations
# land in structure, not weights. With the fixed bases, 5800 + 4000 cases read and validated in about
# 7 s + 6 s (2 cores, measured beside the reader-only campaign of 9750 + 6000 cases it replaced:
# 10 s + 6 s); the geometry sweep below adds about 4 s of child processes.
BASES = {
    "tflite": [("demo_cnn", "float32", 800), ("demo_cnn", "int8", 800), ("mlp", "dynamic", 800),
               ("ds_cnn", "int8", 500), ("transformer", "int8", 400), ("mobilenet_v2", "int8", 100)],
    "onnx": [("demo_cnn", "float32", 800), ("demo_cnn", "qdq", 500), ("mlp", "qdq", 500),
             ("ds_cnn", "qdq", 200), ("transformer", "float32", 400)],
}
READERS = {"tflite": read_tflite, "onnx": read_onnx}
VALIDATORS = {"tflite": validate_tflite, "onnx": validate_onnx}
CHILD_CASES = 800  # accepted mutants per format that go through load + run in child processes
FIXED_CHILD_SHARE = 3  # ... of which one in this many comes from the checked-in bases
LIMIT_BYTES = 2 << 30
CHILD = Path(__file__).parent / "conformance" / "fuzz_child.py"


@dataclass(frozen=True)
class Campaign:
    """What one reader did with every mutant: the accepted ones (kept for the run phase) and failures."""

    accepted: Tuple[Tuple[str, int, bytes], ...]  # (base label, seed, mutant): checked-in bases first
    fixed_accepted: int  # how many of `accepted` come from the checked-in bases
    rejected: Tuple[Tuple[str, int, bytes, str], ...]  # ... + the error message
    failures: Tuple[str, ...]
    kinds_rejected: Dict[str, int]
    seconds: float


def _run_campaign(store, fmt: str) -> Campaign:
    accepted: List[Tuple[str, int, bytes]] = []
    rejected: List[Tuple[str, int, bytes, str]] = []
    failures: List[str] = []
    kinds_rejected: Dict[str, int] = {}
    reader, validator = READERS[fmt], VALIDATORS[fmt]
    t0 = time.perf_counter()
    bases = [(FIXTURES / name, count) for name, count in FIXED_BASES[fmt]]
    bases += [(store.path(name, fmt, variant), count) for name, variant, count in BASES[fmt]]
    fixed_accepted = 0
    for k, (base, count) in enumerate(bases):
        if k == len(FIXED_BASES[fmt]):
            fixed_accepted = len(accepted)
        data = base.read_bytes()
        label = base.name
        for seed in range(count):
            mutant, how = mutate(data, seed)
            source = f"<fuzz {label} seed={seed}>"
            try:
                validator(reader(mutant, source), source)
            except ModelFormatError as e:
                rejected.append((label, seed, mutant, str(e)))
                kinds_rejected[how.kind] = kinds_rejected.get(how.kind, 0) + 1
            except Exception as e:  # noqa: BLE001 - the finding is that it is not a ModelFormatError
                failures.append(f"{label} {how} -> {type(e).__name__}: {' '.join(str(e).split())[:200]}")
            else:
                accepted.append((label, seed, mutant))
    return Campaign(tuple(accepted), fixed_accepted, tuple(rejected), tuple(failures), kinds_rejected,
                    time.perf_counter() - t0)


@pytest.fixture(scope="module")
def campaigns(model_store):
    return {fmt: _run_campaign(model_store, fmt) for fmt in BASES}


@pytest.mark.parametrize("fmt", list(BASES))
def test_reader_parses_or_raises_model_format_error(campaigns, fmt):
    c = campaigns[fmt]
    total = len(c.accepted) + len(c.rejected) + len(c.failures)
    assert not c.failures, (
        f"{len(c.failures)} of {total} {fmt} mutants raised something other than ModelFormatError "
        "(reproduce with conformance.mutations.mutate(base_bytes, seed)):\n" + "\n".join(c.failures[:30])
    )
    print(f"\nfuzz {fmt}: {total} mutants, {len(c.accepted)} accepted ({c.fixed_accepted} of the checked-in "
          f"bases), {len(c.rejected)} rejected, {len(c.failures)} failures, {c.seconds:.1f} s")
    # The campaign must exercise both outcomes, or the mutations have stopped doing their job.
    assert len(c.rejected) > total // 10 and len(c.accepted) > 0, (len(c.accepted), len(c.rejected))
    assert set(c.kinds_rejected) >= set(KINDS) - {"bitflip", "bytes", "splice"}, c.kinds_rejected


def _run_children(cases: List[Tuple[str, bytes]], fmt: str, backend: str, workdir: Path, allowed_extra=(),
                  child: Path = CHILD) -> List[str]:
    """Run every (label, bytes) case through fuzz_child.py; restart after a crash. Returns the failures."""
    paths = []
    for i, (_, data) in enumerate(cases):
        p = workdir / f"case{i:05d}.{fmt}"
        p.write_bytes(data)
        paths.append(str(p))
    manifest = workdir / "manifest.json"
    manifest.write_text(json.dumps({"backend": backend, "limit_bytes": LIMIT_BYTES, "cases": paths,
                                       "allowed_extra": list(allowed_extra)}))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    failures: List[str] = []
    start = 0
    while start < len(cases):
        proc = subprocess.run([sys.executable, str(child), str(manifest), str(start)], capture_output=True,
                              text=True, env=env, timeout=600)
        last_begin, last_end = -1, -1
        for line in proc.stdout.splitlines():
            word, _, rest = line.partition(" ")
            idx_s, _, result = rest.partition(" ")
            if word == "BEGIN":
                last_begin = int(idx_s)
            elif word == "END":
                last_end = int(idx_s)
                if result.startswith("BAD"):
                    failures.append(f"{cases[last_end][0]}: {result}")
        if last_end == len(cases) - 1:
            break
        if last_begin < 0:
            raise AssertionError(f"fuzz child did not start (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        rc = proc.returncode
        how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with {rc}"
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])[:300]
        failures.append(f"{cases[last_begin][0]}: process {how} ({tail})")
        start = last_begin + 1
    return failures


def test_harness_reports_a_crash_and_carries_on(tmp_path):
    """The run phase can fail: a child that dies by SIGSEGV on case 1 and raises on case 3 is caught."""
    fake = tmp_path / "fake_child.py"
    fake.write_text(
        "import json, os, signal, sys\n"
        "cases = json.load(open(sys.argv[1]))['cases']\n"
        "for i in range(int(sys.argv[2]), len(cases)):\n"
        "    print('BEGIN', i, flush=True)\n"
        "    if i == 1:\n"
        "        os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    print('END', i, 'BAD ValueError: boom' if i == 3 else 'OK', flush=True)\n"
    )
    cases = [(f"case {i}", b"x") for i in range(5)]
    failures = _run_children(cases, "tflite", "numpy", tmp_path, child=fake)
    assert len(failures) == 2, failures
    assert failures[0].startswith("case 1: process killed by SIGSEGV"), failures
    assert failures[1] == "case 3: BAD ValueError: boom", failures


def _sample(items, n: int) -> list:
    step = max(1, len(items) // n)
    return list(items[::step][:n])


def _child_sample(c: Campaign, n: int) -> list:
    """n accepted mutants, one in FIXED_CHILD_SHARE of them from the checked-in bases."""
    fixed = _sample(c.accepted[:c.fixed_accepted], n // FIXED_CHILD_SHARE)
    return fixed + _sample(c.accepted[c.fixed_accepted:], n - len(fixed))


@pytest.mark.parametrize("fmt", list(BASES))
def test_accepted_mutants_load_and_run_without_crashing(campaigns, fmt, tmp_path):
    cases = [(f"{label} seed={seed}", m) for label, seed, m in _child_sample(campaigns[fmt], CHILD_CASES)]
    assert cases
    failures = _run_children(cases, fmt, "numpy", tmp_path)
    assert not failures, f"{len(failures)} of {len(cases)} accepted {fmt} mutants failed in load/run:\n" + "\n".join(
        failures[:30])


def test_litert_never_sees_a_rejected_flatbuffer(campaigns, model_store, monkeypatch):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    real = litert.Interpreter
    handed: List[int] = []

    def spy(*args, **kwargs):
        handed.append(len(kwargs.get("model_content") or b""))
        return real(*args, **kwargs)

    monkeypatch.setattr(litert, "Interpreter", spy)
    load(model_store.path("demo_cnn", "tflite", "int8"), backend="litert")
    assert len(handed) == 1, "the spy is not on the path load() takes to LiteRT; this test would prove nothing"
    handed.clear()
    rejected = _sample(campaigns["tflite"].rejected, 400)
    for label, seed, mutant, _ in rejected:
        with pytest.raises(ModelFormatError) as err:
            load(mutant, backend="litert")
        if mutant[4:8] != b"TFL3":
            continue  # detect_format refuses it first: not a TFLite file at all
        try:
            validate_tflite(read_tflite(mutant, "<bytes>"), "<bytes>")
        except ModelFormatError as reader_err:
            assert str(err.value) == str(reader_err), f"{label} seed={seed}: load's error is not the reader's"
        else:
            raise AssertionError(f"{label} seed={seed}: rejected once, accepted the second time")
    assert not handed, f"LiteRT was handed {len(handed)} files the reader rejects"


def test_litert_survives_what_the_reader_accepts(campaigns, tmp_path):
    """Accepted mutants through LiteRT's builtin kernels, in child processes: a crash is a reader gap.

    LiteRT's RuntimeError ("Node number 6 (RESHAPE) failed to prepare") is its own clean refusal and
    allowed here; a signal, a MemoryError or any other exception means the reader let through a file
    LiteRT cannot take.
    """
    pytest.importorskip("ai_edge_litert")
    cases = [(f"{label} seed={seed}", m) for label, seed, m in _child_sample(campaigns["tflite"], 300)]
    failures = _run_children(cases, "tflite", "litert-builtin", tmp_path, allowed_extra=("RuntimeError",))
    assert not failures, f"{len(failures)} of {len(cases)} accepted mutants failed in LiteRT:\n" + "\n".join(failures[:30])


SWEEP_VALUES = (-2 ** 31, -1, 0, 2 ** 31 - 1, 1 << 20, 3)


def _tflite_option_sweep() -> List[Tuple[str, bytes]]:
    """Every int32 option stored in the checked-in TFLite fixtures, set in turn to each SWEEP_VALUES."""
    from edgewise.runtime.tflite import schema

    from .tflite.patching import option_offset, set_i32

    cases = []
    for name, _ in FIXED_BASES["tflite"]:
        data = (FIXTURES / name).read_bytes()
        for op in read_tflite(data, name).main.operators:
            for field, _, kind, _ in schema.OPTION_FIELDS.get(op.options_type, ()):
                if kind != "i32":
                    continue
                try:
                    pos = option_offset(data, op.index, field)
                except LookupError:
                    continue  # left at its default, so not stored in the file
                cases += [(f"{name} op {op.index} {op.op} {field}={v}", set_i32(data, pos, v)) for v in SWEEP_VALUES]
    return cases


def _onnx_attribute_sweep() -> List[Tuple[str, bytes]]:
    """Every integer attribute of the checked-in ONNX fixture (each element of a list in turn), set
    to each SWEEP_VALUES."""
    onnx = pytest.importorskip("onnx")
    base = onnx.load_from_string((FIXTURES / "tiny_cnn.onnx").read_bytes())
    cases = []
    for n, node in enumerate(base.graph.node):
        for a, attr in enumerate(node.attribute):
            slots = [None] if attr.type == onnx.AttributeProto.INT else range(len(attr.ints))
            if attr.type not in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS):
                continue
            for k in slots:
                for v in SWEEP_VALUES:
                    m = onnx.ModelProto()
                    m.CopyFrom(base)
                    target = m.graph.node[n].attribute[a]
                    if k is None:
                        target.i = v
                    else:
                        target.ints[k] = v
                    label = f"tiny_cnn.onnx node {node.name} {attr.name}{'' if k is None else f'[{k}]'}={v}"
                    cases.append((label, m.SerializeToString()))
    return cases


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_geometry_sweep_never_crashes(fmt, tmp_path):
    """The fuzz finding of issue 6 generalised: every integer option or attribute of the checked-in
    models (strides, dilations, filter sizes, axes, ...) set to extreme values, loaded and run in
    child processes under the 2 GiB address-space limit. A clean refusal is fine; a MemoryError, a
    signal or any other exception is not."""
    cases = _tflite_option_sweep() if fmt == "tflite" else _onnx_attribute_sweep()
    assert len(cases) > 60, len(cases)
    failures = _run_children(cases, fmt, "numpy", tmp_path)
    assert not failures, f"{len(failures)} of {len(cases)} sweep cases failed:\n" + "\n".join(failures[:30])
