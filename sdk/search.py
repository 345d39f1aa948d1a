"""Budget search: the smallest deployable artifact that meets size, accuracy (and latency) bounds.

A search is an Optuna study (Akiba et al. 2019): the study is data (storage URL, sampler,
directions) and the objective a plain function of a trial, so the search state lives in the
storage, not the process. By default the storage is SQLite in the output folder: an interrupted
search resumes where it stopped (`trials` counts every finished trial in the study, and a trial
left running by a killed process is marked failed and queued again). `storage` takes any
Optuna RDB URL, so several machines can work on one study.

Each trial is a recipe (see `SearchSpace`): a network-wide pruning target (per-layer targets
from the sensitivity table, `sensitivity.SensitivityTable.layer_targets`), filter removal and
low-rank factorisation, then quantization. The two
objectives, deployable size and accuracy drop, are minimised together (multi-objective TPE, or
NSGA-II), with the bounds as Optuna constraints. A trial whose fine-tuned model already breaks
the accuracy bound before quantization is pruned (TrialPruned): quantizing it cannot help.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from edgewise.runtime.records import Record

from .progress import Progress, quiet
from .recipe import Recipe

SAMPLERS = ("tpe", "nsga2")
SPARSITY_STEP = 0.05


@dataclass(frozen=True)
class Bounds(Record):
    """What a kept artifact must meet: size (bytes), accuracy drop (points), p50 latency here (ms)."""

    max_accuracy_drop: float = 1.0
    max_size_bytes: Optional[int] = None
    max_latency_ms: Optional[float] = None

    def __post_init__(self):
        if not self.max_accuracy_drop >= 0:
            raise ValueError(f"max_accuracy_drop must be >= 0 points, got {self.max_accuracy_drop}")
        if self.max_size_bytes is not None and self.max_size_bytes <= 0:
            raise ValueError(f"max_size_bytes must be positive, got {self.max_size_bytes}")
        if self.max_latency_ms is not None and self.max_latency_ms <= 0:
            raise ValueError(f"max_latency_ms must be positive, got {self.max_latency_ms}")

    def describe(self) -> str:
        parts = [f"accuracy drop <= {self.max_accuracy_drop:g} points"]
        if self.max_size_bytes is not None:
            parts.append(f"size <= {self.max_size_bytes} bytes")
        if self.max_latency_ms is not None:
            parts.append(f"p50 latency <= {self.max_latency_ms:g} ms")
        return ", ".join(parts)


@dataclass(frozen=True)
class Candidate(Record):
    """One trial: its recipe and what it measured, or why it stopped (`state` pruned/failed)."""

    trial: int
    state: str  # "complete", "pruned", "failed", "running"
    recipe: Optional[Recipe] = None
    size_bytes: Optional[int] = None  # deployable size (see steps.measure.deployable_size)
    accuracy: Optional[float] = None
    accuracy_drop: Optional[float] = None  # points
    sparsity: Optional[float] = None
    bits: Optional[int] = None
    latency_ms: Optional[float] = None
    wall_time_s: Optional[float] = None
    meets_bounds: bool = False
    artifact: str = ""
    note: str = ""


@dataclass(frozen=True)
class SearchSummary(Record):
    """Every candidate tried and the one kept (`best`, a trial number), or why none was."""

    study: str
    storage: str
    sampler: str
    bounds: Bounds
    trials: int
    candidates: Tuple[Candidate, ...] = ()
    best: Optional[int] = None
    message: str = ""

    @property
    def best_candidate(self) -> Optional[Candidate]:
        return next((c for c in self.candidates if c.trial == self.best), None)


def parse_size(text: str) -> int:
    """'40KB' -> 40960 bytes (KB/KiB and MB/MiB are binary here, as file sizes are shown), '5000' -> 5000."""
    t = str(text).strip().upper().replace(" ", "")
    for suffix, mult in (("KIB", 1024), ("MIB", 1 << 20), ("KB", 1024), ("MB", 1 << 20), ("K", 1024), ("M", 1 << 20),
                         ("B", 1)):
        if t.endswith(suffix):
            t, factor = t[: -len(suffix)], mult
            break
    else:
        factor = 1
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"size {text!r}: expected a number with an optional unit (B, KB, MB)") from None
    if value <= 0:
        raise ValueError(f"size {text!r} must be positive")
    return int(value * factor)


def _redact(url: str) -> str:
    """The storage URL without a password, for the report."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


