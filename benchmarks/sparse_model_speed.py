"""End to end: a pruned FC-heavy .tflite model on the NumPy backend, sparse plans on vs off.

    python benchmarks/sparse_model_speed.py [--size 1024] [--layers 3] [--patterns 16x1@90%,95%]
                                            [--variants float32,int8] [--batches 1]
                                            [--min-count 50] [--min-duration-ms 300]

The model is `--layers` Dense(size, relu) layers and a Dense(10) head, its kernels replaced by
random weights pruned to each pattern (tests/runtime/sparse/_weights.py), converted by the real
TFLiteConverter (float32, and full int8 with int8 input/output). Both systems load the same file
with edgewise.runtime.tflite.Interpreter:

  dense   - Interpreter(..., sparse=False): every layer on its dense BLAS GEMM (the same as running
            with the environment variable EDGEWISE_SPARSE=0);
  sparse  - Interpreter(...): the plans runtime/sparse chose at load (listed per layer).

Harness as in sparse_speed.py (MLPerf loadgen single stream: settings, sample source, systems timed
round-robin with perf_counter_ns, a null system for the harness overhead); the speedup is the median
of per-round dense / sparse ratios. Outputs are checked identical (int8) or within 1e-5 (float32).
The last line is one `key=value` record.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Dict, List  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sparse_speed import Settings, paired_speedup, run, weights  # noqa: E402


def convert(size: int, layers: int, pattern: str, variant: str) -> bytes:
    """The pruned model as .tflite bytes (Keras kernels are (in, out): W.T)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    L = keras.layers
    m = keras.Sequential([keras.Input((size,))] + [L.Dense(size, activation="relu") for _ in range(layers)]
                         + [L.Dense(10)])
    for layer in m.layers[:layers]:
        w = weights(pattern, rng, size, integer=False) / np.sqrt(size * 0.1)
        layer.set_weights([w.T.astype(np.float32), rng.uniform(-0.1, 0.1, size).astype(np.float32)])
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    if variant == "int8":
        samples = [rng.standard_normal((1, size)).astype(np.float32) for _ in range(16)]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([s] for s in samples)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):
        return conv.convert()


def samples_for(variant: str, batch: int, size: int) -> List[np.ndarray]:
    rng = np.random.default_rng(1)
    if variant == "int8":
        return [rng.integers(-128, 128, (batch, size), dtype=np.int8) for _ in range(8)]
    return [rng.standard_normal((batch, size)).astype(np.float32) for _ in range(8)]


def main(argv=None) -> Dict[str, str]:
    from edgewise.runtime.tflite import Interpreter, read_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--patterns", default="16x1@90%,4x4@90%,95%")
    ap.add_argument("--variants", default="float32,int8")
    ap.add_argument("--batches", default="1")
    ap.add_argument("--min-count", type=int, default=50)
    ap.add_argument("--min-duration-ms", type=float, default=300.0)
    args = ap.parse_args(argv)
    s = Settings(args.min_count, args.min_duration_ms)
    null = run({"null": lambda x: x}, [None], s)[0]["null"]
    print(f"{args.layers} x Dense({args.size}) + Dense(10), NumPy backend, single thread; null system p50 "
          f"{null.p50_us:.2f} us")
    print(f"{'pattern':9s} {'variant':7s} {'batch':>5s} {'layer kinds':24s} {'dense p50':>9s} {'sparse p50':>10s} "
          f"{'sparse p90':>10s} {'n':>5s} {'speedup':>7s}")
    record: Dict[str, str] = {}
    for pattern in args.patterns.split(","):
        for variant in args.variants.split(","):
            data = convert(args.size, args.layers, pattern, variant)
            model = read_model(data, f"pruned-{pattern}-{variant}.tflite")
            dense = Interpreter(model, "dense", sparse=False)
            sparse = Interpreter(model, "sparse")
            kinds = "/".join(p.info.kind for p in sparse.plans)
            for batch in (int(b) for b in args.batches.split(",")):
                xs = samples_for(variant, batch, args.size)
                ref, got = dense.invoke([xs[0]])[0], sparse.invoke([xs[0]])[0]
                if variant == "int8":
                    assert np.array_equal(ref, got), f"{pattern} int8: sparse plans changed the output"
                else:
                    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * float(np.abs(ref).max()))
                lat, raw = run({"dense": lambda x: dense.invoke([x]), "sparse": lambda x: sparse.invoke([x])}, xs, s)
                speedup = paired_speedup(raw, "dense", "sparse")
                print(f"{pattern:9s} {variant:7s} {batch:5d} {kinds:24s} {lat['dense'].p50_us:9.1f} "
                      f"{lat['sparse'].p50_us:10.1f} {lat['sparse'].p90_us:10.1f} {lat['sparse'].count:5d} "
                      f"{speedup:7.2f}", flush=True)
                key = pattern.replace("%", "pct").replace("@", "_")
                tag = ("" if variant == "float32" else "_int8") + ("" if batch == 1 else f"_b{batch}")
                record[f"model_{key}_speedup{tag}"] = f"{speedup:.2f}"
    print("sparse_model_speed " + " ".join(f"{k}={v}" for k, v in record.items()))
    return record


if __name__ == "__main__":
    main()
