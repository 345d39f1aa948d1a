"""The per-output figures, on outputs whose errors are worked out by hand."""
import numpy as np

from edgewise.converters.compare import check_output, top1_agreement
from edgewise.converters.result import VerifyConfig


def test_errors_cosine_and_relative_error_by_hand():
    ref = np.array([[3.0, 4.0]], np.float32)       # |ref| = 5
    got = np.array([[3.0, 4.5]], np.float32)       # error (0, 0.5)
    c = check_output("y", ref, got, VerifyConfig(), precision="float32")
    assert c.max_abs_error == 0.5 and c.mean_abs_error == 0.25
    assert abs(c.relative_error - 0.1) < 1e-9                     # 0.5 / 5
    assert abs(c.cosine - (9 + 18) / (5 * np.hypot(3, 4.5))) < 1e-9
    assert not c.passed                                           # 0.5 > 1e-4 + 1e-4 * 4


def test_float16_bound_is_relative_to_the_output_peak():
    ref = np.array([[100.0, 0.0]], np.float32)
    got = ref + np.array([[1.5, 0.0]], np.float32)
    c = check_output("y", ref, got, VerifyConfig(), precision="float16")
    assert c.tolerance == 1e-4 + 2e-2 * 100 and c.passed


def test_quantized_bound_counts_steps_of_the_output_scale():
    ref = np.zeros((4, 3), np.float32)
    ref[:, 0] = 1.0
    got = ref + 0.05                                              # 0.05 = 2.5 steps of 0.02
    assert check_output("y", ref, got, VerifyConfig(), 0.02, "int8").passed
    assert not check_output("y", ref, got + 0.02, VerifyConfig(), 0.02, "int8").passed  # 3.5 steps


def test_top1_agreement_skips_samples_too_close_to_call():
    ref = np.array([[1.0, 0.0], [0.5, 0.49]], np.float32)
    got = np.array([[1.0, 0.0], [0.49, 0.5]], np.float32)
    assert top1_agreement(ref, got, margin=0.0) == (0.5, 2)
    assert top1_agreement(ref, got, margin=0.05) == (1.0, 1)
