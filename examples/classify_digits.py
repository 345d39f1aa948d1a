"""Embed the runtime in an app: classify 8x8 digit images with a model made by `edgewise demo`.

Needs only NumPy and edgewise.runtime (LiteRT is used if installed; force the NumPy interpreter
with --backend numpy). Run after `./dev demo`:

    .venv/bin/python examples/classify_digits.py out/model.int8.tflite digits.npz

`digits.npz` holds `x` (N, 8, 8, 1) float images in [0, 1] and optionally `y` labels;
`examples/make_digits_npz.py` writes one from scikit-learn's digits.
"""
import argparse
import time

import numpy as np

from edgewise.runtime import load


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--backend", default="auto")
    args = p.parse_args()

    model = load(args.model, backend=args.backend)
    print(f"{args.model}: {model.backend}")
    print(f"  input  {model.inputs[0]}")
    print(f"  output {model.outputs[0]}")

    with np.load(args.data) as d:
        x = d["x"].astype(np.float32)
        y = d["y"] if "y" in d.files else None

    t0 = time.perf_counter()
    (probs,) = model.run(x, quantize=True)  # quantizes for int8 inputs, dequantizes int8 outputs
    elapsed = time.perf_counter() - t0
    pred = probs.argmax(axis=1)
    print(f"classified {len(x)} images in {elapsed * 1e3:.1f} ms; first ten: {pred[:10].tolist()}")
    if y is not None:
        print(f"accuracy: {np.mean(pred == y):.2%}")


if __name__ == "__main__":
    main()
