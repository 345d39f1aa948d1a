"""Interleaved rANS decoding with NumPy: many lanes of many streams advance in lockstep.

rANS (Duda 2013, "Asymmetric numeral systems"; the 32-bit state / 16-bit word variant of Giesen's
ryg_rans) codes a symbol of probability f/M in log2(M/f) bits, so it reaches the order-0 entropy
of a stream even below one bit per symbol, where Huffman cannot go under one bit.

Parameters fixed by the format (docs/bundle.md): state x in [2**16, 2**32), renormalisation by one
16-bit little-endian word, precision n <= 16 bits (M = 2**n). Decoding one symbol:

    slot = x mod M;  s = the symbol with cum[s] <= slot < cum[s] + f[s]
    x = f[s] * (x >> n) + slot - cum[s];  if x < 2**16: x = (x << 16) | next word

Symbol i of a stream belongs to lane i mod L; lanes read their words from the stream's one word
array in (step, lane) order. Every lane starts from the state stored in the stream and must end
at exactly 2**16 (the encoder's initial state) with every word consumed: a cheap integrity check.

A Python loop over symbols would cost microseconds per symbol. Here each loop step decodes one
symbol for every lane of every stream at once, so the number of Python steps is the longest
lane's length (the format caps it at MAX_LANE_SYMBOLS), not the number of symbols.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

RANS_L = 1 << 16  # lower bound of the state; the encoder's initial state
MAX_PRECISION = 16
MAX_LANE_SYMBOLS = 1 << 16  # the format requires ceil(count / lanes) <= this: bounded decoding time
CHECK_EVERY = 16
# Cost of one NumPy lockstep iteration (~25 NumPy calls: ~15 us, call overhead whatever their width)
# in symbols of the scalar Python loop (~0.12 us each): measured 120-135 on x86-64, CPython 3.11,
# NumPy 2 (decode_scalar on 3,000 symbols vs decode_streams on 192 steps of 259 lanes). Rounded
# down: the lockstep's cost also grows with its width, the scalar loop's does not.
STEP_COST_SYMBOLS = 100


class StreamError(ValueError):
    """A coded stream is malformed; the caller names the tensor and member."""


def read_varint(data: bytes, pos: int, end: int) -> Tuple[int, int]:
    """LEB128 unsigned varint at data[pos:end] -> (value, next position); at most 10 bytes."""
    value = shift = 0
    for i in range(10):
        if pos >= end:
            raise StreamError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise StreamError("varint longer than 10 bytes")


def read_varints(data: bytes, pos: int, end: int, k: int) -> Tuple[np.ndarray, int]:
    """k LEB128 varints of at most 3 bytes each (table entries are < 2**17), vectorised."""
    buf = np.frombuffer(data, np.uint8, min(end - pos, 3 * k), pos).astype(np.int64)
    ends = np.flatnonzero(buf < 0x80)[:k]
    if len(ends) < k:
        raise StreamError("truncated frequency table")
    starts = np.concatenate(([0], ends[:-1] + 1))
    if np.any(ends - starts > 2):
        raise StreamError("frequency table entry longer than 3 bytes")
    pad = np.concatenate((buf, [0, 0]))
    second = np.where(ends > starts, pad[starts + 1] & 0x7F, 0)
    third = np.where(ends > starts + 1, pad[starts + 2] & 0x7F, 0)
    return (pad[starts] & 0x7F) | (second << 7) | (third << 14), pos + int(ends[-1]) + 1


@dataclass(frozen=True)
class RansStream:
    """One parsed rANS stream: what decoding needs, every size already checked."""

    count: int
    precision: int
    symbols: np.ndarray  # (k,) int64: the symbols with a non-zero frequency, increasing
    freqs: np.ndarray  # (k,) int64, their frequencies, summing to 2**precision
    states: np.ndarray  # (lanes,) uint64, each in [2**16, 2**32)
    words: np.ndarray  # (n_words,) uint64

    @property
    def lanes(self) -> int:
        return len(self.states)


def parse_stream(data: bytes, start: int, end: int, count: int, alphabet: int) -> RansStream:
    """Read `precision, lanes, frequency table, lane states, words` from data[start:end].

    Layout: u8 precision; varint lanes; varint 2k + mode (k symbols with non-zero frequency);
    mode 0: k pairs (varint gap to the previous such symbol - 1, varint frequency - 1); mode 1: a
    presence bitmap of ceil(alphabet / 8) bytes (LSB first), then k varints frequency - 1;
    lanes x u32 LE states; u16 LE words to the end.
    """
    if end - start < 1:
        raise StreamError("empty rANS stream")
    precision = data[start]
    if not 1 <= precision <= MAX_PRECISION:
        raise StreamError(f"precision {precision} bits is outside 1..{MAX_PRECISION}")
    if 1 << precision > 8 * count:  # bounds the decoding table by the symbols it decodes
        raise StreamError(f"precision {precision} bits for {count} symbols (2**precision may be at most 8 x count)")
    lanes, pos = read_varint(data, start + 1, end)
    if not 1 <= lanes <= count:
        raise StreamError(f"{lanes} lanes for {count} symbols (must be 1..{count})")
    if -(-count // lanes) > MAX_LANE_SYMBOLS:
        raise StreamError(f"{count} symbols in {lanes} lanes exceed {MAX_LANE_SYMBOLS} symbols per lane")
    head, pos = read_varint(data, pos, end)
    k, mode = head >> 1, head & 1
    if not 1 <= k <= min(alphabet, 1 << precision):
        raise StreamError(f"{k} coded symbols for an alphabet of {alphabet} at {precision} bits")
    if k > end - pos:
        raise StreamError(f"frequency table of {k} entries is longer than the stream")
    if mode:  # presence bitmap over the alphabet, LSB first, then the frequencies in symbol order
        nbytes = (alphabet + 7) // 8
        if nbytes > end - pos:
            raise StreamError("frequency bitmap is longer than the stream")
        present = np.nonzero(np.unpackbits(np.frombuffer(data, np.uint8, nbytes, pos), bitorder="little")[:alphabet])[0]
        pos += nbytes
        if len(present) != k:
            raise StreamError(f"frequency bitmap marks {len(present)} symbols, the table says {k}")
    if mode:
        f, pos = read_varints(data, pos, end, k)
        syms = present
    else:
        pairs, pos = read_varints(data, pos, end, 2 * k)
        syms = np.cumsum(pairs[0::2] + 1) - 1
        f = pairs[1::2]
    if k and (syms[-1] >= alphabet or f.max() >= 1 << precision):
        raise StreamError(f"frequency table names a symbol >= {alphabet} or a frequency > 2**{precision}")
    freqs = f + 1
    total = int(freqs.sum())
    if total != 1 << precision:
        raise StreamError(f"frequencies sum to {total}, expected 2**{precision}")
    if end - pos < 4 * lanes:
        raise StreamError(f"{lanes} lane states need {4 * lanes} bytes, {end - pos} remain")
    states = np.frombuffer(data, "<u4", lanes, pos).astype(np.uint64)
    pos += 4 * lanes
    if np.any(states < RANS_L):
        raise StreamError("a lane state is below 2**16")
    if (end - pos) % 2:
        raise StreamError(f"word area of {end - pos} bytes is not a whole number of 16-bit words")
    words = np.frombuffer(data, "<u2", (end - pos) // 2, pos).astype(np.uint64)
    return RansStream(count, precision, np.asarray(syms, np.int64), freqs, states, words)


def _slot_tables(streams: Sequence[RansStream]):
    """Per slot of every stream's [0, M) range: symbol, frequency, and slot - cum[symbol], so that
    one decoding step is x' = F[i] * (x >> n) + B[i] with i = base + (x mod M), and SYM[i]."""
    syms, fs, bs = [], [], []
    for s in streams:
        index = np.repeat(np.arange(len(s.freqs)), s.freqs)  # slot -> table entry
        local = s.symbols[index]
        cum = np.concatenate(([0], np.cumsum(s.freqs)[:-1]))[index]
        syms.append(local.astype(np.uint16))  # alphabets are at most 2**16 symbols
        fs.append(s.freqs[index])
        bs.append(np.arange(len(local)) - cum)
    return (np.concatenate(syms), np.concatenate(fs).astype(np.uint64), np.concatenate(bs).astype(np.uint64))


