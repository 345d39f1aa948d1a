"""The onnx wheel's `backend/test/data/light/` models (ShuffleNet, ResNet-50, SqueezeNet) with random weights.

The light files keep the architecture with constant placeholder weights; numeric checks need
weights that make every output depend on the input, so each is re-drawn with a fixed seed:
convolution and Gemm weights He-normal (He et al. 2015, std = sqrt(2 / fan_in)), biases
U(-0.1, 0.1), and BatchNormalization's scale, bias, mean and variance drawn so the folded
normalisation is not a no-op (variance stays positive). Shipped offline with `onnx`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SEED = 20241202
NAMES = ("squeezenet", "shufflenet", "resnet50")


def light_dir() -> Path:
    import onnx

    return Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"


def randomized(name: str, out: Path) -> Path:
    """Write `light_<name>.onnx` with random weights to `out` (once; atomic) and return its path."""
    import onnx
    from onnx import numpy_helper

    if out.exists():
        return out
    model = onnx.load(str(light_dir() / f"light_{name}.onnx"))
    graph = model.graph
    rng = np.random.default_rng(SEED)
    roles = {}
    for node in graph.node:
        if node.op_type == "BatchNormalization":
            for role, tensor in zip(("scale", "bias", "mean", "var"), node.input[1:5]):
                roles[tensor] = role
    draws = {"scale": (0.5, 1.5), "bias": (-0.2, 0.2), "mean": (-0.2, 0.2), "var": (0.5, 2.0)}
    shapes = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    keep, weights = [], []
    for node in graph.node:  # the light files compute each weight with ConstantOfShape(shape initializer)
        if node.op_type != "ConstantOfShape" or node.input[0] not in shapes:
            keep.append(node)
            continue
        name, shape = node.output[0], tuple(int(d) for d in shapes[node.input[0]])
        if name in roles:
            w = rng.uniform(*draws[roles[name]], shape)
        elif len(shape) >= 2:
            w = rng.standard_normal(shape) * np.sqrt(2.0 / int(np.prod(shape[1:])))
        else:
            w = rng.uniform(-0.1, 0.1, shape)
        weights.append(numpy_helper.from_array(w.astype(np.float32), name))
    del graph.node[:]
    graph.node.extend(keep)
    used = {i for n in keep for i in n.input}
    inits = [i for i in graph.initializer if i.name in used] + weights
    del graph.initializer[:]
    graph.initializer.extend(inits)
    names = {i.name for i in inits} | set(shapes)
    real_inputs = [i for i in graph.input if i.name not in names]
    del graph.input[:]
    graph.input.extend(real_inputs)
    model.ir_version = max(model.ir_version, 4)  # IR 4: initializers need not be listed as graph inputs
    _scale_logits(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, out)
    return out


def _scale_logits(model, target_std: float = 3.0) -> None:
    """Scale the last Conv/Gemm so the scores before Softmax have std ~3 on sample images.

    Random deep ReLU networks produce scores in the thousands; a softmax over them is one-hot and
    rounds every other class to zero, which would hide most errors from the comparison.
    """
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    graph = model.graph
    last = [n for n in graph.node if n.op_type in ("Conv", "Gemm")][-1]
    pre = next(n.input[0] for n in graph.node if n.op_type == "Softmax")
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(pre, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    scores = sess.run([pre], {sess.get_inputs()[0].name: images(1, seed=99)})[0]
    factor = target_std / max(float(np.std(scores)), 1e-6)
    inits = {i.name: i for i in graph.initializer}
    for name in last.input[1:]:
        init = inits[name]
        init.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(init) * factor).astype(np.float32), name))


def images(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3, 224, 224) float32 in [-1, 1): the light models' NCHW input."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, 224, 224)).astype(np.float32)
