"""Real architectures from the onnx wheel (onnx/backend/test/data/light), run on the NumPy
interpreter and on onnxruntime, with random weights.

The light models ship their weights as ConstantOfShape nodes (every weight one constant value);
each is replaced by a seeded random initializer, uniform with He variance (He et al., 2015:
U(-a, a), a = sqrt(6 / fan_in)) so that activations stay O(1) through 50+ layers; every 1-D tensor
(bias, BN scale/mean/variance) is drawn from U(0.5, 1.5), which keeps variances positive.

How close two float32 implementations must agree (`tolerance`). A dot product of length n summed
in float32 in ANY order (the order is the BLAS kernel's choice: OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE change it) is off by at most gamma_n * sum|x_k w_k|, gamma_n = n u / (1 - n u),
u = 2^-24 (Higham, "Accuracy and Stability of Numerical Algorithms", 2002, eq. 3.5). Treating the
roundings as independent, zero-mean, the bound tightens to lambda * sqrt(n) * u * sum|x_k w_k|,
holding with probability at least 1 - 2 n exp(-lambda^2 (1 - u)^2 / 2) (Higham & Mary, "A new
approach to probabilistic rounding error analysis", SISC 2019, Thm 3.1); lambda = 6 makes that
better than 0.997 for n up to 10^5. Along a chain of layers whose gain is O(1) (He init keeps
activation variance constant) the layers' errors add to first order, so the output is off by
about lambda * sqrt(K) * u * S with K = the accumulation depth (the dot lengths of every
Conv/Gemm/MatMul plus the pool windows plus one rounding per other node: an upper bound on any
path's) and S the output scale, max|y| (for a softmax output, |dp_i| <= 2 p_i max|dz|, again at
most the scale of the output). Two implementations differ by at most twice that. The worst-case
gamma_K (4.7e-3 for vgg19, K = 78,262) is too loose to catch anything; the probabilistic one
(2.0e-4 of max|y| for vgg19, 5.5e-5 for squeezenet) still fails any wrong kernel by orders of
magnitude, whatever BLAS kernel runs.
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

from edgewise.runtime.onnx import Interpreter, read_model  # noqa: E402

pytestmark = pytest.mark.host

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")

U = 2.0 ** -24  # unit roundoff of float32
LAMBDA = 6.0  # confidence of the probabilistic bound (see the module docstring)
MODELS = {
    "bvlc_alexnet": (),
    "densenet121": (),
    "inception_v1": (),
    "inception_v2": (),
    "resnet50": (),
    "shufflenet": (),
    "squeezenet": (),
    "zfnet512": (),
    # 20 GFLOP and 550 MB of weights: 20-25 s on 2 shared cores (5-8 s of it in the interpreter).
    "vgg19": (pytest.mark.slow,),
}


def randomized(name: str, seed: int = 0):
    """The light model with each ConstantOfShape weight replaced by a random initializer."""
    model = onnx.load(os.path.join(LIGHT, f"light_{name}.onnx"))
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    rng = np.random.default_rng(seed)
    keep, new = [], []
    for node in g.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in consts:
            shape = tuple(int(d) for d in consts[node.input[0]])
            w = rng.random(shape, np.float32)
            if len(shape) == 1:
                w += np.float32(0.5)
            else:
                a = np.float32(np.sqrt(6.0 / np.prod(shape[1:])))
                w = (w * np.float32(2) - np.float32(1)) * a
            new.append(numpy_helper.from_array(w, node.output[0]))
        else:
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)
    g.initializer.extend(new)
    return model


def accumulation_depth(model) -> int:
    """K: dot lengths of Conv/Gemm/MatMul, pool windows, one rounding per other node, summed."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes.setdefault(vi.name, tuple(d.dim_value for d in dims))
    k = 0
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        ins = [shapes.get(i) for i in node.input]
        if node.op_type == "Conv" and ins[1]:
            k += int(np.prod(ins[1][1:]))
        elif node.op_type == "Gemm" and ins[1]:
            k += ins[1][1] if attrs.get("transB") else ins[1][0]
        elif node.op_type == "MatMul" and ins[1]:
            k += ins[1][-2]
        elif node.op_type == "AveragePool":
            k += int(np.prod(attrs["kernel_shape"]))
        elif node.op_type == "GlobalAveragePool" and ins[0]:
            k += int(np.prod(ins[0][2:]))
        else:
            k += 1
    return k


def tolerance(model, reference: np.ndarray) -> float:
    """Largest |ours - reference| two float32 implementations may show (module docstring)."""
    return 2 * LAMBDA * np.sqrt(accumulation_depth(model)) * U * float(np.abs(reference).max())


@pytest.mark.parametrize("name", [pytest.param(n, marks=list(marks)) for n, marks in MODELS.items()])
def test_light_model_matches_onnxruntime(name):
    model = randomized(name)
    data = model.SerializeToString()
    parsed = read_model(data, f"light_{name}.onnx", None)
    it = Interpreter(parsed, f"light_{name}.onnx")
    x = np.random.default_rng(1).random(it.inputs[0].shape, np.float32)
    t0 = time.perf_counter()
    ours = it.invoke([x])
    elapsed = time.perf_counter() - t0
    so = ort.SessionOptions()
    so.log_severity_level = 3  # the light models keep unused "__SHAPE" initializers; ORT warns about each
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {it.inputs[0].name: x})
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert np.isfinite(b).all()
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance(model, b))
    print(f"{name}: NumPy interpreter {elapsed:.2f} s")
