"""The conformance helpers' records (what their caches and fuzz logs write) round-trip through JSON."""
from __future__ import annotations

import json

import pytest

from .conformance.models import InputSpec
from .conformance.mutations import Mutation


@pytest.mark.parametrize("record", [
    InputSpec((8, 8, 1)),
    InputSpec((49, 10), dtype="int32", low=0.0, high=256.0),
    Mutation(1751, "huge_u32", "offset 0x1a4: 0x80000000"),
])
def test_round_trip(record):
    assert type(record).from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_unknown_key_is_refused():
    with pytest.raises(ValueError, match="Mutation: unknown field"):
        Mutation.from_dict({"seed": 1, "kind": "bitflip", "detail": "", "extra": 0})
