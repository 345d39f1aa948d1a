"""Real architectures from the onnx wheel (onnx/backend/test/data/light), run on the NumPy
interpreter and on onnxruntime, with random weights.

The light models ship their weights as ConstantOfShape nodes (every weight one constant value);
each is replaced by a seeded random initializer, uniform with He variance (He et al., 2015:
U(-a, a), a = sqrt(6 / fan_in)) so that activations stay O(1) through 50+ layers; every 1-D tensor
(bias, BN scale/mean/variance) is drawn from U(0.5, 1.5), which keeps variances positive.
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

# Every model meets rtol 1e-5 (atol 1e-6 of the largest output, for probabilities near zero) with
# these weights; none needs a looser, per-model tolerance.
RTOL, ATOL_REL = 1e-5, 1e-6
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


@pytest.mark.parametrize("name", [pytest.param(n, marks=list(marks)) for n, marks in MODELS.items()])
def test_light_model_matches_onnxruntime(name):
    data = randomized(name).SerializeToString()
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
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL_REL * float(np.abs(b).max()))
    print(f"{name}: NumPy interpreter {elapsed:.2f} s")
