"""Low-rank factorization of Dense and Conv kernels by truncated SVD (Denton et al. 2014; Jaderberg
et al. 2014; Kim et al. 2016 for Tucker-2).

* Dense (in, out) and Conv 1x1: K = U S V^T truncated to rank r, split as (U_r S_r^1/2)(S_r^1/2 V_r^T):
  two layers, in -> r (no bias) -> out (bias, activation). Fewer parameters iff r (in + out) < in out.
* Conv kh x kw, "spatial" (Jaderberg's scheme 2): K reshaped to ((kh, in), (kw, out)) and
  truncated: a kh x 1 conv in -> r then a 1 x kw conv r -> out. Exact at full rank, padding and
  strides split per axis, so "same" and "valid" both carry over.
* Conv kh x kw, "tucker2": K ~ core x_in U_in x_out U_out (HOSVD on the channel modes): 1x1 in -> r1,
  kh x kw r1 -> r2, 1x1 r2 -> out.

The rank of each unfolding is the smallest reaching `energy` of the squared singular values, or,
with `param_fraction`, the largest whose factor parameters stay within that fraction of the
original's. A layer is only replaced where that reduces parameters; the others are listed with
the reason. Each factorised layer becomes a small nested Sequential named like the original.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from edgewise.runtime.records import Record

from ..select import selected

CONV_MODES = ("spatial", "tucker2")


@dataclass(frozen=True)
class LowRankConfig(Record):
    """Rank by `energy` (fraction of sum sigma^2 kept) unless `param_fraction` (budget per layer) is set."""

    energy: float = 0.95
    param_fraction: Optional[float] = None
    conv: str = "spatial"
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()

    def __post_init__(self):
        if not 0.0 < self.energy <= 1.0:
            raise ValueError(f"LowRankConfig.energy must be in (0, 1], got {self.energy}")
        if self.param_fraction is not None and not 0.0 < self.param_fraction < 1.0:
            raise ValueError(f"LowRankConfig.param_fraction must be in (0, 1), got {self.param_fraction}")
        if self.conv not in CONV_MODES:
            raise ValueError(f"LowRankConfig.conv must be one of {CONV_MODES}, got {self.conv!r}")


@dataclass(frozen=True)
class FactorizedLayer(Record):
    """One layer's outcome: its kind ('svd', 'spatial', 'tucker2' or 'kept'), ranks and parameter counts."""

    layer: str
    kind: str
    ranks: Tuple[int, ...]
    params_before: int
    params_after: int
    reason: str = ""


@dataclass(frozen=True)
class LowRankResult:
    model: object
    layers: Tuple[FactorizedLayer, ...]


def energy_rank(s: np.ndarray, energy: float) -> int:
    """Smallest r with sum(s[:r]^2) >= energy * sum(s^2)."""
    e = np.cumsum(np.asarray(s, np.float64) ** 2)
    if e[-1] == 0:
        return 1
    return int(min(np.searchsorted(e, energy * e[-1] * (1 - 1e-12)) + 1, s.size))


