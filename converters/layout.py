"""Bind a source's inputs and outputs to an artifact's, by name and shape, across layout changes.

onnx2tf turns channels-first tensors (NCW, NCHW, NCDHW) into channels-last (NWC, NHWC, NDHWC),
so the same user data has to be transposed before it reaches the TFLite file, and 3-D-or-more
outputs transposed back before they are compared. `match` works the permutation out from the two
shapes, preferring channels-last when the converter is known to move channels (a square 3x3
image is ambiguous by shape alone), and `adapt` applies it. The permutation is recorded in the
ConversionResult (`layouts`), so code that runs the file later (`edgewise.runtime`) feeds the
same data the same way: `model.run(adapt(feeds, result.layouts))`.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .result import InputLayout

Shape = Tuple[Optional[int], ...]
CHANNELS_LAST = {3: (0, 2, 1), 4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}
_NAMES = {3: ("NCW", "NWC"), 4: ("NCHW", "NHWC"), 5: ("NCDHW", "NDHWC")}


def _fits(want: Shape, got: Shape) -> bool:
    """Equal up to unknown dimensions and the batch dimension."""
    return len(want) == len(got) and all(
        i == 0 or a is None or b is None or a < 0 or b < 0 or a == b for i, (a, b) in enumerate(zip(want, got)))


def infer_perm(source: Shape, artifact: Shape, channels_last: bool) -> Optional[Tuple[int, ...]]:
    """() when `artifact` has the source's layout, the channels-last permutation when it has that, else None."""
    perm = CHANNELS_LAST.get(len(source))
    moved = tuple(source[p] for p in perm) if perm else None
    options = [((), tuple(source)), (perm, moved)] if perm else [((), tuple(source))]
    if channels_last and perm:
        options.reverse()
    for p, shape in options:
        if _fits(shape, artifact):
            return p
    return None


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _pair_by_name(src: Sequence[str], art: Sequence[str]) -> Dict[int, int]:
    """source index -> artifact index for names that are equal, or contained once the punctuation is normalised."""
    pairs: Dict[int, int] = {}
    used = set()
    for exact in (True, False):
        for i, s in enumerate(src):
            if i in pairs:
                continue
            hits = [j for j, a in enumerate(art) if j not in used and (a == s if exact else _key(s) in _key(a))]
            if len(hits) == 1:
                pairs[i] = hits[0]
                used.add(hits[0])
    return pairs


def pair(src_names: Sequence[str], src_shapes: Sequence[Shape], art_names: Sequence[str],
         art_shapes: Sequence[Shape], channels_last: bool, what: str) -> List[Tuple[int, Tuple[int, ...]]]:
    """For each source tensor, (artifact index, perm): by name, then by fitting shape, then in order."""
    if len(src_names) != len(art_names):
        raise ValueError(f"the artifact has {len(art_names)} {what}s {list(art_names)}, the source "
                         f"{len(src_names)} {list(src_names)}")
    pairs = _pair_by_name(src_names, art_names)
    free = [j for j in range(len(art_names)) if j not in pairs.values()]
    for i in range(len(src_names)):  # unnamed: the only free artifact tensor whose shape fits
        if i in pairs:
            continue
        fits = [j for j in free if infer_perm(src_shapes[i], art_shapes[j], channels_last) is not None]
        if len(fits) == 1 or (fits and i == len(src_names) - 1):
            pairs[i] = fits[0]
            free.remove(fits[0])
    for i in range(len(src_names)):  # still ambiguous (same shapes): keep the order
        if i not in pairs:
            pairs[i] = free.pop(0)
    out = []
    for i in range(len(src_names)):
        j = pairs[i]
        perm = infer_perm(src_shapes[i], art_shapes[j], channels_last)
        if perm is None:
            raise ValueError(f"{what} {src_names[i]!r} has shape {_fmt(src_shapes[i])} in the source but its "
                             f"counterpart {art_names[j]!r} has {_fmt(art_shapes[j])} in the artifact")
        out.append((j, perm))
    return out


def match_inputs(src_names, src_shapes, art_names, art_shapes, channels_last: bool) -> Tuple[InputLayout, ...]:
    """One InputLayout per source input, naming its artifact counterpart and the transpose between them."""
    layouts = []
    for i, (j, perm) in enumerate(pair(src_names, src_shapes, art_names, art_shapes, channels_last, "input")):
        desc = "same layout"
        if perm:
            a, b = _NAMES[len(perm)]
            desc = f"{a} -> {b}: the artifact takes the input transposed by {perm}"
        layouts.append(InputLayout(src_names[i], art_names[j], tuple(src_shapes[i]), tuple(art_shapes[j]),
                                   tuple(perm), desc))
    return tuple(layouts)


def adapt(feeds: Dict[str, np.ndarray], layouts: Sequence[InputLayout]) -> Dict[str, np.ndarray]:
    """The user's {source input name: array} as the artifact wants it: {artifact input name: array}."""
    out = {}
    for lay in layouts:
        a = np.asarray(feeds[lay.name])
        out[lay.artifact_name] = np.ascontiguousarray(np.transpose(a, lay.perm)) if lay.perm else a
    return out


def for_model(input_names: Sequence[str], feeds: Dict[str, np.ndarray],
              layouts: Sequence[InputLayout]) -> Dict[str, np.ndarray]:
    """The user's data for an `edgewise.runtime` Model of the artifact: adapted, keyed by the model's input names.

    The runtime names TFLite inputs by tensor ("serving_default_image:0") where verification uses
    the signature key ("image"); a name that contains exactly one key is that key's input.
    """
    adapted = adapt(feeds, layouts)
    return {name: adapted[_bind(name, adapted)] for name in input_names}


def _bind(tensor_name: str, feeds: Dict[str, np.ndarray]) -> str:
    if tensor_name in feeds:
        return tensor_name
    hits = [k for k in feeds if k in tensor_name]
    if len(hits) == 1:
        return hits[0]
    if len(feeds) == 1:
        return next(iter(feeds))
    raise KeyError(f"cannot tell which of {sorted(feeds)} feeds the input {tensor_name!r}")


def restore(y: np.ndarray, perm: Tuple[int, ...]) -> np.ndarray:
    """An artifact output in the source's layout (the inverse of `perm`)."""
    return np.transpose(y, np.argsort(perm)) if perm else y


def _fmt(shape: Shape) -> str:
    return "(" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + ")"
