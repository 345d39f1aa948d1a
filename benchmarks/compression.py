"""Compression on LeNet-shaped models: the smallest deployable artifact within 0.5 points, per technique and best recipe.

    python benchmarks/compression.py [--epochs 30] [--fine-tune 8] [--pipeline-fine-tune 16] [--max-drop 0.5] [--quick]

Trains, in the same run and on scikit-learn's bundled digits (8x8, nothing downloaded), the two
reference models of the compression literature, scaled to the data:

  mlp - LeNet-300-100 (LeCun et al. 1998): 64 -> 300 -> 100 -> 10, ReLU;
  cnn - LeNet-5 style: conv 6@3x3 (same) -> max-pool -> conv 16@3x3 -> dense 120 -> 84 -> 10.

Each runs through edgewise's own step runner (`edgewise.steps`): every technique alone (at a few
strengths, each followed by int8 quantization, the deployable file), then recipes that chain the
techniques that passed, and Deep Compression's pipeline: magnitude pruning (fine-tuned), then
clustering or k-bit weights with the zeros kept (a centroid pinned at 0), then int8. An artifact
counts when its held-out accuracy (LiteRT) is at most `--max-drop` points below the float model's.
The deployable artifact is the `.ewb` bundle of the int8 file (entropy-coded weight streams; the
smallest file by `steps.measure.deployable_size`). Ratios are float32 TFLite size / deployable size. The filter-pruned CNN's latency is measured against the unpruned
one on LiteRT (float32 files, batch 1, both timed round-robin with perf_counter_ns until a
minimum count and a minimum duration are met, p50 reported; MLPerf loadgen's single stream).

Anchors (other data, other formats; printed beside the figures, not compared): Deep Compression
(Han et al. 2016) 40x on LeNet-300-100 and 39x on LeNet-5 (pruning + 5-6 bit sharing + Huffman,
MNIST); Soft weight-sharing (Ullrich et al. 2017) 64x and 162x. A TFLite file stores every zero
and every int8 weight in a byte, so pruning, clustering and k-bit pay only in the bundle, which
codes each stream near its order-0 entropy. Ends with one `key=value` line.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, "2" if "TF_" in _var else "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

ANCHORS = {"mlp": ("Deep Compression 40x (LeNet-300-100)", "Soft weight-sharing 64x"),
           "cnn": ("Deep Compression 39x (LeNet-5)", "Soft weight-sharing 162x")}

# technique -> settings from gentle to aggressive; each becomes [step, quantize int8]
TECHNIQUES: Dict[str, List[dict]] = {
    "int8": [{}],
    # pruning, clustering and k-bit pay in the bundle (a TFLite file is as large as without them)
    "prune": [{"kind": "prune", "magnitude": {"target_sparsity": s}} for s in (0.9, 0.95)],
    "cluster": [{"kind": "cluster", "cluster": {"clusters": 16}}],
    "kbit": [{"kind": "kbit", "kbit": {"bits": 4}}],
    "prune_filters": [{"kind": "prune_filters", "filters": {"fraction": f, "exclude": ["classes"]}}
                      for f in (0.25, 0.5)],
    "lowrank": [{"kind": "lowrank", "lowrank": {"param_fraction": p, "exclude": ["classes"]}} for p in (0.5, 0.3)],
    "distill": [{"kind": "distill", "student": {"width": w}} for w in (0.5, 0.35)],
}
SIZE_TECHNIQUES = ("prune_filters", "lowrank", "distill")  # the ones a TFLite file gets smaller from


def _prune(s: float) -> dict:
    return {"kind": "prune", "magnitude": {"target_sparsity": s}}


def _cluster(k: int) -> dict:
    return {"kind": "cluster", "cluster": {"clusters": k}}


def _student(width: float) -> dict:  # a narrower copy of the model, taught by the trained one
    return {"kind": "distill", "student": {"width": width}}

# Deep Compression's order (Han et al. 2016): prune (fine-tuned), share weights with the zeros kept
# (a centroid pinned at 0), then int8 + entropy coding in the bundle; with and without a distilled
# student first. These run with `--pipeline-fine-tune` epochs per step (distillation: 4x).
PIPELINES: List[List[dict]] = [
    [_prune(0.9), _cluster(16)],
    [_student(0.35), _prune(0.8), _cluster(16)],
    [_student(0.3), _prune(0.8), _cluster(8)],
    [_student(0.3), _prune(0.85), _cluster(8)],
]


def build(kind: str, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    if kind == "mlp":
        return keras.Sequential([keras.Input((64,), name="pixels"), L.Dense(300, activation="relu", name="fc1"),
                                 L.Dense(100, activation="relu", name="fc2"),
                                 L.Dense(10, activation="softmax", name="classes")], name="lenet_300_100")
    return keras.Sequential([
        keras.Input((8, 8, 1), name="image"), L.Conv2D(6, 3, padding="same", activation="relu", name="conv1"),
        L.MaxPooling2D(name="pool1"), L.Conv2D(16, 3, activation="relu", name="conv2"), L.Flatten(name="flatten"),
        L.Dense(120, activation="relu", name="fc1"), L.Dense(84, activation="relu", name="fc2"),
        L.Dense(10, activation="softmax", name="classes")], name="lenet5")


def data(kind: str):
    from edgewise.data import Dataset, DigitsSplits, load_digits_splits

    s = load_digits_splits(0)
    if kind == "cnn":
        return s
    flat = lambda d: Dataset(d.x.reshape(len(d.x), -1), d.y, d.source)  # noqa: E731
    return DigitsSplits(flat(s.train), flat(s.calibration), flat(s.heldout))


@contextlib.contextmanager
def quiet_native():
    """TensorFlow's converter prints from C++; keep the benchmark's output readable."""
    sys.stdout.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            sys.stdout.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_recipe(steps: List[dict], model, splits, folder: str, epochs: int, seed: int):
    """(deployable bytes, LiteRT accuracy, seconds) of `steps` + int8 quantization, or the error."""
    from edgewise.recipe import Recipe
    from edgewise.steps import StepContext, deployable_size
    from edgewise.steps.runner import run_steps

    doc = {"steps": [dict(s, fine_tune={"epochs": epochs * (4 if s["kind"] == "distill" else 1)}) for s in steps]
           + [{"kind": "quantize"}]}
    recipe = Recipe.from_dict(doc)
    os.makedirs(folder, exist_ok=True)
    ctx = StepContext(splits.train, splits.calibration, splits.heldout, folder, seed=seed)
    t0 = time.perf_counter()
    with quiet_native():
        run = run_steps(recipe.steps, model, ctx, None, None, save_steps=False)
    size = deployable_size([os.path.join(folder, a) for a in run.results[-1].artifacts])  # int8 file or its .ewb
    return size, run.results[-1].accuracy, time.perf_counter() - t0, run.model


def litert_p50_ms(paths: List[str], x: np.ndarray, min_count: int, min_duration_s: float) -> List[float]:
    """p50 latency (ms) of each float32 file on LiteRT, batch 1, timed round-robin."""
    from ai_edge_litert.interpreter import Interpreter

    its = []
    for p in paths:
        it = Interpreter(model_path=p, num_threads=1)
        it.allocate_tensors()
        its.append((it, it.get_input_details()[0]["index"]))
    times: List[List[int]] = [[] for _ in paths]
    sample = x[:1].astype(np.float32)
    for it, idx in its:  # warm-up
        for _ in range(20):
            it.set_tensor(idx, sample)
            it.invoke()
    t_start = time.perf_counter()
    n = 0
    while n < min_count or time.perf_counter() - t_start < min_duration_s:
        for k, (it, idx) in enumerate(its):
            t0 = time.perf_counter_ns()
            it.set_tensor(idx, sample)
            it.invoke()
            times[k].append(time.perf_counter_ns() - t0)
        n += 1
    return [float(np.percentile(t, 50)) / 1e6 for t in times]


def bench_model(kind: str, args, work: str) -> dict:
    import keras

    from edgewise.converters import keras_to_tflite
    from edgewise.evaluate import keras_accuracy

    splits = data(kind)
    model = build(kind, args.seed)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(splits.train.x, splits.train.y, batch_size=32, epochs=args.epochs, verbose=0)
    base = keras_accuracy(model, splits.heldout)
    float_path = os.path.join(work, f"{kind}.float32.tflite")
    with quiet_native():
        keras_to_tflite(model, float_path, splits.calibration.x)
    float_size = os.path.getsize(float_path)
    print(f"\n== {kind}: {model.name}, {model.count_params()} parameters, trained {args.epochs} epochs in "
          f"{time.perf_counter() - t0:.1f} s; held-out accuracy {base:.2%} ({len(splits.heldout)} images); "
          f"float32 TFLite {float_size} bytes")
    print(f"{'technique':<14} {'setting':<34} {'bytes':>7} {'ratio':>6} {'accuracy':>9} {'drop':>6} {'ok':>3} {'time':>6}")
    best: Dict[str, Tuple[int, dict]] = {}
    passing: Dict[str, List[dict]] = {}
    limit = args.max_drop / 100.0
    for tech, settings in TECHNIQUES.items():
        if args.quick and len(settings) > 1:
            settings = settings[-1:]
        for n, step in enumerate(settings):
            steps = [step] if step else []
            try:
                size, acc, secs, _ = run_recipe(steps, model, splits, os.path.join(work, kind, tech, str(n)),
                                                args.fine_tune, args.seed)
            except (ValueError, RuntimeError) as e:
                print(f"{tech:<14} {_setting(step):<34} refused: {str(e).splitlines()[0][:90]}")
                continue
            ok = acc is not None and base - acc <= limit + 1e-9
            print(f"{tech:<14} {_setting(step):<34} {size:>7} {float_size / size:>5.1f}x {acc:>9.2%} "
                  f"{(base - acc) * 100:>+6.2f} {'yes' if ok else 'no':>3} {secs:>5.1f}s")
            if ok:
                passing.setdefault(tech, []).append(step)
            if ok and (tech not in best or size < best[tech][0]):
                best[tech] = (size, step)
    # recipes: chain two size techniques, each at a strength that passed alone
    chains = []
    for first in SIZE_TECHNIQUES:
        for second in SIZE_TECHNIQUES:
            if first == second or first == "distill" and second != "lowrank":
                continue  # a distilled student is narrow already: only factorise it further
            for a in passing.get(first, []):
                for b in passing.get(second, []):
                    chains.append([a, b])
    chains.sort(key=lambda c: -sum(_strength(s) for s in c))  # the most aggressive pairs first
    for n, chain in enumerate(PIPELINES + chains[: args.max_chains]):
        name = " + ".join(f"{s['kind']}({_setting(s)})" for s in chain)
        epochs = args.pipeline_fine_tune if n < len(PIPELINES) else args.fine_tune
        try:
            size, acc, secs, _ = run_recipe(chain, model, splits, os.path.join(work, kind, "chain", str(n)),
                                            epochs, args.seed)
        except (ValueError, RuntimeError) as e:
            print(f"{'recipe':<14} {name:<34} refused: {str(e).splitlines()[0][:90]}")
            continue
        ok = acc is not None and base - acc <= limit + 1e-9
        print(f"{'recipe':<14} {name:<34} {size:>7} {float_size / size:>5.1f}x {acc:>9.2%} "
              f"{(base - acc) * 100:>+6.2f} {'yes' if ok else 'no':>3} {secs:>5.1f}s")
        if ok and ("recipe" not in best or size < best["recipe"][0]):
            best["recipe"] = (size, {"kind": name})
    winner = min(best.items(), key=lambda kv: kv[1][0])
    ratio = float_size / winner[1][0]
    print(f"{kind}: smallest deployable within {args.max_drop:g} points: {winner[0]} ({_setting(winner[1][1])}), "
          f"{winner[1][0]} bytes = {ratio:.1f}x smaller than float32 TFLite   [anchors: {'; '.join(ANCHORS[kind])}]")
    result = {"ratio": ratio, "float_bytes": float_size, "best_bytes": winner[1][0], "base": base}
    if kind == "cnn":
        result.update(filter_speed(model, splits, args, work, float_path))
    return result


def filter_speed(model, splits, args, work: str, float_path: str) -> dict:
    """LiteRT p50 of the unpruned CNN against the same CNN with half its filters removed (float32 files)."""
    from edgewise.converters import keras_to_tflite
    from edgewise.recipe import Recipe
    from edgewise.steps import StepContext
    from edgewise.steps.runner import run_steps

    recipe = Recipe.from_dict({"steps": [{"kind": "prune_filters", "filters": {"fraction": 0.5, "exclude": ["classes"]},
                                          "fine_tune": {"epochs": args.fine_tune}}]})
    ctx = StepContext(splits.train, splits.calibration, splits.heldout, os.path.join(work, "speed"), seed=args.seed)
    with quiet_native():
        pruned = run_steps(recipe.steps, model, ctx, None, None, save_steps=False).model
        path = os.path.join(work, "cnn.filters50.float32.tflite")
        keras_to_tflite(pruned, path, splits.calibration.x)
    p50 = litert_p50_ms([float_path, path], splits.heldout.x, args.min_count, args.min_duration)
    speedup = p50[0] / p50[1]
    print(f"cnn: LiteRT p50 (batch 1, 1 thread) unpruned {p50[0] * 1000:.1f} us, 50% filters removed "
          f"{p50[1] * 1000:.1f} us ({model.count_params()} -> {pruned.count_params()} parameters): {speedup:.2f}x")
    return {"speedup": speedup}


def _strength(step: dict) -> float:
    """How much a step removes (for ordering recipes): filter fraction, 1 - width, 1 - parameter fraction."""
    cfg = next(iter(v for k, v in step.items() if k != "kind"))
    return float(cfg.get("fraction", 1 - cfg.get("width", cfg.get("param_fraction", 1.0))))


def _setting(step: dict) -> str:
    if not step:
        return "int8 only"
    cfg = {k: v for k, v in step.items() if k != "kind"}
    return ", ".join(f"{k}={v}" for c in cfg.values() if isinstance(c, dict) for k, v in c.items()
                     if k != "exclude") or step["kind"]


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30, help="training epochs of the reference models")
    p.add_argument("--fine-tune", type=int, default=8, help="fine-tuning epochs per step (distillation: 4x)")
    p.add_argument("--pipeline-fine-tune", type=int, default=16,
                   help="fine-tuning epochs per step of the prune + share pipelines (distillation: 4x)")
    p.add_argument("--max-drop", type=float, default=0.5, help="accuracy bound in points (default 0.5)")
    p.add_argument("--max-chains", type=int, default=3, help="recipes of two techniques tried per model")
    p.add_argument("--min-count", type=int, default=300)
    p.add_argument("--min-duration", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="one setting per technique (a smoke run)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    work = tempfile.mkdtemp(prefix="edgewise-compression-")
    try:
        mlp = bench_model("mlp", args, work)
        cnn = bench_model("cnn", args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    print(f"compression mlp_ratio={mlp['ratio']:.2f} cnn_ratio={cnn['ratio']:.2f} "
          f"cnn_filter_pruned_speedup={cnn['speedup']:.2f} mlp_bytes={mlp['best_bytes']} "
          f"cnn_bytes={cnn['best_bytes']} mlp_float32_bytes={mlp['float_bytes']} "
          f"cnn_float32_bytes={cnn['float_bytes']} max_drop_points={args.max_drop:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
