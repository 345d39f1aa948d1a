"""The report of an optimize() run: report.json (the data), report.html (for people), a text table (the CLI)."""
from __future__ import annotations

import json
import os

from .schema import ArtifactReport, Baseline, Benchmark, Latency, Report, Timing
from .text import summary_table


def write_json(report: Report, path: "str | os.PathLike") -> None:
    """Write report.json atomically."""
    from ..fileio import write_text_atomic

    write_text_atomic(path, json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n")


def read_json(path: "str | os.PathLike") -> Report:
    """Read a report.json written by `write_json`."""
    with open(os.fspath(path), encoding="utf-8") as f:
        return Report.from_dict(json.load(f))


def write_html(report: Report, path: "str | os.PathLike") -> None:
    """Write the self-contained report.html atomically (needs matplotlib)."""
    from ..fileio import write_text_atomic
    from .html import render_html

    write_text_atomic(path, render_html(report))


__all__ = ["Report", "ArtifactReport", "Baseline", "Benchmark", "Latency", "Timing", "summary_table",
           "write_json", "read_json", "write_html"]
