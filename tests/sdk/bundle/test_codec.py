"""The rANS coder and the tensor layouts, encoder (edgewise.bundle) against decoder (edgewise.runtime.bundle).

Oracles: the input itself (round trips are bit-exact) and Shannon's bound n * H(p) for a
Bernoulli(p) source, computed from p, not from the coder.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from edgewise.bundle.coding import choose_lanes, entropy_bytes, plan_tensor
from edgewise.bundle.pack import _encode_tensors
from edgewise.bundle.locate import WeightRange
from edgewise.bundle.rans_encode import choose_precision, encode
from edgewise.runtime.bundle.rans import (
    STEP_COST_SYMBOLS, StreamError, decode_all, decode_scalar, decode_streams, parse_stream, split_scalar,
)
from edgewise.runtime.bundle.tensors import assemble, check_tensor, decode_symbols


def _code(symbols, alphabet, lanes):
    counts = np.bincount(symbols, minlength=alphabet)
    precision, freqs, _ = choose_precision(counts)
    return encode(symbols, alphabet, lanes, precision, freqs)


def _decode(blob, count, alphabet):
    return decode_streams([parse_stream(blob, 0, len(blob), count, alphabet)])[0]


@pytest.mark.parametrize("p", [0.5, 0.1, 0.02])
def test_bernoulli_stream_codes_to_its_entropy(p):
    n, lanes = 200_000, 16
    bits = (np.random.default_rng(7).random(n) < p).astype(np.int64)
    blob = _code(bits, 2, lanes)
    h = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    floor = n * h / 8
    # Lane states (4 bytes each) and a few bytes of table are the coder's overhead; the sample's
    # own frequency differs from p by ~1/sqrt(n p), which moves its entropy by under 1.5%.
    overhead = 4 * lanes + 16
    assert floor * 0.97 <= len(blob) <= floor * 1.03 + overhead, (len(blob), floor)
    np.testing.assert_array_equal(_decode(blob, n, 2), bits)


def test_below_one_bit_per_symbol():
    """Huffman needs >= 1 bit per symbol; rANS codes a 99%-zero stream in ~0.08 bit."""
    bits = np.zeros(60_000, np.int64)
    bits[::100] = 1
    blob = _code(bits, 2, 4)
    assert len(blob) * 8 < 0.1 * len(bits)
    np.testing.assert_array_equal(_decode(blob, len(bits), 2), bits)


def test_streams_of_different_shapes_decode_together_in_lockstep():
    rng = np.random.default_rng(1)
    cases = [(rng.integers(0, 2, 5000), 2, 3), (rng.integers(0, 300, 777), 300, 5), (np.array([1, 0, 1]), 2, 3),
             (rng.geometric(0.3, 20_000).clip(0, 15) % 16, 16, 64), (rng.integers(0, 256, 1), 256, 1)]
    blobs = [(_code(s, a, lanes), s, a) for s, a, lanes in cases]
    streams = [parse_stream(b, 0, len(b), len(s), a) for b, s, a in blobs]
    together = decode_streams(streams)
    grouped = decode_all(streams)  # by lane length: these lanes are far from balanced
    for (b, s, a), got, got2 in zip(blobs, together, grouped):
        np.testing.assert_array_equal(got, s)
        np.testing.assert_array_equal(got2, s)
        np.testing.assert_array_equal(_decode(b, len(s), a), s)


def test_truncated_extended_or_altered_streams_are_refused():
    s = np.random.default_rng(2).integers(0, 5, 3000)
    blob = _code(s, 5, 7)
    with pytest.raises(StreamError, match="runs out of words"):
        _decode(blob[:-2], len(s), 5)
    with pytest.raises(StreamError, match="unread"):
        _decode(blob + b"\0\0", len(s), 5)
    with pytest.raises(StreamError):
        _decode(blob[:1] + b"\x00" + blob[2:], len(s), 5)  # zero lanes
    altered = bytearray(blob)
    altered[-40] ^= 0x5A  # one word in the middle
    with pytest.raises(StreamError):
        _decode(bytes(altered), len(s), 5)


@pytest.mark.parametrize("lanes", [1, 3])
def test_scalar_loop_decodes_like_the_lockstep_and_refuses_the_same_damage(lanes):
    s = np.random.default_rng(5).integers(0, 7, 2500)
    blob = _code(s, 7, lanes)
    stream = parse_stream(blob, 0, len(blob), len(s), 7)
    np.testing.assert_array_equal(decode_scalar(stream), s)
    np.testing.assert_array_equal(decode_streams([stream])[0], s)
    for bad, message in ((blob[:-2], "runs out of words"), (blob + b"\0\0", "unread")):
        with pytest.raises(StreamError, match=message):
            decode_scalar(parse_stream(bad, 0, len(bad), len(s), 7))
    altered = bytearray(blob)
    altered[-40] ^= 0x5A
    with pytest.raises(StreamError):
        decode_scalar(parse_stream(bytes(altered), 0, len(altered), len(s), 7))


def test_decoder_runs_few_symbols_one_by_one_and_many_in_lockstep():
    rng = np.random.default_rng(6)
    short = [(rng.integers(0, 4, n), 4, 1) for n in (16, 300, 1000)]
    long = [(rng.integers(0, 4, 40_000), 4, 40_000 // 192 + 1), (rng.integers(0, 4, 9000), 4, 9000 // 192 + 1)]

    def parsed(cases):
        return [parse_stream(b, 0, len(b), len(sy), a) for b, sy, a in ((_code(sy, a, ln), sy, a) for sy, a, ln in cases)]

    # A small model alone: 1316 symbols cost less one by one than 1000 lockstep iterations.
    assert split_scalar(parsed(short)) == [True, True, True]
    # Next to long streams the lockstep runs anyway (192 iterations) and takes the 16-symbol one
    # along; the 300- and 1000-symbol one-lane streams would lengthen it, so they run one by one.
    mixed = parsed(long + short)
    assert split_scalar(mixed) == [False, False, False, True, True]
    for got, (sy, _, _) in zip(decode_all(mixed), long + short):
        np.testing.assert_array_equal(got, sy)


def test_small_models_get_one_lane_per_stream_and_code_closer_to_the_entropy():
    rng = np.random.default_rng(8)
    weights = rng.choice(np.arange(-8, 8), 600, p=np.r_[[0.01] * 8, 0.8, [0.12 / 7] * 7]).astype(np.int8)
    small = [plan_tensor(weights.view("<u1"))]
    steps, lanes = choose_lanes(small)
    coded = [st for p in small for st in p.streams if st.coding == "rans"]
    assert steps == 0 and lanes == len(coded) >= 1
    assert sum(len(st.symbols) for st in coded) < 192 * STEP_COST_SYMBOLS
    r = WeightRange("w", "int8", (600,), 0, 600, 1)
    one_lane, _, _, floor = _encode_tensors([r], small, 0)
    many_lanes, _, _, _ = _encode_tensors([r], small, 16)  # what a fixed lane length would give
    lanes_16 = sum(-(-len(st.symbols) // 16) for st in coded)
    assert lanes_16 > len(coded)
    # Each extra lane stores a 4-byte state, of which at most 16 bits would otherwise be words.
    assert len(many_lanes) - len(one_lane) >= 2 * (lanes_16 - len(coded))
    # One 4-byte state, the precision byte, the lane count and a table of at most 16 symbols
    # (3 bytes each) over the order-0 entropy of the layout's streams, plus rANS's rounding.
    assert len(one_lane) <= floor * 1.03 + 4 * len(coded) + 2 + 1 + 3 * 16
    entries = _encode_tensors([r], small, 0)[1]
    got = assemble(entries[0], decode_symbols(entries, one_lane)[0], one_lane)
    assert got.tobytes() == weights.tobytes()
    big = [plan_tensor(rng.integers(-3, 4, 20_000).astype(np.int8).view("<u1"))]
    assert choose_lanes(big) == (192, sum(-(-len(st.symbols) // 192) for st in big[0].streams if st.coding == "rans"))


DTYPES = ["int8", "uint8", "int16", "float16", "int32", "float32", "int64", "float64"]
LAYOUTS = ["raw", "planes", "dense", "mask", "gaps"]


def _tensors(dtype):
    rng = np.random.default_rng(3)
    n = 3000
    pruned = np.zeros(n)
    keep = rng.random(n) < 0.15
    pruned[keep] = rng.choice([-3, -1, 1, 2, 5], keep.sum())
    structured = np.zeros((30, 100))
    structured[::4] = rng.integers(-7, 8, (8, 100))
    return {
        "empty": np.zeros(0), "one": np.array([3.0]), "zeros": np.zeros(257), "single": np.full(100, 5.0),
        "pruned": pruned, "structured": structured.ravel(), "wide": rng.normal(0, 40, n),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_dtype_and_layout_round_trips_bit_exact(dtype, layout):
    for kind, values in _tensors(dtype).items():
        arr = values.astype(dtype)
        width = arr.dtype.itemsize
        if layout == "planes" and width == 1 or layout != "raw" and arr.size == 0:
            continue
        if layout in ("mask", "gaps") and len(np.unique(arr)) == 1:
            continue  # nothing differs from the fill value: these layouts do not apply
        words = arr.view({1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}[width])
        data = b"HEAD" + arr.tobytes() + b"TAIL"
        r = WeightRange(kind, dtype, arr.shape, 4, arr.nbytes, width)
        plan = plan_tensor(words, (layout,))
        steps, _ = choose_lanes([plan])
        weights, entries, _, _ = _encode_tensors([r], [plan], steps)
        t = entries[0]
        assert t.layout == layout
        check_tensor(t, len(weights))
        got = assemble(t, decode_symbols([t], weights)[0], weights)
        assert got.tobytes() == data[4:-4], f"{dtype} {layout} {kind}"



def _choice(values):
    arr = np.asarray(values)
    return plan_tensor(arr.view({1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}[arr.dtype.itemsize]))


def test_the_choice_follows_the_statistics():
    rng = np.random.default_rng(4)
    pruned = np.where(rng.random(20_000) < 0.1, rng.integers(-127, 128, 20_000), 0).astype(np.int8)
    assert _choice(pruned).layout in ("mask", "gaps")
    rows = np.zeros((200, 100), np.int8)
    rows[::10] = rng.integers(-127, 128, (20, 100))  # whole rows pruned: long runs of zeros
    assert _choice(rows.ravel()).layout == "gaps"
    clustered = rng.choice(np.linspace(-1, 1, 16).astype(np.float32), 20_000)
    plan = _choice(clustered)
    assert plan.layout == "dense" and len(plan.codebook) == 16
    dense = rng.normal(0, 0.05, 20_000).astype(np.float32)
    assert _choice(dense).layout == "planes"  # sign/exponent bytes carry little information
    noise = rng.integers(0, 256, 20_000).astype(np.uint8)
    plan = _choice(noise)
    assert plan.layout in ("raw", "dense") and all(s.coding == "raw" for s in plan.streams)  # coding would not pay


def test_wide_value_streams_go_to_deflate_and_sub_bit_streams_stay_rans():
    """Huffman (DEFLATE) spends whole bits per symbol: close to the entropy for ~4-7-bit symbols,
    useless below one bit. The writer picks per stream; both decode bit-exact."""
    rng = np.random.default_rng(10)
    values = np.clip(np.round(rng.laplace(0, 12, 30_000)), -127, 127).astype(np.int8)
    plan = plan_tensor(values.view("<u1"))
    (stream,) = [st for st in plan.streams if st.coding != "const"]
    assert stream.coding == "deflate"
    n_h = entropy_bytes(stream.symbols, stream.alphabet)
    assert len(stream.payload) <= 1.03 * n_h  # Huffman's loss on a smooth 6-bit source, plus its table
    mask = (rng.random(40_000) < 0.02).astype(np.int64)  # 0.14 bit per symbol
    from edgewise.bundle.coding import plan_stream

    m = plan_stream("mask", mask, 2, steps=0)  # one lane: 4 bytes of state
    assert m.coding == "rans" and m.estimate < 1.02 * entropy_bytes(mask, 2) + 4 + 8
    r = WeightRange("w", "int8", values.shape, 0, values.nbytes, 1)
    blob, entries, _, _ = _encode_tensors([r], [plan], choose_lanes([plan])[0])
    assert entries[0].streams[0].coding == "deflate" or entries[0].streams[-1].coding == "deflate"
    assert assemble(entries[0], decode_symbols(entries, blob)[0], blob).tobytes() == values.tobytes()


def test_bad_deflate_streams_are_refused():
    import dataclasses
    import zlib

    values = np.clip(np.round(np.random.default_rng(11).laplace(0, 12, 5_000)), -127, 127).astype(np.int8)
    plan = plan_tensor(values.view("<u1"), ("raw",))
    assert plan.streams[0].coding == "deflate"
    r = WeightRange("w", "int8", values.shape, 0, values.nbytes, 1)
    _, entries, _, _ = _encode_tensors([r], [plan], 0)
    t = entries[0]

    def with_payload(payload: bytes):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        blob = c.compress(payload) + c.flush() if isinstance(payload, bytes) else payload()
        stream = dataclasses.replace(t.streams[0], offset=0, size=len(blob))
        return dataclasses.replace(t, streams=(stream,)), blob

    for payload, message in ((values.tobytes() + b"\0", "exactly 5000 bytes"),  # one byte too many
                             (values.tobytes()[:-1], "exactly 5000 bytes"),
                             (lambda: b"\xff" * 40, "corrupt")):
        entry, blob = with_payload(payload)
        check_tensor(entry, len(blob))
        with pytest.raises(StreamError, match=message):
            decode_symbols([entry], blob)
    entry, blob = with_payload(values.tobytes())
    good = zlib.compressobj(9, zlib.DEFLATED, -15)
    blob = good.compress(values.tobytes()) + good.flush() + b"junk"  # data after the end of the stream
    entry = dataclasses.replace(entry, streams=(dataclasses.replace(entry.streams[0], size=len(blob)),))
    with pytest.raises(StreamError, match="exactly"):
        decode_symbols([entry], blob)
    empty = dataclasses.replace(t, streams=(dataclasses.replace(t.streams[0], count=0),), nbytes=0)
    with pytest.raises(StreamError, match="empty stream must be raw"):
        check_tensor(empty, 10**6)


@pytest.mark.parametrize("k, n", [(2, 6), (3, 5), (4, 4), (6, 3)])
def test_parametric_complexity_matches_shtarkovs_sum(k, n):
    import itertools

    from edgewise.bundle.coding import multinomial_complexity_bits

    total = 0.0  # sum over all k**n sequences of their maximum-likelihood probability
    for seq in itertools.product(range(k), repeat=n):
        counts = np.bincount(seq, minlength=k)
        total += float(np.prod([(c / n) ** c for c in counts if c]))
    assert multinomial_complexity_bits(k, n) == pytest.approx(math.log2(total), abs=1e-9)


def test_pack_reports_an_ideal_two_part_code_between_the_entropy_and_the_coded_size():
    from edgewise.bundle.coding import two_part_bytes

    rng = np.random.default_rng(9)
    long = rng.integers(0, 4, 100_000)
    # For long streams the two-part code is the entropy plus ~(k-1)/2 log2 n bits.
    assert 25_000 < two_part_bytes(long, 4) < 25_000 + 3 * 17 / 8 + 4
    # For 16 distinct bytes the order-0 entropy (4 bits each) is far below what they carry.
    assert two_part_bytes(np.arange(16) * 13, 256) > 16
    weights = rng.choice(np.arange(-8, 8), 3000, p=np.r_[[0.01] * 8, 0.8, [0.12 / 7] * 7]).astype(np.int8)
    plan = plan_tensor(weights.view("<u1"))
    r = WeightRange("w", "int8", (3000,), 0, 3000, 1)
    blob, _, records, floor = _encode_tensors([r], [plan], choose_lanes([plan])[0])
    assert floor < records[0].two_part_bytes < len(blob)
