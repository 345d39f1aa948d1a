"""Write scikit-learn's 8x8 digits as .npz files for `edgewise optimize` and the examples.

    python examples/make_digits_npz.py data/     # data/train.npz, data/calib.npz, data/eval.npz

Each holds `x` (N, 8, 8, 1) float32 in [0, 1] and `y` int64 labels. Host only (scikit-learn).
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits


def main(out_dir: str) -> None:
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    os.makedirs(out_dir, exist_ok=True)
    splits = {"train": slice(0, 1200), "calib": slice(1200, 1400), "eval": slice(1400, None)}
    for name, s in splits.items():
        np.savez(os.path.join(out_dir, f"{name}.npz"), x=x[s], y=y[s])
        print(f"{out_dir}/{name}.npz: {len(x[s])} samples")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data")
