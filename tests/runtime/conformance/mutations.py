"""Deterministic mutations of model files, for fuzzing the readers.

`mutate(data, seed)` is a pure function of its arguments: a failure reported as (file, seed)
reproduces with `mutate(open(file, "rb").read(), seed)`. The mutation kinds follow the classic
file-format fuzzers (AFL's havoc stage: bit flips, "interesting" byte values, block deletion and
duplication), plus the two that target length-prefixed formats specifically: a 32-bit word set to a
huge value (FlatBuffers offsets and vector lengths are uint32) and a huge varint (protobuf lengths).
Positions are biased towards the first and last 4 KiB, where both formats keep their tables, so that
most mutants hit structure rather than weight bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from edgewise.runtime.records import Record

KINDS = ("bitflip", "bytes", "truncate", "delete", "insert", "splice", "huge_u32", "huge_varint")
_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x10, 0x20, 0x40)
_HUGE_U32 = (0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x7FFFFFF0, 0x10000000, 0xFFFFFFFC)


@dataclass(frozen=True)
class Mutation(Record):
    seed: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"seed={self.seed} {self.kind}: {self.detail}"


def _pos(rng: np.random.Generator, n: int, align: int = 1) -> int:
    edge = min(4096, n)
    r = rng.random()
    if r < 0.35:
        p = int(rng.integers(0, edge))
    elif r < 0.7:
        p = n - 1 - int(rng.integers(0, edge))
    else:
        p = int(rng.integers(0, n))
    return max(0, min(n - align, p - p % align))


def mutate(data: bytes, seed: int) -> Tuple[bytes, Mutation]:
    """One mutant of `data` and what was done to it."""
    rng = np.random.default_rng(seed)
    b = bytearray(data)
    n = len(b)
    kind = KINDS[int(rng.integers(0, len(KINDS)))]
    if kind == "bitflip":
        bits = [_pos(rng, n) * 8 + int(rng.integers(0, 8)) for _ in range(int(rng.integers(1, 9)))]
        for bit in bits:
            b[bit // 8] ^= 1 << (bit % 8)
        detail = f"bits {bits}"
    elif kind == "bytes":
        changes = [(_pos(rng, n), _INTERESTING[int(rng.integers(0, len(_INTERESTING)))] if rng.random() < 0.5
                    else int(rng.integers(0, 256))) for _ in range(int(rng.integers(1, 9)))]
        for p, v in changes:
            b[p] = v
        detail = f"(offset, value) {changes}"
    elif kind == "truncate":
        keep = int(rng.integers(0, n))
        del b[keep:]
        detail = f"kept {keep} of {n} bytes"
    elif kind == "delete":
        p = _pos(rng, n)
        length = int(min(n - p, rng.geometric(0.05)))
        del b[p:p + length]
        detail = f"deleted {length} bytes at {p}"
    elif kind == "insert":
        p = _pos(rng, n)
        chunk = rng.integers(0, 256, size=int(rng.geometric(0.05)), dtype=np.uint8).tobytes()
        b[p:p] = chunk
        detail = f"inserted {len(chunk)} random bytes at {p}"
    elif kind == "splice":
        src, dst = _pos(rng, n), _pos(rng, n)
        length = int(min(n - src, rng.geometric(0.02)))
        b[dst:dst + length] = data[src:src + length]
        detail = f"copied {length} bytes from {src} over {dst}"
    elif kind == "huge_u32":
        p = _pos(rng, n, align=4) if n >= 4 else 0
        v = _HUGE_U32[int(rng.integers(0, len(_HUGE_U32)))] if rng.random() < 0.7 else int(rng.integers(n, 1 << 32))
        b[p:p + 4] = int(v).to_bytes(4, "little")
        detail = f"u32 at {p} = {v:#x}"
    else:  # huge_varint
        p = _pos(rng, n)
        v = int(rng.choice([(1 << 31) - 1, (1 << 32) + 5, (1 << 63) - 1, (1 << 64) - 1, 1 << 40]))
        enc = bytearray()
        while True:
            byte, v2 = v & 0x7F, v >> 7
            enc.append(byte | (0x80 if v2 else 0))
            v = v2
            if not v:
                break
        b[p:p + len(enc)] = enc
        detail = f"varint at {p} = {bytes(enc).hex()}"
    return bytes(b), Mutation(seed, kind, detail)
