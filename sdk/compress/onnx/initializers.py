"""Post-training compression of ONNX models (for users who come from PyTorch through ONNX).

Magnitude pruning, N:M / block pruning and clustering act on the float initializers that are the
weights of Conv (W, OIHW), Gemm (B; (out, in) when transB=1 else (in, out)) and MatMul (B, (in,
out)) nodes, with the same configs as the Keras techniques (layer patterns match node names, or
initializer names when the node has none). The result is a new ModelProto; the input is not
modified. onnxruntime's static quantization is then the converters' job.

Each weight is viewed as the (out, in) matrix the runtime multiplies with (Conv: OIHW flattened
to (out, in*kh*kw), MatMul/Gemm: B transposed unless transB=1), so N:M groups run along the
inputs exactly as `edgewise.runtime.sparse` expects.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np

from ..clustering.sharing import ClusterConfig, cluster_tensor
from ..pruning.magnitude import MagnitudeConfig, magnitude_mask
from ..pruning.structured import StructuredConfig, block_mask, nm_mask
from ..select import check_rules, override, selected

WEIGHT_INPUT = {"Conv": 1, "Gemm": 1, "MatMul": 1}


def weight_initializers(model) -> List[Tuple[str, str, bool]]:
    """(layer name, initializer name, stored as (in, out)) for each float weight of Conv/Gemm/MatMul."""
    import onnx

    inits = {i.name: i for i in model.graph.initializer}
    out, seen = [], set()
    for node in model.graph.node:
        pos = WEIGHT_INPUT.get(node.op_type)
        if pos is None or len(node.input) <= pos or node.input[pos] not in inits or node.input[pos] in seen:
            continue
        init = inits[node.input[pos]]
        if init.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
            continue
        if len(init.dims) < 2:
            continue
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        in_out = node.op_type == "MatMul" or (node.op_type == "Gemm" and not trans_b)
        seen.add(init.name)
        out.append((node.name or init.name, init.name, in_out))
    return out


def _matrix(a: np.ndarray, in_out: bool) -> np.ndarray:
    return a.T if in_out else a.reshape(a.shape[0], -1)


def _unmatrix(m: np.ndarray, shape, in_out: bool) -> np.ndarray:
    return m.T if in_out else m.reshape(shape)


def _rewrite(model, include, exclude, owner: str, fn: Callable[[str, np.ndarray, bool], np.ndarray]):
    import onnx
    from onnx import numpy_helper

    found = weight_initializers(model)
    if not found:
        raise ValueError(f"{owner}: the ONNX model has no Conv/Gemm/MatMul float weight initializer")
    names = selected([layer for layer, _, _ in found], include, exclude, owner)
    new = onnx.ModelProto()
    new.CopyFrom(model)
    by_name = {i.name: i for i in new.graph.initializer}
    for layer, init_name, in_out in found:
        if layer not in names:
            continue
        init = by_name[init_name]
        a = numpy_helper.to_array(init)
        b = fn(layer, a.astype(np.float32), in_out).astype(a.dtype)
        init.CopyFrom(numpy_helper.from_array(b, init_name))
    return new


def prune_magnitude(model, config: MagnitudeConfig):
    """Zero the smallest |w| of each selected weight to its target sparsity (one shot, no schedule)."""
    names = [layer for layer, _, _ in weight_initializers(model)]
    check_rules(names, config.layer_targets, "MagnitudeConfig.layer_targets")
    return _rewrite(model, config.include, config.exclude, "MagnitudeConfig",
                    lambda layer, a, _t: a * magnitude_mask(a, override(layer, config.layer_targets,
                                                                          config.target_sparsity)))


def prune_structured(model, config: StructuredConfig):
    """N:M or block sparsity along the inputs of each selected weight's (out, in) matrix."""
    def apply(layer, a, in_out):
        m = _matrix(a, in_out)
        try:
            mask = (nm_mask(m, config.n, config.m) if config.kind == "nm"
                    else block_mask(m, config.block[0], config.block[1], config.sparsity))
        except ValueError as e:
            raise ValueError(f"ONNX weight of {layer!r}: cannot prune {config.label}: {e}") from None
        return _unmatrix(m * mask, a.shape, in_out)

    return _rewrite(model, config.include, config.exclude, "StructuredConfig", apply)


def cluster(model, config: ClusterConfig, seed: int = 0):
    """Replace each selected weight by its nearest of k centroids (layouts as in `clustering.sharing`)."""
    def apply(layer, a, in_out):
        m = _matrix(a, in_out).T  # (in, out): cluster_tensor's channels are the last axis
        return _unmatrix(cluster_tensor(m, config, seed).values().T, a.shape, in_out)

    return _rewrite(model, config.include, config.exclude, "ClusterConfig", apply)


def matmul_weight_names(model) -> Tuple[str, ...]:
    """Initializers stored (in, out), for `measure.structures(..., onnx_matmul_names=...)`."""
    return tuple(name for _, name, in_out in weight_initializers(model) if in_out)


def initializer_arrays(model) -> Dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
