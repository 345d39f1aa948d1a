"""Choose how each weight tensor is coded: the layout and, per stream, rANS, DEFLATE, raw or constant.

Candidates for a tensor of n elements of w bytes (docs/bundle.md, "Tensor layouts"):

- raw: the bytes as one stream (still entropy-coded when that pays);
- planes: byte k of every element as stream k (float weights: sign and exponent are cheap);
- dense / mask / gaps over a codebook of the distinct values (int8, k-bit and clustered weights
  have at most 256, 2**k or k of them): indices of every element; or the positions of the
  elements that differ from the most frequent value (pruned zeros) as a 0/1 mask or as gaps,
  then indices of those elements only.

For i.i.d. zeros the three are equally good (chain rule: H(X) = H(X != 0) + P(X != 0) H(X | X != 0));
gaps win on structured sparsity and take far fewer symbols (each symbol costs a share of a lane
state, see STEPS); the mask wins when zeros are rare. Each candidate is priced by the coded size
of its streams (rANS: the order-0 size plus table and lane states; DEFLATE: its actual size) and
the cheapest is kept; the choice is recorded in the manifest.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from edgewise.runtime.bundle.rans import STEP_COST_SYMBOLS

from .rans_encode import choose_precision, varint

MAX_CODEBOOK = 4096
GAP_ESCAPES = (3, 7, 15, 31, 63, 127, 255, 1023, 4095)
# Lockstep iterations of the decoder: each stream gets ceil(count / STEPS) lanes of 4-byte state.
# The decoder's cost is ~STEPS Python iterations (tens of microseconds each), whatever the model;
# the price is 4 / STEPS bytes per symbol (1/6 bit at 192), which the estimates include, so the
# choice prefers layouts with few, informative symbols (gaps over a 0/1 mask on sparse tensors).
STEPS = 192
# A stream is entropy-coded only if that saves at least this fraction of its raw size: decoding costs
# time that a 1% saving (the mantissa bytes of float weights) does not repay.
MIN_GAIN = 0.02
# A stream is stored as DEFLATE (Huffman) rather than rANS when that costs at most this much more:
# zlib inflates at C speed where rANS decoding costs Python/NumPy steps. Huffman codes each symbol
# in whole bits, so rANS keeps the streams below ~1 bit per symbol (masks, sparse gaps) and the
# short ones (a Huffman table costs ~30-100 bytes); DEFLATE takes the wide value streams, where it
# lands within 1-4% of the entropy (the lockstep's lane states alone cost rANS 1/6 bit per symbol).
DEFLATE_MARGIN = 0.01


def entropy_bytes(symbols: np.ndarray, alphabet: int) -> float:
    """n * H0 / 8: the order-0 empirical entropy of the stream, the floor for any order-0 coder."""
    if len(symbols) == 0:
        return 0.0
    counts = np.bincount(symbols, minlength=alphabet)
    p = counts[counts > 0] / len(symbols)
    return float(-(counts[counts > 0] * np.log2(p)).sum() / 8)


def multinomial_complexity_bits(k: int, n: int) -> float:
    """log2 C(k, n): the parametric complexity of the k-ary multinomial over n symbols (Shtarkov's
    sum of maximum-likelihood probabilities over all k**n sequences).

    Kontkanen & Myllymaki 2007 ("A linear-time algorithm for computing the multinomial stochastic
    complexity", IPL 103): C(1, n) = 1, C(2, n) = sum_h binom(n, h) (h/n)**h ((n-h)/n)**(n-h), and
    C(j + 2, n) = C(j + 1, n) + n / j * C(j, n). Kept as log ratios: C grows like n**((k-1)/2).
    """
    if k <= 1 or n == 0:
        return 0.0
    h = np.arange(n + 1, dtype=np.float64)
    lg = np.array([math.lgamma(v + 1) for v in range(n + 1)])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = lg[n] - lg - lg[::-1] + np.where(h > 0, h * np.log(h / n), 0) + np.where(h < n, (n - h) * np.log((n - h) / n), 0)
    top = terms.max()
    log_c = [0.0, top + math.log(np.exp(terms - top).sum())]  # ln C(1, n), ln C(2, n)
    for j in range(1, k - 1):  # ln C(j + 2) = ln C(j + 1) + ln(1 + n / j * C(j) / C(j + 1))
        log_c.append(log_c[-1] + math.log1p(n / j * math.exp(log_c[-2] - log_c[-1])))
    return log_c[k - 1] / math.log(2)


def two_part_bytes(symbols: np.ndarray, alphabet: int) -> float:
    """Bytes of an ideal two-part code of the stream: name the k symbols present among the
    alphabet (log2 binom(alphabet, k) bits), then code the stream with the normalized maximum
    likelihood distribution over them, n H0 + log2 C(k, n) bits (Shtarkov 1987; Rissanen 1996,
    "Fisher information and stochastic complexity"). What a coder that learns the statistics from
    the stream itself can reach without wasting anything on tables or states; n H0 alone is out
    of reach for short streams (16 distinct bytes have H0 = 4 bits but carry 8 each).

    An achievable reference, not a lower bound: a raw copy of 16 distinct bytes (16 bytes) beats it.
    """
    n = len(symbols)
    if n == 0:
        return 0.0
    k = int(np.count_nonzero(np.bincount(symbols, minlength=alphabet)))
    support = (math.lgamma(alphabet + 1) - math.lgamma(k + 1) - math.lgamma(alphabet - k + 1)) / math.log(2)
    return float(entropy_bytes(symbols, alphabet) + (support + multinomial_complexity_bits(k, n)) / 8)


@dataclass
class StreamPlan:
    role: str
    symbols: np.ndarray  # int64
    alphabet: int
    coding: str = "raw"
    precision: int = 0
    freqs: Optional[np.ndarray] = None
    estimate: float = 0.0  # bytes, without lane states
    payload: bytes = b""  # the stored bytes of a deflate stream

    @property
    def raw_size(self) -> int:
        return len(self.symbols) * (1 if self.alphabet <= 256 else 2)

    def raw_bytes(self) -> bytes:
        return self.symbols.astype("<u1" if self.alphabet <= 256 else "<u2").tobytes()


def deflate(data: bytes) -> bytes:
    """The smaller raw DEFLATE stream (RFC 1951, level 9) of Huffman coding alone and of LZ77 +
    Huffman. Huffman-only is the usual winner on weight symbols: it is an order-0 code, and the
    stdlib's zlib decodes it at C speed."""
    best = None
    for strategy in (zlib.Z_HUFFMAN_ONLY, zlib.Z_DEFAULT_STRATEGY):
        c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, strategy)
        out = c.compress(data) + c.flush()
        if best is None or len(out) < len(best):
            best = out
    return best


