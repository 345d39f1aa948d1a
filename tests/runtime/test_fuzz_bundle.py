"""Fuzzing the bundle reader: raw mutants, and mutants re-sealed as an attacker would re-seal them.

Contract of `edgewise.runtime.bundle.decode_model` on any bytes: return the model, or raise
BundleError (a ModelFormatError) naming the member at fault. Three campaigns, each in a child
process under RLIMIT_AS = 1 GiB (an allocation a hostile size would cause fails loudly there) and
a time limit:

- raw: AFL-style mutants of the whole file (conformance/mutations.py): the hashes must catch them;
- payload: a member's bytes mutated and every hash recomputed, so the rANS, table, codebook and
  layout checks are what stands between the bytes and NumPy;
- manifest: JSON fields set to huge, negative, off-by-a-few or ill-typed values and re-sealed.

Failures are reported with the campaign and seed, which reproduce them (fuzz_child.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .bundle.test_container import _bundle

CHILD = Path(__file__).parent / "bundle" / "fuzz_child.py"
LIMIT_BYTES = 1 << 30
CAMPAIGNS = {"raw": 1500, "payload": 800, "manifest": 800}  # ~30 s in all on 2 busy cores


def _run(base: Path, campaign: str, count: int) -> dict:
    r = subprocess.run([sys.executable, str(CHILD), str(base), campaign, "0", str(count), str(LIMIT_BYTES)],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"{campaign} campaign died ({r.returncode}):\n{r.stderr[-3000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("campaign", list(CAMPAIGNS))
def test_bundle_reader_refuses_or_decodes_every_mutant(tmp_path, campaign):
    _, blob, _ = _bundle()
    base = tmp_path / "base.ewb"
    base.write_bytes(blob)
    out = _run(base, campaign, CAMPAIGNS[campaign])
    assert out["cases"] == CAMPAIGNS[campaign]
    failures = out["failures"]
    assert not failures, f"{len(failures)} {campaign} mutants broke the reader; first: {failures[0]}"
    assert out["refused"] > out["cases"] // 2  # the campaign reaches the checks, not only the happy path
