"""The source a converted file is checked against: any callable from named inputs to outputs.

A `Reference` wraps a Keras model, an onnxruntime session over an ONNX file, a PyTorch module or
a plain function, and runs it over a batch in chunks (a fixed batch dimension is honoured). Names
matter: inputs are bound by name, and outputs are matched to the artifact's by name first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from edgewise._extras import require

from .samples import Feeds, count, take

CHUNK = 64


@dataclass
class Reference:
    """A named, batched callable: `outputs = ref(feeds)`; one float32 array per output, batch first."""

    name: str
    input_names: List[str]
    output_names: List[str]
    run_chunk: Callable[[Feeds], List[np.ndarray]]
    input_shapes: Tuple[Tuple[Optional[int], ...], ...] = ()
    fixed_batch: Optional[int] = None

    def __call__(self, feeds: Feeds) -> List[np.ndarray]:
        n = count(feeds)
        step = self.fixed_batch or CHUNK
        parts: List[List[np.ndarray]] = []
        for start in range(0, n, step):
            chunk = take(feeds, start, start + step)
            m = count(chunk)
            if self.fixed_batch and m < step:  # pad the last chunk to the fixed batch, drop the padding after
                chunk = {k: np.concatenate([a, np.repeat(a[-1:], step - m, axis=0)]) for k, a in chunk.items()}
            outs = [np.asarray(o, np.float32)[:m] for o in self.run_chunk(chunk)]
            parts.append(outs)
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def _dim(d) -> Optional[int]:
    return d if isinstance(d, int) and d > 0 else None


def from_keras(model) -> Reference:
    names = [t.name for t in model.inputs]
    outs = list(getattr(model, "output_names", None) or [f"output_{i}" for i in range(len(model.outputs))])
    shapes = tuple(tuple(_dim(d) for d in t.shape) for t in model.inputs)

    def run(feeds: Feeds) -> List[np.ndarray]:
        y = model([feeds[n] for n in names] if len(names) > 1 else feeds[names[0]], training=False)
        ys = list(y.values()) if isinstance(y, dict) else (list(y) if isinstance(y, (list, tuple)) else [y])
        return [np.asarray(a) for a in ys]

    return Reference(f"keras model {model.name!r}", names, outs, run, shapes)


def from_onnx(path: "str | os.PathLike") -> Reference:
    ort = require("onnxruntime", "ONNX verification")
    path = os.fspath(path)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ins = sess.get_inputs()
    names = [i.name for i in ins]
    outs = [o.name for o in sess.get_outputs()]
    shapes = tuple(tuple(_dim(d) for d in i.shape) for i in ins)
    firsts = {s[0] for s in shapes if s}
    fixed = next(iter(firsts)) if len(firsts) == 1 and None not in firsts else None
    types = {i.name: _ORT_TYPES.get(i.type, np.float32) for i in ins}

    def run(feeds: Feeds) -> List[np.ndarray]:
        return sess.run(outs, {n: np.asarray(feeds[n]).astype(types[n]) for n in names})

    return Reference(path, names, outs, run, shapes, fixed)


_ORT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
              "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
              "tensor(double)": np.float64}


def from_torch(module, input_names: Sequence[str], input_shapes: Sequence[Tuple[Optional[int], ...]] = ()) -> Reference:
    torch = require("torch", "PyTorch conversion")
    module.eval()
    names = list(input_names)

    def run(feeds: Feeds) -> List[np.ndarray]:
        with torch.no_grad():
            y = module(*[torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names])
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        return [t.detach().cpu().numpy() for t in ys]

    return Reference(f"torch module {type(module).__name__!r}", names, [], run, tuple(input_shapes))


def from_callable(fn: Callable, input_names: Sequence[str], output_names: Sequence[str] = (),
                  name: str = "callable") -> Reference:
    """Any function taking the inputs positionally (in `input_names` order) and returning array(s)."""
    names = list(input_names)

    def run(feeds: Feeds) -> List[np.ndarray]:
        y = fn(*[feeds[n] for n in names])
        return [np.asarray(a) for a in (y if isinstance(y, (list, tuple)) else [y])]

    return Reference(name, names, list(output_names), run)


def as_reference(source) -> Reference:
    """A Reference for a Keras model, an ONNX path, a torch module, or an existing Reference."""
    if isinstance(source, Reference):
        return source
    if isinstance(source, (str, os.PathLike)):
        return from_onnx(source)
    if type(source).__module__.startswith("keras") or hasattr(source, "predict"):
        return from_keras(source)
    raise TypeError(f"cannot use {type(source).__name__} as a reference: give a Keras model, an ONNX path, "
                    "or wrap a function with edgewise.converters.reference.from_callable/from_torch")


def from_saved_model(folder: "str | os.PathLike", signature: str = "serving_default") -> Reference:
    """A SavedModel's serving signature; outputs in the signature's key order (sorted, as TFLite orders them)."""
    tf = require("tensorflow", "SavedModel conversion")
    folder = os.fspath(folder)
    loaded = tf.saved_model.load(folder)
    if signature not in loaded.signatures:
        raise ValueError(f"{folder}: no signature {signature!r}; it has {sorted(loaded.signatures)}")
    fn = loaded.signatures[signature]
    specs = fn.structured_input_signature[1]
    names = sorted(specs)
    outs = sorted(fn.structured_outputs)
    shapes = tuple(tuple(_dim(d) for d in specs[n].shape.as_list()) for n in names)

    def run(feeds: Feeds) -> List[np.ndarray]:
        y = fn(**{n: tf.constant(feeds[n], dtype=specs[n].dtype) for n in names})
        return [y[k].numpy() for k in outs]

    run.keep_alive = loaded  # the signature's variables live as long as the loaded object
    return Reference(folder, names, outs, run, shapes)
