"""The reference runtimes (LiteRT, onnxruntime), driven directly, and the error metrics tests use.

The oracles are called through their own Python APIs rather than through edgewise's LiteRT and
onnxruntime engines, so a bug in edgewise's input handling cannot hide on both sides of a comparison.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

TINY = float(np.finfo(np.float32).tiny)


def relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    """max|a - b| / max(max|b|, tiny): the worst error as a fraction of the reference's largest magnitude.

    Normalising by the largest magnitude (the infinity norm) rather than element by element keeps
    the measure meaningful where outputs pass near zero (softmax tails, logits that cancel), where
    an element-wise ratio explodes on differences of a few ulps; it is still scale-free, so one
    bound serves logits and probabilities. `tiny` (the smallest normal float32) only guards the
    all-zero reference. For float32 arithmetic the summation-order noise of a dot product of length
    n is about sqrt(n) * 2**-24 relative (Higham, "Accuracy and Stability of Numerical Algorithms",
    sec. 3.1), ~1e-6 for the widest layers here, so 1e-5 leaves room without letting a wrong kernel
    (errors of 1e-3 and up) through.
    """
    a = np.asarray(actual, np.float64)
    b = np.asarray(reference, np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape} vs reference {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), TINY))


def max_step_difference(actual: np.ndarray, reference: np.ndarray) -> int:
    """The largest difference of two integer tensors, in quantization steps (units of the integer)."""
    a = np.asarray(actual)
    b = np.asarray(reference)
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape} vs reference {b.shape}")
    if a.size == 0:
        return 0
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


def litert_interpreter(path, builtin: bool, num_threads: Optional[int] = 1):
    """ai_edge_litert's Interpreter: builtin=True is BUILTIN_WITHOUT_DEFAULT_DELEGATES (reference kernels),
    builtin=False the default resolver, which applies the XNNPACK delegate."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"model_path": str(path)}
    if num_threads:
        kw["num_threads"] = num_threads
    if builtin:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(**kw)
    it.allocate_tensors()
    return it


def litert_run(it, feeds: Sequence[np.ndarray]) -> List[np.ndarray]:
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def litert_inputs(it, raw: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Float samples quantized with the interpreter's own input parameters where the input is int8/uint8."""
    out = []
    for d, x in zip(it.get_input_details(), raw):
        dt = np.dtype(d["dtype"])
        if dt.kind in "iu" and x.dtype.kind == "f":
            scale, zp = d["quantization"]
            info = np.iinfo(dt)
            x = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dt)
        out.append(x.astype(dt, copy=False))
    return out


def ort_session(path, optimized: bool = True):
    """onnxruntime on CPU, one thread. optimized=False runs the graph exactly as written (no QDQ fusion)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if not optimized:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_run(sess, feeds: Sequence[np.ndarray]) -> List[np.ndarray]:
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), feeds)})


def litert_first_divergence(path, feeds: Sequence[np.ndarray], intermediates, rtol: float) -> str:
    """Where the backend first leaves LiteRT's builtin kernels, for a failure message.

    Runs LiteRT with experimental_preserve_all_tensors and walks the ops in execution order,
    comparing each op's first output with `intermediates` (the backend's tensors by name, from
    run(keep_intermediates=True)): integers must be equal, floats within `rtol`.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    litert_run(it, feeds)
    details = {d["index"]: d for d in it.get_tensor_details()}
    for op in it._get_ops_details():  # the only API that lists ops in execution order
        out = op["outputs"][0]
        d = details[out]
        ref = it.get_tensor(out)
        got = intermediates.get(d["name"])
        where = f"op #{op['index']} {op['op_name']}, output {d['name']!r} {ref.dtype}{tuple(ref.shape)}"
        if got is None:
            return f"{where}: not among the backend's intermediates"
        got = np.asarray(got)
        if got.shape != ref.shape:
            return f"{where}: backend shape {got.shape}"
        if ref.dtype.kind in "iu":
            n = int(np.count_nonzero(got != ref))
            if n:
                ins = [(details[i]["name"], details[i]["quantization"]) for i in op["inputs"] if i >= 0]
                return (f"{where}: {n} of {ref.size} values differ (max {max_step_difference(got, ref)} steps); "
                        f"quantization in {ins}, out {d['quantization']}")
        elif ref.dtype.kind == "f" and relative_error(got, ref) > rtol:
            return f"{where}: relative error {relative_error(got, ref):.3g}"
    return "no intermediate differs"


def ort_first_divergence(path, feeds: Sequence[np.ndarray], intermediates, rtol: float) -> str:
    """Where the backend first leaves onnxruntime (unoptimized, so every tensor exists), for a failure message.

    Every node output with a type known to shape inference becomes a graph output; nodes are walked
    in graph order (ONNX requires topological order) and their outputs compared with `intermediates`.
    """
    import onnx
    import onnxruntime as ort

    proto = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    typed = {v.name: v for v in proto.graph.value_info}
    present = {o.name for o in proto.graph.output}
    order = []
    for node in proto.graph.node:
        for name in node.output:
            if name and name in typed and name not in present:
                proto.graph.output.append(typed[name])
                present.add(name)
            if name:
                order.append((node, name))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    ref = dict(zip(names, sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), feeds)})))
    for node, name in order:
        if name not in ref or name not in intermediates:
            continue
        want, got = np.asarray(ref[name]), np.asarray(intermediates[name])
        where = f"node {node.name!r} ({node.op_type}), output {name!r} {want.dtype}{want.shape}"
        if got.shape != want.shape:
            return f"{where}: backend shape {got.shape}"
        if want.dtype.kind in "iub":
            n = int(np.count_nonzero(got != want))
            if n:
                return f"{where}: {n} of {want.size} values differ"
        elif want.dtype.kind == "f" and relative_error(got, want) > rtol:
            return f"{where}: relative error {relative_error(got, want):.3g}"
    return "no intermediate differs"
