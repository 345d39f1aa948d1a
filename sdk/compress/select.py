"""Which layers a technique touches: include / exclude name patterns and per-layer overrides.

Patterns are shell globs on layer names (`conv*`, `dense_?`), as users write them in a recipe.
A pattern that matches no layer is an error naming the pattern and the config field: a typo
must not silently compress nothing (or everything). Per-layer overrides are an ordered mapping
pattern -> value; the later rule wins, as in ai-edge-quantizer's recipes.
"""
from __future__ import annotations

import fnmatch
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


def leaf_layers(model) -> list:
    """Every layer of `model` with nested models flattened, in model order."""
    out = []
    for layer in model.layers:
        inner = getattr(layer, "layers", None)
        if inner:
            out.extend(leaf_layers(layer))
        else:
            out.append(layer)
    return out


def check_patterns(names: Sequence[str], patterns: Iterable[str], field: str) -> None:
    """Raise ValueError naming `field` and the pattern when a pattern matches none of `names`."""
    for p in patterns:
        if not any(fnmatch.fnmatchcase(n, p) for n in names):
            raise ValueError(f"{field}: pattern {p!r} matches no layer (layers: {', '.join(names)})")


def selected(names: Sequence[str], include: Sequence[str], exclude: Sequence[str],
             owner: str = "config") -> List[str]:
    """`names` kept by the patterns: all when `include` is empty, minus any matched by `exclude`."""
    check_patterns(names, include, f"{owner}.include")
    check_patterns(names, exclude, f"{owner}.exclude")
    keep = [n for n in names if not include or any(fnmatch.fnmatchcase(n, p) for p in include)]
    return [n for n in keep if not any(fnmatch.fnmatchcase(n, p) for p in exclude)]


def override(name: str, rules: Dict[str, float], default):
    """The value of the last rule whose pattern matches `name`, else `default`."""
    value = default
    for pattern, v in rules.items():
        if fnmatch.fnmatchcase(name, pattern):
            value = v
    return value


def check_rules(names: Sequence[str], rules: Dict[str, object], field: str) -> None:
    check_patterns(names, rules.keys(), field)


def patterns_tuple(value: Optional[Iterable[str]]) -> Tuple[str, ...]:
    return tuple(value or ())
