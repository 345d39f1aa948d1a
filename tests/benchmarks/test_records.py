"""The benchmark scripts' settings and result records round-trip through JSON.

Each script pins BLAS threads in os.environ when imported, so each is imported in a child process.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

CASES = {
    "sparse_speed": ["Settings(min_count=7, min_duration_ms=12.5)",
                     "Latency('dense', 50, 1.5, 2.0, 3.25)"],
    "runtime_speed": ["Settings(min_query_count=3, min_duration_ms=10, max_duration_ms=99)",
                      "Result('numpy', 20, 0.5, 0.75, 1.0)"],
    "runtime_footprint": ["Footprint('numpy', 41.0, 3.5, 28.25, 5)"],
}

_CHILD = """
import json, sys
sys.path.insert(0, {folder!r})
import {module} as m
for text in {cases!r}:
    record = eval('m.' + text)
    back = type(record).from_dict(json.loads(json.dumps(record.to_dict())))
    assert back == record, (record, back)
    try:
        type(record).from_dict(dict(record.to_dict(), surplus=1))
    except ValueError as e:
        assert type(record).__name__ in str(e) and 'surplus' in str(e), e
    else:
        raise AssertionError('an unknown key was accepted')
print('ok', len({cases!r}))
"""


@pytest.mark.parametrize("module", sorted(CASES))
def test_benchmark_records_round_trip(module):
    code = _CHILD.format(folder=str(BENCHMARKS), module=module, cases=CASES[module])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=BENCHMARKS)
    assert r.returncode == 0 and r.stdout.split() == ["ok", str(len(CASES[module]))], r.stderr[-3000:]
