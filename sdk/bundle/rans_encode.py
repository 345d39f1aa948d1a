"""The rANS encoder matching `edgewise.runtime.bundle.rans` (format in docs/bundle.md).

Frequencies are the symbol counts scaled to M = 2**n (every present symbol keeps at least 1).
The precision n is chosen per stream to minimise the coded size: the table grows with n, the
quantisation loss sum(count * log2(p / (f/M))) shrinks with it.

Encoding runs backwards through the symbols (rANS is last-in first-out) with all lanes of a
stream as one NumPy vector per step, so the decoder reads forwards.
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from edgewise.runtime.bundle.rans import MAX_LANE_SYMBOLS, MAX_PRECISION, RANS_L


def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def quantize_freqs(counts: np.ndarray, precision: int) -> np.ndarray:
    """Integer frequencies summing to 2**precision, >= 1 for every symbol that occurs."""
    m = 1 << precision
    total = int(counts.sum())
    present = counts > 0
    if int(present.sum()) > m:
        raise ValueError(f"{int(present.sum())} distinct symbols do not fit {precision}-bit precision")
    f = np.floor(counts * (m / total)).astype(np.int64)
    f[present & (f == 0)] = 1
    diff = m - int(f.sum())
    if diff > 0:  # hand the remainder to the largest fractional parts
        frac = counts * (m / total) - f
        frac[~present] = -1
        order = np.argsort(-frac, kind="stable")
        k = int(present.sum())
        f[order[:k]] += diff // k
        f[order[: diff % k]] += 1
    elif diff < 0:  # take back from the symbols that lose least per unit taken: the most frequent
        for s in np.argsort(-counts, kind="stable"):
            if diff == 0:
                break
            take = min(int(f[s]) - 1, -diff)
            f[s] -= take
            diff += take
    return f


def table_bytes(freqs: np.ndarray) -> bytes:
    """varint 2k + mode, then mode 0: per present symbol (gap to the previous - 1, freq - 1);
    mode 1: presence bitmap over the alphabet, then freq - 1 per present symbol. The smaller wins."""
    syms = np.nonzero(freqs)[0]
    f = b"".join(varint(int(v) - 1) for v in freqs[syms])
    pairs = bytearray()
    prev = -1
    for s, v in zip(syms.tolist(), freqs[syms].tolist()):
        pairs += varint(s - prev - 1)
        pairs += varint(v - 1)
        prev = s
    bitmap = np.packbits(freqs > 0, bitorder="little").tobytes() + f
    if len(bitmap) < len(pairs):
        return varint(2 * len(syms) + 1) + bitmap
    return varint(2 * len(syms)) + bytes(pairs)


def coded_bits(counts: np.ndarray, freqs: np.ndarray, precision: int) -> float:
    used = counts > 0
    return float(np.sum(counts[used] * (precision - np.log2(freqs[used]))))


def choose_precision(counts: np.ndarray) -> Tuple[int, np.ndarray, float]:
    """(n, frequencies, estimated payload bytes incl. table) minimising the estimate."""
    k = int(np.count_nonzero(counts))
    best = None
    # M beyond ~4x the symbol count buys nothing but a bigger decoding table (2**n slots).
    top = min(MAX_PRECISION, max(int(counts.sum()).bit_length() + 2, 1))
    for n in range(max(1, math.ceil(math.log2(max(k, 2)))), max(top, math.ceil(math.log2(max(k, 2)))) + 1):
        f = quantize_freqs(counts, n)
        size = coded_bits(counts, f, n) / 8 + len(table_bytes(f))
        if best is None or size < best[2]:
            best = (n, f, size)
    return best


def encode(symbols: np.ndarray, alphabet: int, lanes: int, precision: int, freqs: np.ndarray) -> bytes:
    """The stream bytes: precision, lanes, table, final lane states, words."""
    n = len(symbols)
    if not 1 <= lanes <= n or -(-n // lanes) > MAX_LANE_SYMBOLS:
        raise ValueError(f"bad lane count {lanes} for {n} symbols")
    if len(freqs) != alphabet:
        raise ValueError("frequency table does not match the alphabet")
    if 1 << precision > 8 * n:
        raise ValueError(f"precision {precision} is over the format's limit for {n} symbols (2**n <= 8 x count)")
    sym = np.asarray(symbols, np.int64)
    f_all = freqs.astype(np.uint64)
    c_all = np.concatenate(([0], np.cumsum(freqs)[:-1])).astype(np.uint64)
    if np.any(f_all[sym] == 0):
        raise ValueError("a symbol has zero frequency")
    x = np.full(lanes, RANS_L, np.uint64)
    shift_max = np.uint64(32 - precision)
    nprec = np.uint64(precision)
    w16 = np.uint64(16)
    chunks = []
    steps = -(-n // lanes)
    for t in range(steps - 1, -1, -1):
        lo = t * lanes
        k = min(lanes, n - lo)
        s = sym[lo:lo + k]
        f, c = f_all[s], c_all[s]
        xs = x[:k]
        need = xs >= (f << shift_max)
        if need.any():
            chunks.append((xs[need] & np.uint64(0xFFFF))[::-1])
            xs = np.where(need, xs >> w16, xs)
        x[:k] = ((xs // f) << nprec) + (xs % f) + c
    words = np.concatenate(chunks)[::-1] if chunks else np.zeros(0, np.uint64)
    return (bytes([precision]) + varint(lanes) + table_bytes(freqs) + x.astype("<u4").tobytes()
            + words.astype("<u2").tobytes())
