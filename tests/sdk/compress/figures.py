"""Size and accuracy of each compression technique alone on two digits models (not a test; a report).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m tests.sdk.compress.figures

Models: an MLP shaped like LeNet-300-100 (64 -> 300 -> 100 -> 10) and the small CNN of
tests/sdk/compress/models.py, trained on scikit-learn's digits. For each technique: the int8
TFLite file size, the bytes its weights need at ceil(log2(distinct)) bits (what a k-bit bundle
stores), and the int8 file's held-out accuracy on LiteRT.
"""
from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def mlp300(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(name="flat"),
                             L.Dense(300, activation="relu", name="fc1"), L.Dense(100, activation="relu", name="fc2"),
                             L.Dense(10, activation="softmax", name="out")], name="lenet300")


def main() -> int:
    from edgewise.compress.train import FineTuneConfig
    from edgewise.progress import native_output_to

    from .models import digits

    d = digits()
    ft = FineTuneConfig(epochs=4, learning_rate=5e-4)
    tmp = tempfile.mkdtemp(prefix="edgewise-figures-")
    with native_output_to(os.path.join(tmp, "tensorflow.log")) as console:
        _run(console, tmp, d, ft)
    return 0


def _run(console, tmp, d, ft) -> None:
    from edgewise.compress.clustering import ClusterConfig, ClusterSharing
    from edgewise.compress.distill import DistillConfig, StudentConfig, derive_student
    from edgewise.compress.kbit import KBitConfig, KBitProjection
    from edgewise.compress.lowrank import LowRankConfig, factorize
    from edgewise.compress.measure import packed_weight_bytes
    from edgewise.compress.pruning import (FilterPruneConfig, MagnitudeConfig, MagnitudePruning, StructuredConfig,
                                           StructuredPruning, prune_filters)
    from edgewise.compress.train import FineTuneConfig, fine_tune
    from edgewise.converters.tflite import keras_to_tflite
    from edgewise.evaluate import evaluate_backend

    from .models import build_cnn

    def row(label, model, base_acc=None):
        path = os.path.join(tmp, f"{label.replace(' ', '_')}.tflite")
        keras_to_tflite(model, path, d.calibration.x, precision="int8")
        acc = evaluate_backend(path, "litert", d.heldout).accuracy
        drop = "" if base_acc is None else f"{100 * (base_acc - acc):+.2f}"
        print(f"  {label:34s} int8 {os.path.getsize(path):7d} B  packed weights {packed_weight_bytes(path):7d} B  "
              f"acc {100 * acc:6.2f}%  drop {drop}", file=console, flush=True)
        return acc

    for name, build, is_cnn in (("MLP 64-300-100-10", mlp300, False), ("CNN", build_cnn, True)):
        base = fine_tune(build(), d.train, FineTuneConfig(epochs=20 if not is_cnn else 12, learning_rate=2e-3),
                         seed=0).model
        f32 = os.path.join(tmp, "f32.tflite")
        keras_to_tflite(base, f32, d.calibration.x)
        print(f"{name}: float32 TFLite {os.path.getsize(f32)} B, {base.count_params()} parameters", file=console)
        b = row("baseline int8", base)
        hidden = ("conv1", "conv2", "fc") if is_cnn else ("fc1", "fc2")
        steps = [
            ("magnitude 90%", lambda m: fine_tune(m, d.train, ft, [MagnitudePruning(MagnitudeConfig(0.9))], seed=0)),
            ("2:4 (N:M)", lambda m: fine_tune(m, d.train, ft, [StructuredPruning(StructuredConfig(
                exclude=("conv1",) if is_cnn else ()))], seed=0)),
            ("filters 50% L1 + fine-tune", lambda m: fine_tune(prune_filters(m, FilterPruneConfig(
                0.5, include=hidden)).model, d.train, ft, seed=0)),
            ("clusters 16", lambda m: fine_tune(m, d.train, ft, [ClusterSharing(ClusterConfig(16))], seed=0)),
            ("clusters 4", lambda m: fine_tune(m, d.train, ft, [ClusterSharing(ClusterConfig(4))], seed=0)),
            ("k-bit 4 uniform", lambda m: fine_tune(m, d.train, ft, [KBitProjection(KBitConfig(4))], seed=0)),
            ("k-bit 3 clustered", lambda m: fine_tune(m, d.train, ft, [KBitProjection(KBitConfig(
                3, "clustered", per_channel=False))], seed=0)),
            ("low rank 30% budget + fine-tune", lambda m: fine_tune(factorize(m, LowRankConfig(
                param_fraction=0.3, exclude=("out",))).model, d.train, ft, seed=0)),
            ("student width 0.5, distilled", lambda m: fine_tune(derive_student(m, StudentConfig(0.5)), d.train,
                                                                 FineTuneConfig(epochs=15, learning_rate=3e-3),
                                                                 teacher=m, distill=DistillConfig(), seed=0)),
        ]
        for label, apply in steps:
            row(label, apply(base).model, b)


if __name__ == "__main__":
    sys.exit(main())
