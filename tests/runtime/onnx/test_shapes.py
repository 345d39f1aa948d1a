"""The ONNX shape rules (runtime/onnx/shapes.py, shapes_tensor.py) cover the registry. NumPy only."""
from edgewise.runtime.onnx import registry
from edgewise.runtime.onnx.validate import RULES


def test_every_registered_op_has_a_shape_rule():
    """An op without a rule would leave its outputs, and everything downstream, unchecked at load."""
    assert sorted({e.op_type for e in registry.ENTRIES} - set(RULES)) == []
