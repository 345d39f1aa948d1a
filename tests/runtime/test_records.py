"""edgewise.runtime.records: the one to_dict/from_dict mechanism, and a JSON round trip of every
runtime record type that uses it."""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import pytest

from edgewise.runtime import BackendInfo, Quantization, TensorSpec
from edgewise.runtime.onnx.ops.planned import WeightPlan
from edgewise.runtime.records import Record, RecordError
from edgewise.runtime.sparse import PlanInfo, Structure
from edgewise.runtime.tflite.ops.context import LayerPlan


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Leaf(Record):
    value: int
    label: str = ""


@dataclass(frozen=True)
class Other(Record):
    text: str


@dataclass(frozen=True)
class Tree(Record):
    leaf: Leaf
    leaves: Tuple[Leaf, ...]
    pair: Tuple[int, float]
    maybe: Optional[Leaf] = None
    either: Union[Leaf, Other, None] = None
    dim: Union[int, str, None] = None
    by_name: Dict[str, Leaf] = field(default_factory=dict)
    names: List[str] = field(default_factory=list)
    color: Color = Color.RED

    _derived = ("size",)

    @property
    def size(self) -> int:
        return 1 + len(self.leaves)


def _json_round_trip(record: Record) -> Record:
    """to_dict -> JSON text -> from_dict, as a file written and read back."""
    return type(record).from_dict(json.loads(json.dumps(record.to_dict(), allow_nan=False)))


def test_nested_records_tuples_unions_optionals_and_enums_round_trip():
    t = Tree(Leaf(1, "a"), (Leaf(2), Leaf(3, "c")), (4, 0.5), maybe=Leaf(5), either=Other("o"), dim="batch",
             by_name={"x": Leaf(6)}, names=["p", "q"], color=Color.BLUE)
    d = t.to_dict()
    assert d["leaf"] == {"value": 1, "label": "a"} and d["pair"] == [4, 0.5] and d["color"] == "blue"
    assert d["either"] == {"text": "o"} and d["size"] == 3  # a derived property is written ...
    back = _json_round_trip(t)
    assert back == t  # ... and ignored when read back
    assert isinstance(back.leaves, tuple) and isinstance(back.pair, tuple) and isinstance(back.either, Other)
    assert _json_round_trip(Tree(Leaf(0), (), (1, 2.0))) == Tree(Leaf(0), (), (1, 2.0))  # defaults, None
    assert Tree.from_dict({**Tree(Leaf(0), (), (1, 2.0)).to_dict(), "dim": 7}).dim == 7


def test_unknown_key_is_refused_naming_the_record_and_the_key():
    d = Tree(Leaf(1), (), (1, 2.0)).to_dict()
    with pytest.raises(RecordError, match=r"^Tree: unknown field\(s\) colour$"):
        Tree.from_dict({**d, "colour": "red"})
    d["leaf"]["weight"] = 3
    with pytest.raises(RecordError, match=r"^Tree\.leaf: Leaf: unknown field\(s\) weight$"):
        Tree.from_dict(d)


@pytest.mark.parametrize("change, message", [
    ({"pair": [1]}, r"Tree\.pair: expected 2 items, got 1"),
    ({"pair": [1, "x"]}, r"Tree\.pair: expected a number, got 'x'"),
    ({"leaf": {"value": True}}, r"Tree\.leaf: Leaf\.value: expected an integer, got True"),
    ({"either": {"nothing": 1}}, r"Tree\.either: .* fits none of Leaf, Other"),
    ({"leaves": {"value": 1}}, r"Tree\.leaves: expected a list, got dict"),
    ({"color": "green"}, r"Tree\.color: 'green' is not a valid Color"),
])
def test_wrong_values_name_the_field(change, message):
    d = {**Tree(Leaf(1), (), (1, 2.0)).to_dict(), **change}
    with pytest.raises(RecordError, match=message):
        Tree.from_dict(d)


def test_missing_required_field_is_named():
    with pytest.raises(RecordError, match=r"^Leaf: missing field 'value'$"):
        Leaf.from_dict({"label": "x"})


_PLAN = PlanInfo(name="m.tflite: FULLY_CONNECTED '#3 dense' weights 'w'", kind="block", structure="block 16x1",
                 shape=(1024, 256), density=0.1, dtype="float32", nbytes=110000, dense_nbytes=1048576,
                 max_batch=8, dense_us=80.5, chosen_us=23.0, measured=False)

RECORDS = {
    "BackendInfo": BackendInfo("litert", "auto: LiteRT is installed", "ai_edge_litert 2.3.0",
                               ("BUILTIN_WITHOUT_DEFAULT_DELEGATES",)),
    "BackendInfo-plain": BackendInfo("numpy", "forced"),
    "Quantization": Quantization((0.5, 0.25), (0, 3), axis=0),
    "TensorSpec": TensorSpec("x", (None, "batch", 8), "int8", Quantization((0.1,), (-128,))),
    "Structure": Structure((64, 32), 200, nm=None, block=(16, 1), block_fill=0.9),
    "Structure-nm": Structure((8, 16), 64, nm=(2, 4)),
    "PlanInfo": _PLAN,
    "PlanInfo-unbounded": PlanInfo(**{**_PLAN.__dict__, "max_batch": None, "measured": True}),
    "LayerPlan": LayerPlan("FULLY_CONNECTED", "#3 dense", _PLAN),
    "WeightPlan": WeightPlan("MatMul", "'fc1'", _PLAN),
}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_runtime_record_round_trips_through_json(name):
    record = RECORDS[name]
    assert _json_round_trip(record) == record
    assert type(record).from_dict(record.to_dict()).to_dict() == record.to_dict()


def test_record_from_a_real_plan_round_trips():
    import numpy as np

    from edgewise.runtime.sparse import analyze, plan_matmul

    w = np.zeros((64, 32), np.float32)
    w[::4, ::2] = 1.0
    plan = plan_matmul(w, exact_int=False, calibrate=False, name="w")
    assert _json_round_trip(plan.describe()) == plan.describe()
    assert _json_round_trip(analyze(w)) == analyze(w)
