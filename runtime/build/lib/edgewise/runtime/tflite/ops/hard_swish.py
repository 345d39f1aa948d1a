"""int8 HARD_SWISH: reference_ops::HardSwish's 16-bit fixed-point arithmetic, evaluated for all 256
inputs at once (HardSwishPrepare computes the two multipliers in float32, as here)."""
from __future__ import annotations

import numpy as np

from .. import quant
from .lut import INT8_VALUES

F32 = np.float32
I16_MIN, I16_MAX = -32768, 32767


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    t = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    r = np.where(t >= 0, t >> 15, -((-t) >> 15))
    return np.where((np.asarray(a) == I16_MIN) & (np.asarray(b) == I16_MIN), I16_MAX, r)


def _sdhm16(a, b):
    """SaturatingDoublingHighMul (no rounding): (a*b) / 2^15 truncated toward zero."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    r = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((np.asarray(a) == I16_MIN) & (np.asarray(b) == I16_MIN), I16_MAX, r)


def _sat_left_shift16(v, amount):
    return np.clip(np.asarray(v, np.int64) * (1 << amount), I16_MIN, I16_MAX)


def _int16_multiplier(m32: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if m32 >= (1 << 31) - 1 - (1 << 15):
        return I16_MAX
    return (m32 + (1 << 15)) >> 16


def hard_swish_int8_table(s_in, z_in, s_out, z_out) -> np.ndarray:
    hires_scale = F32(F32(1.0 / 128.0) * F32(s_in))
    out_m32, out_exp = quant.quantize_multiplier(float(F32(hires_scale / F32(s_out))))
    relu_m32, relu_exp = quant.quantize_multiplier(float(F32(hires_scale / F32(3.0 / 32768.0))))
    out_m, relu_m = _int16_multiplier(out_m32), _int16_multiplier(relu_m32)
    if out_exp > 0:
        raise ValueError("HardSwish output multiplier exponent must be <= 0")
    v = (INT8_VALUES - z_in).astype(np.int64)
    hires = v * 128
    preshift_out = _srdhm16(hires, out_m)
    reluish = hires
    if relu_exp > 0:
        reluish = _sat_left_shift16(reluish, relu_exp - 1)
    reluish = _srdhm16(reluish, relu_m)
    if relu_exp > 0:
        reluish = _sat_left_shift16(reluish, 1)
    if relu_exp < 0:
        reluish = quant.rounding_divide_by_pot(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1
    pre = _sdhm16(reluish, preshift_out)
    out = quant.rounding_divide_by_pot(pre, -out_exp) + z_out
    return np.clip(out, -128, 127).astype(np.int8)