@dataclass(frozen=True)
class SearchSpace:
    """What a trial may choose, in this order: a network-wide sparsity (per-layer targets from
    `layer_targets(s)`, the sensitivity ranking), a fraction of filters removed, a low-rank
    parameter budget, weight sharing (clustering or k-bit, zeros kept) and the quantization mode.
    Filter removal and low rank make the TFLite file itself smaller; sparsity and sharing pay in the
    `.ewb` bundle, the deployable artifact. Each training step fine-tunes `epochs` epochs.
    """

    max_sparsity: float = 0.95
    quantize_modes: Tuple[str, ...] = ("int8",)
    epochs: int = 2
    layer_targets: Optional[Callable[[float], Dict[str, float]]] = None
    filter_fractions: Tuple[float, ...] = (0.0, 0.125, 0.25, 0.375, 0.5)
    lowrank_fractions: Tuple[float, ...] = (0.0, 0.5, 0.3)  # 0: no factorisation
    keep: Tuple[str, ...] = ()  # layers never factorised (the classifier: a rank-2 output cannot tell 10 classes)
    sharing: Tuple[str, ...] = ("none", "cluster:16", "cluster:8", "kbit:4", "kbit:3")  # "kind:clusters|bits"

    def start(self) -> Dict[str, object]:
        """The first trial: quantization alone."""
        return {"sparsity": 0.0, "filters": 0.0, "lowrank": 0.0, "sharing": self.sharing[0],
                "quantize": self.quantize_modes[0]}

    def recipe(self, trial) -> Recipe:
        from .compress.lowrank import LowRankConfig
        from .compress.pruning.filters import FilterPruneConfig
        from .compress.pruning.magnitude import MagnitudeConfig
        from .compress.train import FineTuneConfig
        from .steps.lowrank import LowRankStep
        from .steps.prune import PruneStep
        from .steps.prune_filters import PruneFiltersStep
        from .steps.quantize import QuantizeStep

        s = trial.suggest_float("sparsity", 0.0, self.max_sparsity, step=SPARSITY_STEP)
        f = trial.suggest_categorical("filters", list(self.filter_fractions))
        r = trial.suggest_categorical("lowrank", list(self.lowrank_fractions))
        share = trial.suggest_categorical("sharing", list(self.sharing))
        mode = trial.suggest_categorical("quantize", list(self.quantize_modes))
        ft = FineTuneConfig(epochs=self.epochs)
        steps = []
        if s > 0:
            targets = self.layer_targets(s) if self.layer_targets is not None else {}
            steps.append(PruneStep(magnitude=MagnitudeConfig(round(s, 4), layer_targets=targets), fine_tune=ft))
        if f > 0:
            steps.append(PruneFiltersStep(filters=FilterPruneConfig(fraction=f), fine_tune=ft))
        if r > 0:
            steps.append(LowRankStep(lowrank=LowRankConfig(param_fraction=r, exclude=self.keep), fine_tune=ft))
        if share != "none":  # after pruning, as Deep Compression orders them: the zeros stay (preserve_zeros)
            steps.append(_sharing_step(share, ft))
        steps.append(QuantizeStep(mode=mode))
        return Recipe(tuple(steps), name=f"trial {trial.number}")


def _sharing_step(choice: str, ft):
    """"cluster:K" -> a ClusterStep with K shared values; "kbit:B" -> a KBitStep of B bits."""
    from .compress.clustering import ClusterConfig
    from .compress.kbit import KBitConfig
    from .steps.cluster import ClusterStep
    from .steps.kbit import KBitStep

    kind, _, n = choice.partition(":")
    if kind == "cluster":
        return ClusterStep(cluster=ClusterConfig(clusters=int(n)), fine_tune=ft)
    if kind == "kbit":
        return KBitStep(kbit=KBitConfig(bits=int(n)), fine_tune=ft)
    raise ValueError(f"unknown sharing choice {choice!r}; use 'none', 'cluster:K' or 'kbit:B'")


def _bits(params: Dict[str, object]) -> Optional[int]:
    """Bits per stored weight: the quantization mode's, or fewer with clustering (log2 K) or k-bit."""
    bits = BITS.get(str(params.get("quantize", "int8")))
    kind, _, n = str(params.get("sharing", "none")).partition(":")
    if bits is not None and kind in ("cluster", "kbit"):
        return min(bits, int(math.ceil(math.log2(int(n)))) if kind == "cluster" else int(n))
    return bits


BITS = {"int8": 8, "int16x8": 8, "dynamic": 8, "float16": 16, "float32": 32}


def _candidate(t) -> Candidate:
    attrs = dict(t.user_attrs)
    recipe = Recipe.from_dict(attrs["recipe"]) if "recipe" in attrs else None
    fields = {k: attrs.get(k) for k in ("size_bytes", "accuracy", "accuracy_drop", "sparsity", "bits", "latency_ms",
                                        "wall_time_s")}
    return Candidate(t.number, t.state.name.lower(), recipe, meets_bounds=bool(attrs.get("meets_bounds", False)),
                     artifact=str(attrs.get("artifact", "")), note=str(attrs.get("note", "")), **fields)


