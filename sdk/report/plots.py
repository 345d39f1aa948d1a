"""The report's two figures, drawn with matplotlib's Agg backend and returned as PNG bytes."""
from __future__ import annotations

import io
from typing import List

from .._extras import pyplot, require
from .schema import Report


def _pyplot():
    return pyplot("the HTML report")


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
                   color="black", label="baseline (ONNX)" if report.baseline.path.lower().endswith(".onnx")
                   else "baseline (Keras)")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, a in enumerate(report.artifacts):
        if a.accuracy is None:
            continue
        color = colors[i % len(colors)]
        # TFLite as large rings, ONNX as small filled squares: coinciding points stay visible.
        style = dict(marker="o", s=140, facecolors="none", edgecolors=color, linewidths=2) \
            if a.format == "tflite" else dict(marker="s", s=40, color=color)
        ax.scatter([a.size_bytes / 1024], [a.accuracy * 100], label=f"{_label(a)} ({a.sparsity:.0%} zeros)",
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


def pareto_front(points):
    """Indices of the points (size, accuracy) no other point beats on both: smaller and at least as accurate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def search_pareto(report: Report) -> bytes:
    """Every search candidate as size against accuracy, the Pareto front joined, the bounds drawn."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    search = report.search
    done = [c for c in search.candidates if c.size_bytes is not None and c.accuracy is not None]
    pruned = [c for c in search.candidates if c.size_bytes is None and c.accuracy is not None]
    pts = [(c.size_bytes / 1024, c.accuracy * 100) for c in done]
    ok = [p for c, p in zip(done, pts) if c.meets_bounds]
    bad = [p for c, p in zip(done, pts) if not c.meets_bounds]
    if ok:
        ax.scatter(*zip(*ok), color="#2a7", label="meets the bounds")
    if bad:
        ax.scatter(*zip(*bad), color="#c44", marker="x", label="outside the bounds")
    front = [pts[i] for i in pareto_front(pts)]
    if len(front) > 1:
        ax.plot(*zip(*front), color="#555", lw=1, ls="--", label="Pareto front")
    best = search.best_candidate
    if best is not None:
        ax.scatter([best.size_bytes / 1024], [best.accuracy * 100], marker="*", s=200, color="gold",
                   edgecolors="black", label=f"kept: trial {best.trial}", zorder=5)
    if report.baseline.accuracy is not None:
        floor = report.baseline.accuracy * 100 - search.bounds.max_accuracy_drop
        ax.axhline(floor, color="#999", lw=0.8, label=f"accuracy bound ({search.bounds.max_accuracy_drop:g} points)")
    if search.bounds.max_size_bytes is not None:
        ax.axvline(search.bounds.max_size_bytes / 1024, color="#999", lw=0.8, ls=":", label="size bound")
    if pruned:
        ax.text(0.01, 0.01, f"{len(pruned)} trial(s) pruned before quantization", transform=ax.transAxes, fontsize=7)
    ax.set_xlabel("deployable size (KiB)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title(f"Budget search: {len(search.candidates)} candidates")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def sensitivity(report: Report) -> bytes:
    """One panel per technique: accuracy drop (points) against the setting, one line per layer."""
    plt = _pyplot()
    table = report.sensitivity
    techniques = [t for t in ("prune", "cluster", "lowrank", "quantize") if table.settings(t)]
    fig, axes = plt.subplots(1, max(1, len(techniques)), figsize=(3.2 * max(1, len(techniques)), 3.2), squeeze=False)
    xlabels = {"prune": "sparsity", "cluster": "clusters", "lowrank": "rank kept (fraction)", "quantize": "bits"}
    for ax, tech in zip(axes[0], techniques):
        for layer in table.layers():
            xs = [e.setting for e in table.entries if e.layer == layer and e.technique == tech]
            ys = [e.drop for e in table.entries if e.layer == layer and e.technique == tech]
            if xs:
                ax.plot(xs, ys, marker="o", ms=3, label=layer)
        ax.set_title(tech)
        ax.set_xlabel(xlabels[tech])
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("accuracy drop (points)")
    axes[0][0].legend(fontsize=6)
    return _png(fig)
