"""Small helpers shared by kernels: axis normalisation and the ONNX padding rules."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def norm_axes(axes, rank: int) -> Tuple[int, ...]:
    return tuple(norm_axis(int(a), rank) for a in np.asarray(axes).reshape(-1))


def pads_for(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    auto_pad: str,
    pads: Optional[Sequence[int]],
) -> List[int]:
    """Explicit [begin..., end...] pads for Conv/pooling, resolving auto_pad as the ONNX spec says:
    SAME_* pads so that out = ceil(in / stride); the odd pixel goes at the end (UPPER) or start (LOWER).
    """
    n = len(in_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(n):
            out = -(-in_shape[i] // strides[i])
            eff = (kernel[i] - 1) * dilations[i] + 1
            total = max(0, (out - 1) * strides[i] + eff - in_shape[i])
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return begin + end
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad not in ("NOTSET", ""):
        raise ValueError(f"auto_pad {auto_pad!r} is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
    return list(pads) if pads is not None else [0] * (2 * n)


def windows(xp: np.ndarray, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]) -> np.ndarray:
    """A strided view (N, C, *out, *kernel) of the (already padded) input: every window at once."""
    n = len(kernel)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    v = np.lib.stride_tricks.sliding_window_view(xp, eff, axis=tuple(range(2, 2 + n)))
    sl = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides) + tuple(
        slice(None, None, d) for d in dilations
    )
    return v[sl]


def pad_constant(x: np.ndarray, widths: Sequence[Tuple[int, int]], value=0) -> np.ndarray:
    """np.pad(x, widths, constant_values=value) for non-negative widths, without np.pad's per-axis
    Python work (~25 us a call, which a small convolution cannot afford): one fill, one copy."""
    if not any(b or e for b, e in widths):
        return x
    if any(b < 0 or e < 0 for b, e in widths):
        raise ValueError(f"negative pads {list(widths)}")
    shape = tuple(d + b + e for d, (b, e) in zip(x.shape, widths))
    out = np.full(shape, value, x.dtype) if value else np.zeros(shape, x.dtype)
    out[tuple(slice(b, b + d) for d, (b, _) in zip(x.shape, widths))] = x
    return out
