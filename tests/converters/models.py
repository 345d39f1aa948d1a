"""Small models for the converter tests that the conformance set lacks: two inputs and two outputs, a PyTorch CNN."""
from __future__ import annotations

import numpy as np

SEED = 7


def two_input_two_output():
    """A tabular branch and an image branch joined; a class-score head and a regression head."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    left = keras.Input((6,), name="left")
    right = keras.Input((6, 6, 2), name="right")
    a = layers.Dense(8, activation="relu")(left)
    b = layers.Conv2D(4, 3, activation="relu")(right)
    b = layers.Flatten()(b)
    h = layers.Concatenate()([a, b])
    probs = layers.Dense(5, activation="softmax", name="probs")(h)
    score = layers.Dense(1, name="score")(h)
    return keras.Model([left, right], [probs, score], name="two_io")


def two_io_samples(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"left": rng.uniform(-1, 1, (n, 6)).astype(np.float32),
            "right": rng.uniform(0, 1, (n, 6, 6, 2)).astype(np.float32)}


def torch_cnn():
    """Conv-BN-ReLU, a strided conv, a linear head: NCHW 3x16x16 in, 10 scores out."""
    import torch

    torch.manual_seed(SEED)

    class SmallCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2)
            self.fc = torch.nn.Linear(16 * 7 * 7, 10)

        def forward(self, x):
            x = torch.relu(self.bn(self.c1(x)))
            x = torch.relu(self.c2(x))
            return self.fc(torch.flatten(x, 1))

    net = SmallCNN()
    with torch.no_grad():  # BatchNorm statistics away from (0, 1), so folding it is not a no-op
        net.bn.running_mean.uniform_(-0.2, 0.2)
        net.bn.running_var.uniform_(0.5, 2.0)
    return net.eval()