def plan_stream(role: str, symbols: np.ndarray, alphabet: int, steps: int = STEPS) -> StreamPlan:
    """The cheapest of raw, const, deflate and rANS for one stream; rANS priced with the lane
    states `steps` implies (lanes_for: 0 = one lane)."""
    s = StreamPlan(role, np.asarray(symbols, np.int64), alphabet)
    n = len(s.symbols)
    if n == 0:
        return s
    counts = np.bincount(s.symbols, minlength=alphabet)
    if int(np.count_nonzero(counts)) == 1:
        s.coding = "const"
        return s
    precision, freqs, est = choose_precision(counts)
    lanes = lanes_for(n, steps)
    est += 1 + len(varint(lanes)) + 4 * lanes  # precision byte, lane count, lane states
    s.estimate = float(s.raw_size)
    packed = deflate(s.raw_bytes())
    if len(packed) <= est * (1 + DEFLATE_MARGIN) and len(packed) < s.raw_size * (1 - MIN_GAIN):
        s.coding, s.payload, s.estimate = "deflate", packed, float(len(packed))
    elif est < s.raw_size * (1 - MIN_GAIN):
        s.coding, s.precision, s.freqs, s.estimate = "rans", precision, freqs, est
    return s


@dataclass
class TensorPlan:
    layout: str
    streams: List[StreamPlan]
    codebook: Optional[np.ndarray] = None  # little-endian words of the element width
    fill: int = 0
    gap_escape: int = 0

    @property
    def estimate(self) -> float:
        book = 0 if self.codebook is None else self.codebook.nbytes
        return book + sum(s.estimate for s in self.streams)