def _note(trial, text: str) -> None:
    """Add to the trial's note (an enqueued trial arrives with one saying why it was queued)."""
    before = str(trial.user_attrs.get("note", ""))
    trial.set_user_attr("note", f"{before}; {text}" if before else text)


def run_search(model, ctx, baseline_accuracy: float, bounds: Bounds, trials: int, space: SearchSpace,
               storage: Optional[str] = None, study_name: Optional[str] = None, sampler: str = "tpe",
               progress: Progress = quiet) -> SearchSummary:
    """Run (or resume) the study until it holds `trials` finished trials; returns every candidate.

    `ctx` is the steps' StepContext (data, output folder, seed). Trial n writes into
    `out_dir/trials/NNNN/`; the best candidate's artifact is copied to `out_dir/best.ewb` (the
    bundle; `best.tflite` when the smallest file is a TFLite file).
    `trials` counts completed and pruned trials. A trial whose recipe cannot run (ValueError,
    ConversionError) fails with the reason in its note; one failed by an interruption (Ctrl-C,
    a killed process) does not count, and with the default storage is queued once more on resume.
    """
    from ._extras import require
    from .fileio import copy_file_atomic
    from .steps.base import StepContext
    from .steps.measure import deployable_file, deployable_size
    from .converters.errors import ConversionError
    from .steps.runner import AccuracyGuardError, run_steps

    optuna = require("optuna", "the budget search")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    out = ctx.out_dir
    os.makedirs(out, exist_ok=True)
    url = storage or f"sqlite:///{os.path.abspath(os.path.join(out, 'search.db'))}"
    name = study_name or "edgewise-search"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # constraints_func, multivariate

    def constraints(t) -> List[float]:
        return list(t.user_attrs.get("constraints", (1.0, 1.0, 1.0)))

    store = optuna.storages.get_storage(url)
    study = optuna.create_study(storage=store, study_name=name, directions=["minimize", "minimize"],
                                load_if_exists=True)
    states = optuna.trial.TrialState
    all_trials = study.get_trials(deepcopy=False)
    if storage is None:  # our own file: a trial left running or failed by Ctrl-C is nobody else's; run it again
        for t in all_trials:
            if t.state == states.RUNNING:
                sid = store.get_study_id_from_name(name)
                store.set_trial_state_values(store.get_trial_id_from_study_id_trial_number(sid, t.number), states.FAIL)
        notes = " | ".join(str(t.user_attrs.get("note", "")) for t in all_trials)
        again = [t for t in study.get_trials(deepcopy=False) if t.state == states.FAIL and t.params
                 and "failed:" not in str(t.user_attrs.get("note", ""))
                 and f"retry of interrupted trial {t.number}" not in notes]
        for t in again:
            study.enqueue_trial(dict(t.params), user_attrs={"note": f"retry of interrupted trial {t.number}"})
        if again:
            progress(f"search: {len(again)} interrupted trial(s) queued again")
    finished = [t for t in study.get_trials(deepcopy=False) if t.state in (states.COMPLETE, states.PRUNED)]
    if not all_trials:
        study.enqueue_trial(space.start(), user_attrs={"note": "starting point: quantization alone"})
    seed = ctx.seed + len(finished)  # a resumed search does not redraw the first trials' parameters
    study.sampler = (optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints) if sampler == "nsga2"
                     else optuna.samplers.TPESampler(seed=seed, constraints_func=constraints, multivariate=True,
                                                     n_startup_trials=4))
    remaining = max(0, trials - len(finished))
    progress(f"search: {len(finished)} trial(s) already in {_redact(url)}; running {remaining} more "
             f"({bounds.describe()})")

    def objective(trial) -> Tuple[float, float]:
        recipe = space.recipe(trial)
        trial.set_user_attr("recipe", recipe.to_dict())
        folder = os.path.join(out, "trials", f"{trial.number:04d}")
        os.makedirs(folder, exist_ok=True)
        tctx = StepContext(ctx.train, ctx.calib, ctx.eval, folder, lambda m: progress(f"  [trial {trial.number}] {m}"),
                           ctx.seed + 1000 * (trial.number + 1))
        progress(f"trial {trial.number}: {recipe.describe()}")
        t0 = time.perf_counter()
        try:
            training = [st for st in recipe.steps if st.writes_keras]
            run = run_steps(training, model, tctx, baseline_accuracy, bounds.max_accuracy_drop,
                            save_steps=False, extend=False, cumulative=True)
            post = run_steps(recipe.steps[len(training):], run.model, tctx, baseline_accuracy, None,
                             save_steps=False, start=len(training) + 1)
            run = type(run)(post.model, run.results + post.results, run.artifacts + post.artifacts, {})
        except (ValueError, ConversionError) as e:  # this recipe cannot run on this model: say so, go on
            _note(trial, f"failed: {type(e).__name__}: {str(e).splitlines()[0]}")
            progress(f"trial {trial.number}: failed ({e})")
            raise
        except AccuracyGuardError as e:
            trial.set_user_attr("accuracy", e.after)
            trial.set_user_attr("accuracy_drop", round((baseline_accuracy - e.after) * 100, 4))
            _note(trial, f"pruned: step {e.step} ({e.kind}) already lost {(e.before - e.after) * 100:.2f} points")
            trial.set_user_attr("wall_time_s", time.perf_counter() - t0)
            progress(f"trial {trial.number}: pruned (accuracy {e.after:.2%} breaks the bound before quantization)")
            raise optuna.TrialPruned() from None
        last = run.results[-1]
        final = run.results[max(len(training) - 1, 0):]  # the files of the final model: last training step on
        best_path = deployable_file([os.path.join(folder, a) for r in final for a in r.artifacts]) or ""
        size = deployable_size([best_path]) if best_path else None
        drop = (baseline_accuracy - last.accuracy) * 100 if last.accuracy is not None else float("inf")
        latency = None
        if bounds.max_latency_ms is not None and best_path:
            from .pipeline import benchmark_local

            bench = benchmark_local(best_path, runs=30, warmup=5)
            latency = bench.latency_ms.p50 if bench.latency_ms else None
        prune = next((r for r in run.results if r.kind == "prune"), None)
        cons = (drop - bounds.max_accuracy_drop,
                (size or 1 << 40) - bounds.max_size_bytes if bounds.max_size_bytes is not None else -1.0,
                (latency if latency is not None else 1e9) - bounds.max_latency_ms
                if bounds.max_latency_ms is not None else -1.0)
        ok = all(c <= 0 for c in cons)
        for k, v in (("size_bytes", size), ("accuracy", last.accuracy), ("accuracy_drop", round(drop, 4)),
                     ("sparsity", prune.sparsity if prune else last.sparsity), ("bits", _bits(trial.params)),
                     ("latency_ms", latency), ("wall_time_s", round(time.perf_counter() - t0, 3)),
                     ("meets_bounds", ok), ("artifact", os.path.relpath(best_path, out) if best_path else ""),
                     ("constraints", [float(c) for c in cons])):
            trial.set_user_attr(k, v)
        progress(f"trial {trial.number}: {size} bytes, accuracy {last.accuracy:.2%} ({drop:+.2f} points lost)"
                 f"{'' if latency is None else f', p50 {latency:.3f} ms'} -> "
                 f"{'meets the bounds' if ok else 'outside the bounds'}")
        return float(size or 1 << 40), float(drop)

    if remaining:
        study.optimize(objective, n_trials=remaining, catch=(ValueError, ConversionError))
    candidates = tuple(_candidate(t) for t in study.get_trials(deepcopy=False))
    fitting = [c for c in candidates if c.state == "complete" and c.meets_bounds and c.size_bytes is not None]
    best = min(fitting, key=lambda c: (c.size_bytes, c.accuracy_drop, c.trial)) if fitting else None
    if best is not None:
        found = os.path.join(out, best.artifact)
        if os.path.isfile(found):  # with a shared storage the best trial may have run on another machine
            copy_file_atomic(found, os.path.join(out, "best" + os.path.splitext(found)[1]))  # best.ewb / .tflite
        message = (f"trial {best.trial} is the smallest artifact meeting the bounds: {best.size_bytes} bytes, "
                   f"{best.accuracy_drop:.2f} points lost ({best.recipe.describe() if best.recipe else ''})")
    else:
        done = [c for c in candidates if c.state == "complete" and c.size_bytes is not None]
        closest = min(done, key=lambda c: c.size_bytes) if done else None
        message = (f"none of the {len(candidates)} candidates meets the bounds ({bounds.describe()})"
                   + (f"; the smallest was {closest.size_bytes} bytes with {closest.accuracy_drop:.2f} points lost"
                      if closest else "") + ". Try more trials, a larger size budget or a larger accuracy bound.")
    progress(f"search: {message}")
    return SearchSummary(name, _redact(url), sampler, bounds, trials, candidates, best.trial if best else None, message)
