"""Latency statistics, the SQLite results store, comparisons and reports, on results of real local runs."""
from __future__ import annotations

import dataclasses
import json
import math
import random
import sqlite3

import numpy as np
import pytest

from edgewise.device_tests.bench import BenchResult, BenchSettings, run_benchmark
from edgewise.device_tests.compare import compare
from edgewise.device_tests.results import ResultStore, load_result, save_result
from edgewise.device_tests.stats import LatencyStats, drift_noise, percentile


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


def test_drift_noise_sees_a_slow_drift_that_resampling_misses():
    rng = np.random.default_rng(3)
    steady = (1e6 + rng.normal(0, 1e4, 2000)).astype(int)
    drifting = (steady * np.linspace(1.0, 1.3, 2000)).astype(int)  # the machine got 30% slower over the run
    assert drift_noise(list(steady)) < 0.01 < 0.05 < drift_noise(list(drifting))
    assert drift_noise(list(steady[:100])) is None


@pytest.fixture(scope="module")
def two_results(tiny_tflite):
    """Two runs of the same model: LiteRT's default (XNNPACK) kernels, then its builtin kernels."""
    s1 = BenchSettings(runs=300, warmup=2, idle_s=0.1)
    s2 = BenchSettings(runs=300, warmup=2, backend="litert-builtin", idle_s=0.1)
    return run_benchmark(tiny_tflite, "local", s1), run_benchmark(tiny_tflite, "local", s2)


def _scaled(r: BenchResult, factor: float) -> BenchResult:
    lat = tuple(int(x * factor) for x in r.latencies_ns)
    return dataclasses.replace(r, latencies_ns=lat, latency_ms=LatencyStats.from_ns(lat))


@pytest.mark.host
def test_store_saves_lists_loads_and_exports(two_results, tmp_path):
    store = ResultStore(tmp_path / "db" / "results.sqlite")
    assert store.list() == [] and not store.path.exists()  # listing creates nothing
    ids = [store.save(r) for r in two_results] + [store.save(two_results[0])]
    assert ids == [1, 2, 3]
    entries = store.list()
    assert [e.id for e in entries] == ids and {e.backend for e in entries} == {"litert"}
    assert [e.n for e in entries] == [r.latency_ms.n for r in (*two_results, two_results[0])]
    assert store.load(2) == two_results[1] and store.load("last") == two_results[0]
    assert [e.id for e in store.list(model="tiny_mlp.tflite")] == ids and store.list(device="elsewhere") == []
    with pytest.raises(FileNotFoundError):
        store.load(99)
    # any SQLite client reads the table; the document holds the raw samples
    with sqlite3.connect(str(store.path)) as db:
        doc = json.loads(db.execute("SELECT document FROM results WHERE id = 1").fetchone()[0])
    assert doc["latencies_ns"] == list(two_results[0].latencies_ns) and doc["schema"] == 2


@pytest.mark.host
def test_json_files_import_including_schema_1(two_results, tmp_path):
    r = two_results[0]
    today = save_result(r, tmp_path / "today.json")
    old = r.to_dict()
    old["schema"] = 1
    del old["memory"], old["peak_rss_bytes"], old["power"], old["energy"], old["flags"]
    old["deployment"] = {k.replace("payload_", "bundle_"): v for k, v in old["deployment"].items()}
    old.update(peak_rss_bytes=r.memory.peak_rss_bytes, rss_before_load_bytes=r.memory.rss_before_load_bytes,
               rss_after_load_bytes=r.memory.rss_after_load_bytes)
    for k in ("prefix", "venv", "libraries", "numpy_path"):
        del old["agent"][k]
    (tmp_path / "old.json").write_text(json.dumps(old))
    store = ResultStore(tmp_path / "r.sqlite")
    a, b = store.import_json(today), store.import_json(tmp_path / "old.json")
    assert store.load(a) == r
    migrated = store.load(b)
    assert migrated.deployment == r.deployment and migrated.memory.peak_rss_bytes == r.memory.peak_rss_bytes
    assert migrated.latencies_ns == r.latencies_ns and migrated.energy is None


def test_load_rejects_what_is_not_a_result(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"model": "m"}')
    with pytest.raises(ValueError, match="not a benchmark result"):
        load_result(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="invalid JSON"):
        load_result(bad)
    not_db = tmp_path / "not.sqlite"
    not_db.write_text("hello")
    with pytest.raises(ValueError, match="not an edgewise results store"):
        ResultStore(not_db).list()


@pytest.mark.host
def test_compare_flags_only_changes_beyond_noise(two_results):
    a, b = two_results
    other_backend = compare(a, b)
    assert other_backend.verdict == "not comparable" and "backend options differ" in other_backend.notes[0]
    assert other_backend.p50_ratio == pytest.approx(b.latency_ms.p50 / a.latency_ms.p50)
    same = compare(a, a)
    assert same.p50_ratio == 1.0 and same.comparable and same.verdict == "within noise" and not same.regression
    slower = compare(a, _scaled(a, 1.5))
    assert slower.verdict == "slower" and slower.regression and "REGRESSION" in str(slower)
    assert compare(a, _scaled(a, 0.6)).verdict == "faster"
    # a shuffled copy is the same distribution: its drift is not a change
    rng = random.Random(0)
    shuffled = list(a.latencies_ns)
    rng.shuffle(shuffled)
    assert compare(a, dataclasses.replace(a, latencies_ns=tuple(shuffled))).verdict == "within noise"
    moved = dataclasses.replace(a, device_facts=dataclasses.replace(a.device_facts, cpu_model="Cortex-A76"))
    assert "devices differ: cpu_model" in compare(a, moved).notes[0]
    threads = dataclasses.replace(a, settings=dataclasses.replace(a.settings, num_threads=2))
    assert compare(a, threads).notes == ("settings differ: num_threads None vs 2",)
    assert json.dumps(slower.to_dict())


@pytest.mark.host
def test_reports(two_results, tmp_path):
    from edgewise.device_tests import report

    s = report.summary(two_results[0])
    assert set(s["latency_ms"]) == {"p50", "p90", "p99", "mean", "std", "min", "n"}
    assert s["peak_rss_mb"] == two_results[0].peak_rss_bytes / 2**20
    assert s["energy_mj_per_inference"] is None and s["power_source"] is None and "no power source" in s["energy_note"]
    md = report.markdown(two_results)
    assert md.count("\n| local |") == 2 and "tiny_mlp.tflite" in md
    page = report.to_html(two_results)
    assert page.count("<img alt='latency histogram and CDF' src='data:image/png;base64,") == 2
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched
    for k in ("peak_rss_bytes", "pss_after_run_bytes", "weight_bytes"):
        assert k in page