def gap_symbols(positions: np.ndarray, escape: int) -> np.ndarray:
    """Gaps before each position (g = p_i - p_{i-1} - 1) written as g // E escapes E, then g % E."""
    gaps = np.diff(np.concatenate(([-1], positions))) - 1
    k = gaps // escape
    out = np.full(int(k.sum()) + len(gaps), escape, np.int64)
    out[np.cumsum(k + 1) - 1] = gaps % escape
    return out


def _codebook_plans(words: np.ndarray, steps: int) -> List[TensorPlan]:
    """dense / mask / gaps over the distinct values; 1-byte elements index the 256 byte values
    directly (no codebook to store)."""
    if words.dtype.itemsize == 1:
        book, idx, k = None, words.astype(np.int64), 256
    else:
        book, idx = np.unique(words, return_inverse=True)
        idx = idx.reshape(-1).astype(np.int64)
        k = len(book)
        book = book.astype(words.dtype)
    plans = [TensorPlan("dense", [plan_stream("indices", idx, k, steps)], book)]
    fill = int(np.argmax(np.bincount(idx, minlength=k)))
    keep = idx != fill
    positions = np.nonzero(keep)[0]
    values = plan_stream("values", idx[keep], k, steps)
    if len(positions) < len(idx):
        plans.append(TensorPlan("mask", [plan_stream("mask", keep.astype(np.int64), 2, steps), values], book, fill))
        best = None
        for e in GAP_ESCAPES:
            g = plan_stream("gaps", gap_symbols(positions, e), e + 1, steps)
            if best is None or g.estimate < best[1].estimate:
                best = (e, g)
        plans.append(TensorPlan("gaps", [best[1], values], book, fill, best[0]))
    return plans


def plan_tensor(words: np.ndarray, layouts: Optional[Tuple[str, ...]] = None, steps: int = STEPS) -> TensorPlan:
    """The cheapest coding of a tensor given as little-endian words of its element width
    (among `layouts` only, if given: tests use it to exercise each one)."""
    width = words.dtype.itemsize
    raw = words.view(np.uint8)
    plans = [TensorPlan("raw", [plan_stream("bytes", raw, 256, steps)])]
    if width > 1 and len(words):
        planes = raw.reshape(len(words), width)
        plans.append(TensorPlan("planes", [plan_stream(f"plane{i}", planes[:, i], 256, steps) for i in range(width)]))
    if len(words):
        distinct = len(np.unique(words)) if width > 1 else 0
        if width == 1 or distinct <= MAX_CODEBOOK and (distinct * width < words.nbytes or layouts is not None):
            plans += _codebook_plans(words, steps)
    if layouts is not None:
        plans = [p for p in plans if p.layout in layouts]
        if not plans:
            raise ValueError(f"none of the layouts {layouts} applies to this tensor")
    return min(plans, key=lambda p: p.estimate)


def lanes_for(count: int, steps: int = STEPS) -> int:
    """ceil(count / steps) lanes: the NumPy lockstep decodes the stream in `steps` iterations;
    steps = 0 means one lane (the decoder's scalar loop; 4 bytes of state in all)."""
    if steps <= 0:
        return 1
    return -(-count // steps)


def choose_lanes(plans: List[TensorPlan], steps: int = STEPS) -> Tuple[int, int]:
    """(steps, total lanes) for a model's rANS streams.

    A model whose coded symbols decode faster one at a time than in `steps` lockstep iterations
    (fewer than steps x STEP_COST_SYMBOLS of them: small models) gets one lane per stream (steps =
    0): the decoder runs them in its scalar loop and the file carries one 4-byte state per stream.
    Otherwise every stream gets ceil(count / steps) lanes, so all of them decode in `steps`
    iterations whatever the model's size (the decoder's split_scalar makes the same estimate).
    """
    coded = [s for p in plans for s in p.streams if s.coding == "rans"]
    if not coded:
        return steps, 0
    if sum(len(s.symbols) for s in coded) < steps * STEP_COST_SYMBOLS:
        steps = 0
    return steps, sum(lanes_for(len(s.symbols), steps) for s in coded)
