"""A folder of benchmark results (one JSON file each) and the comparison of two results.

    store = ResultStore("results")
    path = store.save(result)
    for entry in store.list(): print(entry.name, entry.device, entry.p50_ms)
    print(compare(store.load(old), store.load(new)))
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import List, Optional, Union

from edgewise.fileio import write_json_atomic
from .bench import BenchResult


def save_result(result: BenchResult, path: Union[str, Path]) -> Path:
    write_json_atomic(path, result.to_dict())
    return Path(path)


def load_result(path: Union[str, Path]) -> BenchResult:
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f"{path}: not a benchmark result (invalid JSON: {e})") from None
    try:
        return BenchResult.from_dict(data)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a benchmark result (missing or bad field {e})") from None


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:limit] or "x"


@dataclass(frozen=True)
class StoredResult:
    """One line of `ResultStore.list()`: enough to pick a result without loading every sample."""

    name: str
    path: str
    started_at: str
    device: str
    model: str
    backend: str
    p50_ms: Optional[float]
    n: int
    partial: bool

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ResultStore:
    """Results as `<root>/<UTC time>_<device>_<model>_<sha8>.json`, written atomically."""

    def __init__(self, root: Union[str, Path]):
        self.root = Path(root)

    def save(self, result: BenchResult) -> Path:
        stamp = re.sub(r"[^0-9T]", "", result.started_at.split("+")[0])
        base = "_".join([stamp, _slug(result.device.replace("ssh://", "")), _slug(Path(result.model).stem),
                         result.model_sha256[:8]])
        path = self.root / f"{base}.json"
        i = 1
        while path.exists():
            i += 1
            path = self.root / f"{base}-{i}.json"
        return save_result(result, path)

    def paths(self) -> List[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*.json") if not p.name.startswith("."))

    def list(self) -> List[StoredResult]:
        """Every result in the folder, oldest first (by start time, then name)."""
        out = []
        for p in self.paths():
            r = load_result(p)
            p50 = r.latency_ms.p50
            out.append(StoredResult(p.stem, str(p), r.started_at, r.device, os.path.basename(r.model),
                                    str(r.backend.get("name", "")), None if math.isnan(p50) else p50,
                                    r.latency_ms.n, r.partial))
        return sorted(out, key=lambda e: (e.started_at, e.name))

    def load(self, name_or_path: Union[str, Path]) -> BenchResult:
        """A result by file path, or by its name in this store (with or without .json)."""
        p = Path(name_or_path)
        if not p.exists():
            p = self.root / (p.name if p.suffix == ".json" else p.name + ".json")
        if not p.exists():
            raise FileNotFoundError(f"no result {name_or_path!r} in {self.root}")
        return load_result(p)


def _ratio(new: Optional[float], old: Optional[float]) -> Optional[float]:
    if new is None or old is None or old == 0 or math.isnan(new) or math.isnan(old):
        return None
    return new / old


@dataclass(frozen=True)
class Comparison:
    """candidate / baseline for each statistic: below 1.0 the candidate is faster (or smaller).

    `comparable` is False, with the reasons in `notes`, when the two runs differ in device,
    backend or settings, or one is partial: the ratio is then not a like-for-like speed-up.
    """

    baseline: str
    candidate: str
    p50_ratio: Optional[float]
    p90_ratio: Optional[float]
    p99_ratio: Optional[float]
    mean_ratio: Optional[float]
    peak_rss_ratio: Optional[float]
    same_model: bool
    comparable: bool
    notes: tuple = ()

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["notes"] = list(self.notes)
        return d

    def __str__(self) -> str:
        def fmt(r):
            return "n/a" if r is None else f"{r:.3f}x"

        text = (f"{self.candidate} vs {self.baseline}: p50 {fmt(self.p50_ratio)}, p90 {fmt(self.p90_ratio)}, "
                f"p99 {fmt(self.p99_ratio)}, mean {fmt(self.mean_ratio)}, peak RSS {fmt(self.peak_rss_ratio)}")
        return text + ("" if self.comparable else " (not like-for-like: " + "; ".join(self.notes) + ")")


def compare(baseline: BenchResult, candidate: BenchResult) -> Comparison:
    notes = []
    if baseline.device != candidate.device:
        notes.append(f"devices differ ({baseline.device} vs {candidate.device})")
    if baseline.backend.get("name") != candidate.backend.get("name"):
        notes.append(f"backends differ ({baseline.backend.get('name')} vs {candidate.backend.get('name')})")
    if list(baseline.backend.get("options", [])) != list(candidate.backend.get("options", [])):
        notes.append(f"backend options differ ({baseline.backend.get('options')} vs "
                     f"{candidate.backend.get('options')})")
    if baseline.settings.num_threads != candidate.settings.num_threads:
        notes.append("thread counts differ")
    for r, label in ((baseline, "baseline"), (candidate, "candidate")):
        if r.partial:
            notes.append(f"{label} is partial: {r.partial_reason}")
    b, c = baseline.latency_ms, candidate.latency_ms
    rss = _ratio(candidate.peak_rss_bytes, baseline.peak_rss_bytes)
    return Comparison(
        baseline=os.path.basename(baseline.model),
        candidate=os.path.basename(candidate.model),
        p50_ratio=_ratio(c.p50, b.p50),
        p90_ratio=_ratio(c.p90, b.p90),
        p99_ratio=_ratio(c.p99, b.p99),
        mean_ratio=_ratio(c.mean, b.mean),
        peak_rss_ratio=rss,
        same_model=baseline.model_sha256 == candidate.model_sha256,
        comparable=not notes,
        notes=tuple(notes),
    )
