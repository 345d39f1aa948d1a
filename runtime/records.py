"""One serialisation mechanism for every settings and result record: frozen dataclasses <-> JSON.

A record is a frozen dataclass that inherits `Record`. `to_dict()` walks its fields; `from_dict()`
rebuilds it from the field annotations (nested records, tuples, lists, dicts, Optional, Union of
records, enums), so no class writes its own pair of methods. Properties named in `_derived` are
written for readers of the JSON and ignored when reading it back. Unknown keys are an error that
names the record and the key: a document from a newer edgewise is refused, never half-read.

This lives in the runtime because it is the one layer every other imports (the device agent
included), and needs nothing but the standard library.
"""
from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from typing import Any, ClassVar, Dict, Tuple, Type, TypeVar

T = TypeVar("T", bound="Record")

_NONE = type(None)


class RecordError(ValueError):
    """A document does not fit the record it is read into (names the record and the field)."""


class Record:
    """Mixin for frozen dataclasses: `to_dict()` and `from_dict()` derived from the fields."""

    _derived: ClassVar[Tuple[str, ...]] = ()

    def to_dict(self) -> Dict[str, Any]:
        out = {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for name in self._derived:
            out[name] = _dump(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls: Type[T], d: Dict[str, Any]) -> T:
        if not isinstance(d, dict):
            raise RecordError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
        fields, known = _fields(cls)
        if not known.issuperset(d):
            unknown = set(d) - known
            raise RecordError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
        kwargs = {}
        for name, load, required in fields:
            if name not in d:
                if required:
                    raise RecordError(f"{cls.__name__}: missing field {name!r}")
                continue
            try:
                kwargs[name] = load(d[name])
            except RecordError as e:
                raise RecordError(f"{cls.__name__}.{name}: {e}") from None
            except (TypeError, ValueError) as e:
                raise RecordError(f"{cls.__name__}.{name}: {e}") from None
        return cls(**kwargs)


_FIELDS: Dict[type, Any] = {}


def _fields(cls: type):
    """((name, loader, required) per field, names accepted in a document), worked out once per class:
    reading a manifest of hundreds of records then costs a dict lookup per field, not a walk over
    its type annotation."""
    if cls not in _FIELDS:
        hints = _hints(cls)
        fields = tuple((f.name, _loader(hints[f.name]),
                        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)  # type: ignore[misc]
                       for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        _FIELDS[cls] = (fields, frozenset(f[0] for f in fields) | frozenset(cls._derived))  # type: ignore[attr-defined]
    return _FIELDS[cls]


def _loader(tp: Any):
    """A function reading a JSON value as `tp`: _load with the annotation's analysis done once
    for the common cases (scalars, Optional, homogeneous tuples, records)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is int:
        def load_int(value):
            if value.__class__ is not int and (isinstance(value, bool) or not isinstance(value, int)):
                raise RecordError(f"expected an integer, got {value!r}")
            return value
        return load_int
    if tp is str:
        def load_str(value):
            if not isinstance(value, str):
                raise RecordError(f"expected a string, got {value!r}")
            return value
        return load_str
    if origin is typing.Union and len(args) == 2 and _NONE in args:
        inner = _loader(args[0] if args[1] is _NONE else args[1])
        return lambda value: None if value is None else inner(value)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _loader(args[0])

        def load_tuple(value):
            if not isinstance(value, (list, tuple)):
                raise RecordError(f"expected a list, got {type(value).__name__}")
            return tuple(item(v) for v in value)
        return load_tuple
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_dict
    return lambda value: _load(tp, value)


_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)  # each base's annotations in its own module
    return _HINTS[cls]


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _dump(v) for k, v in value.items()}
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a NumPy scalar
        return value.item()
    return value


def _load(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is getattr(__import__("types"), "UnionType", None)):
        if value is None and _NONE in args:
            return None
        options = [a for a in args if a is not _NONE]
        if len(options) == 1:
            return _load(options[0], value)
        errors = []
        for option in options:  # e.g. Union[int, str, None] for a dimension, or two record kinds
            try:
                return _load(option, value)
            except (RecordError, TypeError, ValueError) as e:
                errors.append(str(e))
        raise RecordError(f"{value!r} fits none of {', '.join(getattr(o, '__name__', str(o)) for o in options)}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"expected a list, got {type(value).__name__}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], v) for v in value)
        if origin is tuple and args:
            if len(args) != len(value):
                raise RecordError(f"expected {len(args)} items, got {len(value)}")
            return tuple(_load(a, v) for a, v in zip(args, value))
        item = args[0] if args else Any
        return origin(_load(item, v) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"expected an object, got {type(value).__name__}")
        kt, vt = args if args else (Any, Any)
        return {_load(kt, k): _load(vt, v) for k, v in value.items()}
    if isinstance(tp, type):
        if issubclass(tp, Record):
            return tp.from_dict(value)
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RecordError(f"expected a number, got {value!r}")
            return float(value)
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise RecordError(f"expected an integer, got {value!r}")
            return value
        if tp is bool:
            if not isinstance(value, bool):
                raise RecordError(f"expected true or false, got {value!r}")
            return value
        if tp is str:
            if not isinstance(value, str):
                raise RecordError(f"expected a string, got {value!r}")
            return value
    return value