def decode_scalar(s: RansStream) -> np.ndarray:
    """One stream, one symbol per Python step over plain ints (symbol i is lane i mod L's; words
    are read in that order). The same checks as decode_streams: words neither short nor left over,
    final states exactly 2**16."""
    n, lanes = s.precision, s.lanes
    index = np.repeat(np.arange(len(s.freqs)), s.freqs)  # slot -> table entry
    cum = np.concatenate(([0], np.cumsum(s.freqs)[:-1]))
    table = list(zip(s.symbols[index].tolist(), s.freqs[index].tolist(), (np.arange(len(index)) - cum[index]).tolist()))
    mask = (1 << n) - 1
    words = s.words.tolist()
    x = s.states.tolist()
    out = [0] * s.count
    w = 0
    try:
        if lanes == 1:
            xj = x[0]
            for i in range(s.count):
                sym, f, b = table[xj & mask]
                out[i] = sym
                xj = f * (xj >> n) + b
                if xj < RANS_L:
                    xj = (xj << 16) | words[w]
                    w += 1
            x[0] = xj
        else:
            for i in range(s.count):
                j = i % lanes
                sym, f, b = table[x[j] & mask]
                out[i] = sym
                xj = f * (x[j] >> n) + b
                if xj < RANS_L:
                    xj = (xj << 16) | words[w]
                    w += 1
                x[j] = xj
    except IndexError:
        raise StreamError("stream runs out of words (truncated or corrupt)") from None
    if w != len(words):
        raise StreamError(f"stream leaves {len(words) - w} words unread (corrupt)")
    for xj in x:
        if xj != RANS_L:
            raise StreamError(f"stream ends in state {xj}, expected 2**16 (corrupt)")
    return np.array(out, np.int64)


