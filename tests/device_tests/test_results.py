"""Latency statistics, the results folder and comparisons, on results of real local runs."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from edgewise.device_tests.bench import BenchSettings, run_benchmark
from edgewise.device_tests.results import ResultStore, compare, load_result
from edgewise.device_tests.stats import LatencyStats, percentile


def test_percentile_is_nearest_rank():
    rng = random.Random(1)
    for n in (1, 2, 7, 100, 1001):
        xs = sorted(rng.randrange(1, 10**6) for _ in range(n))
        for p in (50, 90, 99):
            got = percentile(xs, p)
            # nearest rank: at least p% of the samples are <= it, and fewer than p% are < it
            assert sum(x <= got for x in xs) >= p / 100 * n > sum(x < got for x in xs) - 1e-9
            assert got == np.percentile(xs, p, method="inverted_cdf")
    s = LatencyStats.from_ns([3_000_000, 1_000_000, 2_000_000])
    assert (s.n, s.min, s.p50, s.max, s.mean) == (3, 1.0, 2.0, 3.0, 2.0)
    assert s.std == pytest.approx(np.std([1.0, 2.0, 3.0]))
    empty = LatencyStats.from_ns([])
    assert empty.n == 0 and empty.p50 is None and LatencyStats.from_dict(empty.to_dict()) == empty


@pytest.fixture(scope="module")
def two_results(tiny_tflite):
    """Two runs of the same model: LiteRT's default (XNNPACK) kernels, then its builtin kernels."""
    s1 = BenchSettings(runs=30, warmup=2)
    s2 = BenchSettings(runs=30, warmup=2, backend="litert-builtin")
    return run_benchmark(tiny_tflite, "local", s1), run_benchmark(tiny_tflite, "local", s2)


def test_store_saves_lists_and_loads(two_results, tmp_path):
    store = ResultStore(tmp_path / "results")
    assert store.list() == []
    paths = [store.save(r) for r in two_results] + [store.save(two_results[0])]
    assert len(set(paths)) == 3  # same second, same model: a suffix, never an overwrite
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(p.name for p in paths)
    entries = store.list()
    assert sorted(e.path for e in entries) == sorted(str(p) for p in paths)
    assert sorted(e.n for e in entries) == sorted(r.latency_ms.n for r in (*two_results, two_results[0]))
    assert {e.backend for e in entries} == {"litert"} and not any(e.partial for e in entries)
    assert store.load(paths[1]) == two_results[1] and store.load(paths[1].stem) == two_results[1]
    assert json.loads(paths[0].read_text())["latency_ms"]["p50"] == two_results[0].latency_ms.p50
    with pytest.raises(FileNotFoundError):
        store.load("nope")


def test_load_rejects_what_is_not_a_result(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"model": "m"}')
    with pytest.raises(ValueError, match="not a benchmark result"):
        load_result(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="invalid JSON"):
        load_result(bad)


def test_compare(two_results):
    a, b = two_results
    c = compare(a, b)
    assert c.p50_ratio == pytest.approx(b.latency_ms.p50 / a.latency_ms.p50)
    assert c.p99_ratio == pytest.approx(b.latency_ms.p99 / a.latency_ms.p99)
    assert c.peak_rss_ratio == pytest.approx(b.peak_rss_bytes / a.peak_rss_bytes)
    assert c.same_model and not c.comparable and "backend options differ" in c.notes[0]
    same = compare(a, a)
    assert same.p50_ratio == 1.0 and same.comparable and same.notes == ()
    assert "p50" in str(c) and json.dumps(c.to_dict())


@pytest.mark.parametrize("n", [200, 8000])  # the bootstrap, and its large-sample limit past 5000 samples
def test_confidence_intervals_cover_the_true_quantiles(n):
    """Exponential latencies (mean 1 ms): the 95% intervals hold the true values in ~95% of draws."""
    rng = np.random.default_rng(7)
    truth = {"p50": math.log(2), "p90": math.log(10), "mean": 1.0}
    hits = {k: 0 for k in truth}
    draws = 30
    for i in range(draws):
        s = LatencyStats.from_ns((rng.exponential(1.0, n) * 1e6).astype(int) + 1, seed=i)
        for k, v in truth.items():
            lo, hi = getattr(s, f"{k}_ci")
            hits[k] += lo <= v <= hi
    assert all(h >= 0.8 * draws for h in hits.values()), hits
    assert LatencyStats.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert s.too_few_for() == () and LatencyStats.from_ns([5, 6, 7]).too_few_for() == ("p90", "p99")
