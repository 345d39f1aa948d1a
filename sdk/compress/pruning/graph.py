"""The layer graph of a Keras 3 model, as names: who feeds whom, in topological order."""
from __future__ import annotations

from typing import Dict, List


def parents(model) -> Dict[str, List[str]]:
    """Layer name -> names of the layers whose outputs it consumes (in argument order).

    Reads each layer's first inbound node, the one the model itself created; an InputLayer's name
    appears as a parent but has no entry of its own.
    """
    out: Dict[str, List[str]] = {}
    for layer in model.layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if not nodes:
            raise ValueError(f"model {model.name!r}: layer {layer.name!r} is not connected (build the model first)")
        out[layer.name] = [t._keras_history.operation.name for t in nodes[0].input_tensors]
    return out


def children(model) -> Dict[str, List[str]]:
    kids: Dict[str, List[str]] = {layer.name: [] for layer in model.layers}
    for name, ps in parents(model).items():
        for p in ps:
            kids.setdefault(p, []).append(name)
    return kids


def output_layers(model) -> List[str]:
    return [t._keras_history.operation.name for t in model.outputs]