def split_scalar(streams: Sequence[RansStream]) -> List[bool]:
    """Which streams to decode with the scalar loop (True) rather than in the lockstep: the split
    minimising the estimated time, (longest lockstep lane) x STEP_COST_SYMBOLS + (scalar symbols).

    The lockstep's cost is its number of iterations, paid once for all its streams; the scalar
    loop's is the stream's symbol count. Candidates: every stream whose lanes are at most tau
    symbols long goes to the lockstep, for tau over the lane lengths (and 0: all scalar).
    """
    steps = [-(-s.count // s.lanes) for s in streams]
    order = sorted(range(len(streams)), key=lambda k: steps[k])
    scalar_left = sum(s.count for s in streams)
    best_cost, best_tau = scalar_left, 0
    for k in order:
        scalar_left -= streams[k].count
        cost = steps[k] * STEP_COST_SYMBOLS + scalar_left
        if cost < best_cost:
            best_cost, best_tau = cost, steps[k]
    return [st > best_tau for st in steps]


def decode_all(streams: Sequence[RansStream]) -> List[np.ndarray]:
    """decode_scalar for the streams split_scalar picks; decode_streams over groups of the others
    with similar lane lengths.

    One lockstep costs (longest lane) x (lanes) element steps. Streams are grouped, longest lanes
    first, while that product stays within twice the group's symbols plus 256 idle lanes, so a
    bundle whose lanes are wildly unbalanced (hostile, or from another writer) costs time in
    proportion to its symbols, not to their product.
    """
    out: List[np.ndarray] = [None] * len(streams)  # type: ignore[list-item]
    long = []
    for k, (s, scalar) in enumerate(zip(streams, split_scalar(streams))):
        if scalar:
            try:
                out[k] = decode_scalar(s)
            except StreamError as e:
                raise StreamError(f"stream {k}: {e}") from None
        else:
            long.append(k)
    order = sorted(long, key=lambda k: -(-streams[k].count // streams[k].lanes))
    group: List[int] = []
    lanes = symbols = longest = 0
    if not order:
        return out
    for k in order + [None]:
        if k is not None:
            s = streams[k]
            steps = -(-s.count // s.lanes)
            if not group or max(longest, steps) * (lanes + s.lanes) <= 2 * (symbols + s.count) + 256 * max(longest, steps):
                group.append(k)
                lanes, symbols, longest = lanes + s.lanes, symbols + s.count, max(longest, steps)
                continue
        for g, sym in zip(group, decode_streams([streams[g] for g in group])):
            out[g] = sym
        if k is not None:
            group, lanes, symbols, longest = [k], streams[k].lanes, streams[k].count, -(-streams[k].count // streams[k].lanes)
    return out


def decode_streams(streams: Sequence[RansStream]) -> List[np.ndarray]:
    """Decode every stream (int64 symbols each), all lanes of all streams in lockstep.

    Raises StreamError when a stream runs out of words, leaves words unread, or ends in a state
    other than 2**16 (tampering that slipped past the hashes, or a bad encoder).
    """
    if not streams:
        return []
    lane_counts = [s.lanes for s in streams]
    nl = sum(lane_counts)
    sid = np.repeat(np.arange(len(streams)), lane_counts)
    first = np.cumsum([0] + lane_counts[:-1])
    last = first + np.array(lane_counts) - 1
    lane_in_stream = np.arange(nl) - first[sid]
    stride = np.array(lane_counts, np.int64)[sid]
    counts = np.array([s.count for s in streams], np.int64)
    n_lane = (counts[sid] - lane_in_stream + stride - 1) // stride  # symbols of each lane
    SYM, F, B = _slot_tables(streams)
    slot_base = np.cumsum([0] + [1 << s.precision for s in streams])[:-1]
    tbase = slot_base[sid].astype(np.uint64)
    precisions = {s.precision for s in streams}
    if len(precisions) == 1:  # scalars are cheaper than per-lane arrays
        shift = np.uint64(precisions.pop())
        mask = np.uint64((1 << int(shift)) - 1)
    else:
        shift = np.array([s.precision for s in streams], np.uint64)[sid]
        mask = (np.uint64(1) << shift) - np.uint64(1)
    # A stream that runs out of words is caught every CHECK_EVERY steps; until then its lanes may
    # read at most CHECK_EVERY words each past the end, into this zero padding.
    # read at most CHECK_EVERY words each past the end, into this zero padding (plus one step's
    # worth: every lane computes a word position each step, used or not).
    words = np.concatenate([s.words for s in streams] + [np.zeros((CHECK_EVERY + 1) * nl + 1, np.uint64)])
    word_base = np.cumsum([0] + [len(s.words) for s in streams])
    word_end = word_base[1:]
    ptr = word_base[:-1].copy()  # next word of each stream (global index)
    x = np.concatenate([s.states for s in streams])
    low = np.uint64(RANS_L)
    w16 = np.uint64(16)
    steps = int(n_lane.max())
    full = int(n_lane.min())
    # Symbols land in a (steps, lanes) grid, row t = step t, when that grid is not much larger than
    # the output (balanced lanes, as the encoder makes them); else they are scattered one by one.
    total = int(counts.sum())
    grid = np.empty((steps, nl), np.uint32) if steps * nl <= 2 * total + 2 * nl else None  # slot indices
    out = None if grid is not None else np.empty(total, SYM.dtype)
    out_pos = np.cumsum(np.concatenate(([0], counts)))[:-1][sid] + lane_in_stream
    c0 = np.zeros(nl + 1, np.int64)  # c0[l] = lanes before l that read a word this step
    after_last = last + 1
    for t in range(steps):
        i = (x & mask) + tbase
        xn = F.take(i) * (x >> shift) + B.take(i)
        if t < full:
            if grid is not None:
                grid[t] = i  # symbols are looked up once, after the loop
            else:
                out[out_pos] = SYM[i]
                out_pos += stride
        else:
            act = n_lane > t
            if grid is not None:
                grid[t] = i
            else:
                out[out_pos[act]] = SYM[i][act]
                out_pos += stride
            xn = np.where(act, xn, x)
        need = xn < low
        np.cumsum(need, out=c0[1:])
        if c0[nl]:  # readers take their stream's next words in lane order: rank among its readers
            before = c0[first]
            pos = (ptr - before)[sid] + c0[:-1]  # every lane's would-be word; only readers keep it
            ptr += c0[after_last] - before
            xn = np.where(need, (xn << w16) | words[pos], xn)
        if t % CHECK_EVERY == CHECK_EVERY - 1 and np.any(ptr > word_end):
            break
        x = xn
    if np.any(ptr > word_end):
        bad = int(np.argmax(ptr > word_end))
        raise StreamError(f"stream {bad} runs out of words (truncated or corrupt)")
    for k in range(len(streams)):
        if ptr[k] != word_end[k]:
            raise StreamError(f"stream {k} leaves {int(word_end[k] - ptr[k])} words unread (corrupt)")
    bad = np.nonzero(x != low)[0]
    if len(bad):
        raise StreamError(f"stream {int(sid[bad[0]])} ends in state {int(x[bad[0]])}, expected 2**16 (corrupt)")
    if grid is None:
        bounds = np.cumsum(np.concatenate(([0], counts)))
        return [out[bounds[k]:bounds[k + 1]].astype(np.int64) for k in range(len(streams))]
    grid = SYM[grid]
    result = []
    for k in range(len(streams)):  # symbol j of stream k is row j // L, column first + j % L
        block = grid[:, first[k]:first[k] + lane_counts[k]]
        result.append(block.reshape(-1)[:streams[k].count].astype(np.int64))
    return result
