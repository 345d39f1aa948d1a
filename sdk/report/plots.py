"""The report's two figures, drawn with matplotlib's Agg backend and returned as PNG bytes."""
from __future__ import annotations

import io
from typing import List

from .._extras import require
from .schema import Report


def _pyplot():
    matplotlib = require("matplotlib", "the HTML report")
    matplotlib.use("Agg", force=True)
    return require("matplotlib.pyplot", "the HTML report")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def _label(a) -> str:
    return a.path.replace("\\", "/").rsplit("/", 1)[-1]


def size_vs_accuracy(report: Report) -> bytes:
    """Scatter: file size (KiB, log scale) against held-out accuracy, one point per artifact and the baseline."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    if report.baseline.accuracy is not None:
        ax.scatter([report.baseline.size_bytes / 1024], [report.baseline.accuracy * 100], marker="*", s=160,
                   color="black", label="baseline (Keras)")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, a in enumerate(report.artifacts):
        if a.accuracy is None:
            continue
        color = colors[i % len(colors)]
        # TFLite as large rings, ONNX as small filled squares: coinciding points stay visible.
        style = dict(marker="o", s=140, facecolors="none", edgecolors=color, linewidths=2) \
            if a.format == "tflite" else dict(marker="s", s=40, color=color)
        ax.scatter([a.size_bytes / 1024], [a.accuracy * 100], label=f"{_label(a)} ({a.sparsity.overall:.0%} zeros)",
                   **style)
    ticker = require("matplotlib.ticker", "the HTML report")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("size (KiB, log scale)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title("Size vs accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def latency_percentiles(report: Report) -> bytes:
    """Grouped bars: p50 / p90 / p99 latency (ms) per artifact and backend."""
    plt = _pyplot()
    rows = [(f"{_label(a)}\n[{a.benchmark.backend}]", a.latency_ms) for a in report.artifacts
            if a.latency_ms is not None]
    fig, ax = plt.subplots(figsize=(max(6.4, 1.6 * len(rows)), 4.0))
    if not rows:
        ax.text(0.5, 0.5, "no latency measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _png(fig)
    width = 0.26
    xs: List[float] = list(range(len(rows)))
    for k, (name, color) in enumerate((("p50", "#4c72b0"), ("p90", "#dd8452"), ("p99", "#c44e52"))):
        ax.bar([x + (k - 1) * width for x in xs], [getattr(lat, name) for _, lat in rows], width, label=name,
               color=color)
    ax.set_xticks(xs)
    ax.set_xticklabels([r[0] for r in rows], fontsize=7)
    ax.set_yscale("log")  # p99 on a shared machine can be 100x p50; a log axis keeps p50 readable
    ax.set_ylabel("latency per inference (ms, log scale)")
    ax.set_title("Latency percentiles per inference")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return _png(fig)