def _rank(s: np.ndarray, config: LowRankConfig, cost_per_rank: int, original: int) -> int:
    if config.param_fraction is not None:
        return max(1, min(s.size, int(config.param_fraction * original // cost_per_rank)))
    return energy_rank(s, config.energy)


def _svd_split(m: np.ndarray, r: int) -> Tuple[np.ndarray, np.ndarray]:
    u, s, vt = np.linalg.svd(np.asarray(m, np.float64), full_matrices=False)
    root = np.sqrt(s[:r])
    return (u[:, :r] * root).astype(np.float32), (root[:, None] * vt[:r]).astype(np.float32)


def _plan(layer, config: LowRankConfig):
    """(FactorizedLayer, list of (layer class, config overrides, weights)) or (FactorizedLayer, None)."""
    kind = type(layer).__name__
    k = layer.kernel.numpy()
    bias = [layer.bias.numpy()] if getattr(layer, "use_bias", False) else []
    before = int(k.size)
    cfg = layer.get_config()
    if kind == "Conv2D" and (tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1) or cfg.get("groups", 1) != 1):
        return FactorizedLayer(layer.name, "kept", (), before, before, "dilated or grouped convolution"), None
    if kind == "Dense" or (kind == "Conv2D" and k.shape[:2] == (1, 1)):
        cin, cout = k.shape[-2], k.shape[-1]
        m = k.reshape(cin, cout)
        s = np.linalg.svd(m, compute_uv=False)
        r = _rank(s, config, cin + cout, before)
        after = r * (cin + cout)
        if after >= before:
            return FactorizedLayer(layer.name, "kept", (r,), before, before,
                                   f"rank {r} needs {after} weights, not fewer than {before}"), None
        a, b = _svd_split(m, r)
        if kind == "Dense":
            first = ("Dense", dict(units=r, use_bias=False, activation=None), [a])
            second = ("Dense", dict(units=cout), [b] + bias)
        else:
            first = ("Conv2D", dict(filters=r, use_bias=False, activation=None), [a.reshape(1, 1, cin, r)])
            second = ("Conv2D", dict(filters=cout, strides=(1, 1), padding="valid"), [b.reshape(1, 1, r, cout)] + bias)
        return FactorizedLayer(layer.name, "svd", (r,), before, after), [first, second]
    if kind != "Conv2D":
        return FactorizedLayer(layer.name, "kept", (), before, before, f"{kind} is not factorised"), None
    kh, kw, cin, cout = k.shape
    if config.conv == "spatial":
        m = k.transpose(0, 2, 1, 3).reshape(kh * cin, kw * cout)
        s = np.linalg.svd(m, compute_uv=False)
        r = _rank(s, config, kh * cin + kw * cout, before)
        after = r * (kh * cin + kw * cout)
        if after >= before:
            return FactorizedLayer(layer.name, "kept", (r,), before, before,
                                   f"rank {r} needs {after} weights, not fewer than {before}"), None
        a, b = _svd_split(m, r)
        vertical = a.reshape(kh, cin, r)[:, None]  # (kh, 1, cin, r)
        horizontal = b.reshape(r, kw, cout).transpose(1, 0, 2)[None]  # (1, kw, r, cout)
        sh, sw = cfg["strides"]
        return FactorizedLayer(layer.name, "spatial", (r,), before, after), [
            ("Conv2D", dict(filters=r, kernel_size=(kh, 1), strides=(sh, 1), use_bias=False, activation=None),
             [vertical]),
            ("Conv2D", dict(filters=cout, kernel_size=(1, kw), strides=(1, sw)), [horizontal] + bias)]
    u_in, s_in, _ = np.linalg.svd(k.transpose(2, 0, 1, 3).reshape(cin, -1), full_matrices=False)
    u_out, s_out, _ = np.linalg.svd(k.transpose(3, 0, 1, 2).reshape(cout, -1), full_matrices=False)
    if config.param_fraction is not None:  # share the budget: r1 / r2 in proportion to cin / cout
        budget = config.param_fraction * before
        scale = 1.0
        while True:
            r1 = max(1, int(cin * scale))
            r2 = max(1, int(cout * scale))
            if cin * r1 + kh * kw * r1 * r2 + r2 * cout <= budget or scale < 1e-3:
                break
            scale *= 0.95
    else:
        r1, r2 = energy_rank(s_in, config.energy), energy_rank(s_out, config.energy)
    after = cin * r1 + kh * kw * r1 * r2 + r2 * cout
    if after >= before:
        return FactorizedLayer(layer.name, "kept", (r1, r2), before, before,
                               f"ranks {r1}, {r2} need {after} weights, not fewer than {before}"), None
    ui, uo = u_in[:, :r1], u_out[:, :r2]
    core = np.einsum("hwio,ir,os->hwrs", k.astype(np.float64), ui, uo).astype(np.float32)
    return FactorizedLayer(layer.name, "tucker2", (r1, r2), before, after), [
        ("Conv2D", dict(filters=r1, kernel_size=(1, 1), strides=(1, 1), padding="valid", use_bias=False,
                        activation=None), [ui.astype(np.float32)[None, None]]),
        ("Conv2D", dict(filters=r2, use_bias=False, activation=None), [core]),
        ("Conv2D", dict(filters=cout, kernel_size=(1, 1), strides=(1, 1), padding="valid"),
         [uo.T.astype(np.float32)[None, None]] + bias)]


def factorize(model, config: LowRankConfig) -> LowRankResult:
    """A new model with each selected Dense/Conv2D replaced by its low-rank factors where that is smaller."""
    import keras

    candidates = [layer for layer in model.layers if type(layer).__name__ in ("Dense", "Conv2D")]
    if not candidates:
        raise ValueError(f"model {model.name!r} has no Dense or Conv2D layer to factorise")
    names = set(selected([layer.name for layer in candidates], config.include, config.exclude, "LowRankConfig"))
    plans: Dict[str, Tuple[FactorizedLayer, Optional[List]]] = {
        layer.name: _plan(layer, config) for layer in candidates if layer.name in names}

    def clone(layer):
        plan = plans.get(layer.name)
        if plan is None or plan[1] is None:
            return type(layer).from_config(layer.get_config())
        base = layer.get_config()
        parts = []
        for i, (cls_name, overrides, weights) in enumerate(plan[1]):
            cfg = dict(base, **overrides, name=f"{layer.name}_f{i}")
            if i < len(plan[1]) - 1:
                cfg["activation"] = None
            parts.append((getattr(keras.layers, cls_name).from_config(cfg), weights))
        sub = keras.Sequential([keras.Input(tuple(layer.input.shape[1:]))] + [p for p, _ in parts], name=layer.name)
        for part, weights in parts:
            part.set_weights(weights)
        return sub

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        plan = plans.get(layer.name)
        if (plan is None or plan[1] is None) and layer.weights:
            new.get_layer(layer.name).set_weights(layer.get_weights())
    outcome = tuple(p[0] for p in plans.values())
    return LowRankResult(new, outcome)
