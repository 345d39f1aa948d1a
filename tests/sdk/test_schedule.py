"""Pruning schedules: the formulas, when masks are updated, and JSON round trips."""
import pytest

from edgewise.compress import ConstantSparsity, PolynomialDecay, schedule_from_dict


# Zhu & Gupta 2017 (arXiv:1710.01878), eq. 1:  s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (tn - t0)) ** p
# worked by hand for s_f = 0.9, t0 = 10, tn = 110 (so tn - t0 = 100); before t0 the sparsity is s_i,
# after tn it is s_f. At t = 35, 60, 85 the fraction (t - t0) / 100 is 0.25, 0.5, 0.75 and
# (1 - fraction) is 0.75, 0.5, 0.25, whose cubes are 0.421875, 0.125, 0.015625.
#   p = 3, s_i = 0:     s = 0.9 - 0.9 * cube:   0.9 * 0.578125 = 0.5203125, 0.9 * 0.875 = 0.7875,
#                                               0.9 * 0.984375 = 0.8859375
#   p = 3, s_i = 0.25:  s = 0.9 - 0.65 * cube:  0.9 - 0.27421875 = 0.62578125, 0.9 - 0.08125 = 0.81875,
#                                               0.9 - 0.01015625 = 0.88984375
#   p = 1, s_i = 0:     s = 0.9 * fraction:     0.225, 0.45, 0.675
#   p = 1, s_i = 0.25:  s = 0.9 - 0.65 * (1 - fraction): 0.9 - 0.4875 = 0.4125, 0.9 - 0.325 = 0.575,
#                                               0.9 - 0.1625 = 0.7375
HAND = {
    (3.0, 0.0): {0: 0.0, 10: 0.0, 35: 0.5203125, 60: 0.7875, 85: 0.8859375, 110: 0.9, 130: 0.9},
    (3.0, 0.25): {0: 0.25, 10: 0.25, 35: 0.62578125, 60: 0.81875, 85: 0.88984375, 110: 0.9, 130: 0.9},
    (1.0, 0.0): {0: 0.0, 10: 0.0, 35: 0.225, 60: 0.45, 85: 0.675, 110: 0.9, 130: 0.9},
    (1.0, 0.25): {0: 0.25, 10: 0.25, 35: 0.4125, 60: 0.575, 85: 0.7375, 110: 0.9, 130: 0.9},
}


@pytest.mark.parametrize("power, s_i", sorted(HAND))
def test_polynomial_decay_follows_zhu_gupta(power, s_i):
    sched = PolynomialDecay(0.9, begin_step=10, end_step=110, initial_sparsity=s_i, power=power, frequency=1)
    for t, expected in HAND[power, s_i].items():
        assert sched(t)[1] == pytest.approx(expected, abs=1e-12), f"step {t}"


def test_polynomial_decay_endpoints_and_shape():
    sched = PolynomialDecay(0.8, begin_step=0, end_step=100, power=3.0, frequency=10)
    assert sched.sparsity_at(0) == pytest.approx(0.0)
    assert sched.sparsity_at(100) == pytest.approx(0.8)
    assert sched.sparsity_at(50) == pytest.approx(0.7)  # 0.8 - 0.8 * (1 - 50/100)**3 = 0.8 - 0.1
    values = [sched.sparsity_at(t) for t in range(101)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[10] - values[0] > values[100] - values[90]  # fast early, slow late


def test_polynomial_decay_prunes_every_frequency_steps_inside_the_window():
    sched = PolynomialDecay(0.5, begin_step=4, end_step=23, frequency=5)
    pruning_steps = [t for t in range(40) if sched(t)[0]]
    assert pruning_steps == [4, 9, 14, 19, 23]  # 23 = end_step: the last update reaches the target


def test_constant_sparsity():
    sched = ConstantSparsity(0.6, begin_step=2, end_step=12, frequency=5)
    assert [t for t in range(20) if sched(t)[0]] == [2, 7, 12]
    assert {sched(t)[1] for t in range(20)} == {0.6}
    forever = ConstantSparsity(0.3, frequency=3)
    assert forever(3000)[0] and not forever(3001)[0]


@pytest.mark.parametrize("sched", [
    ConstantSparsity(0.5, 1, 9, 2),
    PolynomialDecay(0.75, 0, 50, initial_sparsity=0.1, power=2.0, frequency=7),
])
def test_round_trip(sched):
    assert schedule_from_dict(sched.to_dict()) == sched


@pytest.mark.parametrize("kwargs", [
    dict(target_sparsity=1.0, begin_step=0, end_step=10),
    dict(target_sparsity=-0.1, begin_step=0, end_step=10),
    dict(target_sparsity=0.5, begin_step=10, end_step=10),
    dict(target_sparsity=0.5, begin_step=0, end_step=10, frequency=0),
])
def test_invalid_polynomial_decay(kwargs):
    with pytest.raises(ValueError):
        PolynomialDecay(**kwargs)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown pruning schedule kind"):
        schedule_from_dict({"kind": "cosine", "target_sparsity": 0.5})
