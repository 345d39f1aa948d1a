"""Pruning schedules: the formulas, when masks are updated, and JSON round trips."""
import pytest

from edgewise.compress import ConstantSparsity, PolynomialDecay, schedule_from_dict


def zhu_gupta(t, s_i, s_f, t0, tn, power):
    """Eq. 1 of Zhu & Gupta 2017, written out independently of the implementation."""
    t = min(max(t, t0), tn)
    return s_f + (s_i - s_f) * (1 - (t - t0) / (tn - t0)) ** power


@pytest.mark.parametrize("power", [1.0, 3.0])
@pytest.mark.parametrize("s_i", [0.0, 0.25])
def test_polynomial_decay_follows_zhu_gupta(power, s_i):
    sched = PolynomialDecay(0.9, begin_step=10, end_step=110, initial_sparsity=s_i, power=power, frequency=1)
    for t in range(0, 130):
        _, s = sched(t)
        assert s == pytest.approx(zhu_gupta(t, s_i, 0.9, 10, 110, power), abs=1e-12)


def test_polynomial_decay_endpoints_and_shape():
    sched = PolynomialDecay(0.8, begin_step=0, end_step=100, power=3.0, frequency=10)
    assert sched.sparsity_at(0) == pytest.approx(0.0)
    assert sched.sparsity_at(100) == pytest.approx(0.8)
    assert sched.sparsity_at(50) == pytest.approx(0.8 * (1 - 0.5 ** 3))
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
