"""num_threads reaches NumPy's BLAS through its own C entry points (backends/blas_threads.py)."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.backends.blas_threads import blas_threads, set_blas_threads
from edgewise.runtime.backends.numpy_engine import NumpyEngine
from edgewise.runtime.tflite.interpreter import Interpreter

from ..tflite.graphs import Builder


@pytest.fixture
def blas():
    found = blas_threads()
    if found.library is None:
        pytest.skip("NumPy's BLAS has no thread-count entry point this module knows")
    before = found.get()
    yield found
    found.set(before)


def _model():
    b = Builder()
    x = b.tensor("x", (2, 4))
    w = b.tensor("w", (3, 4), value=np.arange(12.0).reshape(3, 4))
    y = b.tensor("y", (2, 3))
    b.op("FULLY_CONNECTED", [x, w, -1], [y], fused_activation_function="NONE", keep_num_dims=False)
    return b.model([x], [y])


@pytest.mark.parametrize("n", [1, 2])
def test_engine_sets_and_reports_the_blas_thread_count(blas, n):
    engine = NumpyEngine(Interpreter(_model(), "<test>"), "requested", num_threads=n)
    assert blas.get() == n
    assert f"threads={n}" in " ".join(engine.info.options)
    (y,) = engine.invoke([np.ones((2, 4), np.float32)])
    np.testing.assert_array_equal(y, [[6.0, 22.0, 38.0]] * 2)


def test_no_count_leaves_the_setting_alone(blas):
    set_blas_threads(1)
    NumpyEngine(Interpreter(_model(), "<test>"), "requested")
    assert blas.get() == 1


def test_a_nonpositive_count_is_refused(blas):
    with pytest.raises(ValueError, match="num_threads"):
        set_blas_threads(0)
