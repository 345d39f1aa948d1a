"""Activation functions. Constants are float32 like the attributes they come from, so results
match onnxruntime's float32 arithmetic."""
from __future__ import annotations

import numpy as np

from .elementwise import Erf


def Relu(X):
    return np.maximum(X, X.dtype.type(0))


def LeakyRelu(X, *, alpha=0.01):
    return np.where(X >= 0, X, X * X.dtype.type(alpha))


def Elu(X, *, alpha=1.0):
    return np.where(X >= 0, X, X.dtype.type(alpha) * (np.exp(X) - X.dtype.type(1))).astype(X.dtype)


def Sigmoid(X):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so that neither branch overflows."""
    e = np.exp(-np.abs(X))
    return np.where(X >= 0, 1 / (1 + e), e / (1 + e)).astype(X.dtype)


def HardSigmoid(X, *, alpha=0.2, beta=0.5):
    t = X.dtype.type
    return np.clip(X * t(alpha) + t(beta), t(0), t(1))


def HardSwish(X):
    t = X.dtype.type
    return X * np.clip(X * t(1 / 6) + t(0.5), t(0), t(1))


def Tanh(input):
    return np.tanh(input)


def Gelu(X, *, approximate="none"):
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh form of Hendrycks & Gimpel (arXiv:1606.08415)."""
    x = X.astype(np.float64)
    if approximate == "tanh":
        y = np.multiply(x, x)  # 0.5 x (1 + tanh(c x (1 + 0.044715 x^2))), in place, no pow
        y *= 0.044715
        y += 1.0
        y *= x
        y *= np.sqrt(2 / np.pi)
        np.tanh(y, out=y)
        y += 1.0
        y *= x
        y *= 0.5
    elif approximate == "none":
        y = 0.5 * x * (1 + Erf(x / np.sqrt(2)))
    else:
        raise ValueError(f"approximate={approximate!r} is not 'none' or 'tanh'")
    return y.astype(X.dtype)


def Clip_6(input, *, min=-3.4028234663852886e38, max=3.4028234663852886e38):
    return np.clip(input, input.dtype.type(min), input.dtype.type(max))


def Clip(input, min=None, max=None):
    """minimum(maximum(input, min), max), as the spec; np.clip computes exactly that in one pass."""
    if min is not None and max is not None:
        return np.clip(input, min.astype(input.dtype), max.astype(input.dtype))
    out = input
    if min is not None:
        out = np.maximum(out, min.astype(input.dtype))
    if max is not None:
        out = np.minimum(out, max.astype(input.dtype))
    return out


def PRelu(X, slope):
    return np.where(X >= 0, X, X * slope).astype(X.dtype)


def Softplus(X):
    return np.logaddexp(X, X.dtype.type(0)).astype(X.dtype)


def Selu(X, *, alpha=1.6732632423543772, gamma=1.0507009873554805):
    """Klambauer et al., 2017: gamma * (x if x > 0 else alpha * (exp(x) - 1))."""
    t = X.dtype.type
    return (t(gamma) * np.where(X > 0, X, t(alpha) * (np.exp(X) - t(1)))).astype(X.dtype)


def Celu(X, *, alpha=1.0):
    """Barron, 2017: max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    t = X.dtype.type
    return (np.maximum(X, t(0)) + np.minimum(t(0), t(alpha) * (np.exp(X / t(alpha)) - t(1)))).astype(X.dtype)


def ThresholdedRelu(X, *, alpha=1.0):
    return np.where(X > X.dtype.type(alpha), X, X.dtype.type(0))


def Softsign(input):
    return (input / (1 + np.abs(input))).astype(input.dtype)


def Mish(X):
    """Misra, 2019: x * tanh(softplus(x))."""
    return (X * np.tanh(np.logaddexp(X, X.dtype.type(0)))).astype(X.dtype)


def Shrink(input, *, bias=0.0, lambd=0.5):
    t = input.dtype.type if input.dtype.kind == "f" else np.float64
    x = input.astype(t)
    y = np.where(x < -t(lambd), x + t(bias), np.where(x > t(lambd), x - t(bias), t(0)))
    return y.astype(input.dtype)
