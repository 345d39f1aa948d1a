"""Records read back from JSON: the field loaders worked out once per class keep every check."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import pytest

from edgewise.runtime.records import Record, RecordError


@dataclass(frozen=True)
class Leaf(Record):
    n: int
    label: str
    note: Optional[str] = None


@dataclass(frozen=True)
class Tree(Record):
    leaves: Tuple[Leaf, ...]
    sizes: Tuple[int, ...]
    scale: Optional[float] = None


def test_round_trip_and_defaults():
    t = Tree((Leaf(1, "a"), Leaf(2, "b", "x")), (3, 4), 0.5)
    assert Tree.from_dict(t.to_dict()) == t
    assert Tree.from_dict({"leaves": [], "sizes": []}) == Tree((), ())


@pytest.mark.parametrize("doc, message", [
    ({"leaves": [{"n": True, "label": "a"}], "sizes": []}, "Tree.leaves: Leaf.n: expected an integer"),
    ({"leaves": [{"n": 1, "label": 2}], "sizes": []}, "Leaf.label: expected a string"),
    ({"leaves": [], "sizes": [1.5]}, "Tree.sizes: expected an integer"),
    ({"leaves": {}, "sizes": []}, "Tree.leaves: expected a list"),
    ({"leaves": [], "sizes": [], "extra": 1}, "unknown field"),
    ({"sizes": []}, "missing field 'leaves'"),
    ({"leaves": [{"n": 1, "label": "a", "note": 3}], "sizes": []}, "Leaf.note: expected a string"),
    ({"leaves": [], "sizes": [], "scale": "big"}, "Tree.scale"),
])
def test_bad_documents_are_refused_with_the_field_named(doc, message):
    with pytest.raises(RecordError, match=message):
        Tree.from_dict(doc)
