"""Post-training compression of ONNX initializers: the property in the written file, a model onnxruntime runs."""
import numpy as np
import pytest

from edgewise.compress.clustering import ClusterConfig
from edgewise.compress.measure import distinct_values, structures
from edgewise.compress.onnx import cluster, matmul_weight_names, prune_magnitude, prune_structured, weight_initializers
from edgewise.compress.pruning import MagnitudeConfig, StructuredConfig

pytestmark = pytest.mark.host
onnx = pytest.importorskip("onnx")


def small_model():
    """X (N, 4, 8, 8) -> Conv 8x4x3x3 -> Relu -> Flatten -> Gemm (transB=1, 16x512) -> Relu -> MatMul 16x8."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (
        ("w_conv", rng.normal(size=(8, 4, 3, 3))), ("b_conv", rng.normal(size=8)),
        ("w_fc", rng.normal(size=(16, 512)) / 20), ("b_fc", rng.normal(size=16)),
        ("w_proj", rng.normal(size=(16, 8))))]
    nodes = [
        helper.make_node("Conv", ["x", "w_conv", "b_conv"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w_fc", "b_fc"], ["g"], name="fc", transB=1),
        helper.make_node("Relu", ["g"], ["h"], name="relu2"),
        helper.make_node("MatMul", ["h", "w_proj"], ["y"], name="proj"),
    ]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def run(model, x):
    import onnxruntime as ort

    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def save(model, path):
    onnx.save(model, str(path))
    return str(path)


def test_weights_found_with_their_layout():
    assert weight_initializers(small_model()) == [("conv", "w_conv", False), ("fc", "w_fc", False),
                                                  ("proj", "w_proj", True)]


def test_magnitude_zeros_in_the_file_and_input_untouched(tmp_path):
    from edgewise.converters.weights import file_sparsity

    model = small_model()
    original = model.SerializeToString()
    pruned = prune_magnitude(model, MagnitudeConfig(0.7, layer_targets={"proj": 0.5}))
    assert model.SerializeToString() == original
    found = {t.name: t.sparsity for t in file_sparsity(save(pruned, tmp_path / "m.onnx")).tensors}
    assert found == pytest.approx({"w_conv": 0.7, "w_fc": 0.7, "w_proj": 0.5}, abs=0.01)
    x = np.random.default_rng(1).normal(size=(4, 4, 8, 8)).astype(np.float32)
    assert run(pruned, x).shape == (4, 8)
    nothing = prune_magnitude(model, MagnitudeConfig(0.0))
    np.testing.assert_allclose(run(nothing, x), run(model, x), rtol=1e-6)


def test_nm_pattern_recognised_by_the_runtime(tmp_path):
    model = small_model()
    pruned = prune_structured(model, StructuredConfig("nm", 2, 4))
    found = structures(save(pruned, tmp_path / "nm.onnx"), matmul_weight_names(pruned))
    assert {n: s.nm for n, s in found.items()} == {"w_conv": (2, 4), "w_fc": (2, 4), "w_proj": (2, 4)}
    x = np.random.default_rng(1).normal(size=(2, 4, 8, 8)).astype(np.float32)
    assert np.isfinite(run(pruned, x)).all()


def test_clustering_and_patterns(tmp_path):
    model = small_model()
    clustered = cluster(model, ClusterConfig(6, "density", include=("conv", "fc"), channel_scales=False))
    values = {t.name: t for t in distinct_values(save(clustered, tmp_path / "c.onnx"))}
    assert values["w_conv"].distinct <= 6 and values["w_fc"].distinct <= 6 and values["w_proj"].distinct == 128
    for cfg in (ClusterConfig(3, per_channel=True, include=("conv",)), ClusterConfig(3, include=("conv",))):
        assert distinct_values(save(cluster(model, cfg), tmp_path / "p.onnx"))[0].max_per_channel <= 3
    with pytest.raises(ValueError, match="ClusterConfig.include: pattern 'dense'"):
        cluster(model, ClusterConfig(4, include=("dense",)))


def test_block_pattern_and_a_layer_that_does_not_divide(tmp_path):
    model = small_model()
    pruned = prune_structured(model, StructuredConfig("block", block=(4, 4), sparsity=0.75, include=("fc",)))
    found = structures(save(pruned, tmp_path / "b.onnx"), matmul_weight_names(pruned))
    assert found["w_fc"].block is not None and found["w_fc"].density <= 0.25 + 1e-9
    assert found["w_conv"].label == "dense"
    with pytest.raises(ValueError, match="'conv'.*block 16x16"):
        prune_structured(model, StructuredConfig("block", block=(16, 16), include=("conv",)))
