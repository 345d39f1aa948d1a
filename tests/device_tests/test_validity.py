"""Validity flags from device facts parsed out of recorded Raspberry Pi and board outputs."""
from __future__ import annotations

import json

from edgewise.device_tests import facts
from edgewise.device_tests.stats import LatencyStats
from edgewise.device_tests.validity import Flag, validity_flags

from .conftest import fixture_text as fx

ENOUGH = LatencyStats.from_ns(range(1000, 1200))


def _facts(vcgencmd: str = "", cpufreq: str = "", loadavg: str = "0.05 0.10 0.12 1/100 200\n"):
    out = "".join(f"{facts.MARKER}{name}\n{text}\n" for name, text in
                  (("vcgencmd", vcgencmd), ("cpufreq", cpufreq), ("loadavg", loadavg)))
    return facts.DeviceFacts.from_parsed(facts.parse_all(out))


def codes(flags):
    return [f.code for f in flags]


def test_a_quiet_pi_at_fixed_clocks_has_no_flags():
    f = _facts(fx("rpi3_vcgencmd_get_throttled_0x50000.txt"), "scaling_governor=performance\n")
    assert validity_flags(ENOUGH, f, f) == ()


def test_throttling_now_and_during_the_run():
    before = _facts(fx("rpi3_vcgencmd_get_throttled_0x50000.txt"))
    after = _facts(fx("rpi3_vcgencmd_get_throttled_0x50005.txt"))
    flags = validity_flags(ENOUGH, before, after)
    assert codes(flags) == ["throttled"]
    assert "0x50005 after" in flags[0].message and "under-voltage" in flags[0].message.lower()
    sticky = _facts("throttled=0x80000\n")
    assert [f.message for f in validity_flags(ENOUGH, before, sticky)] == [
        "throttling occurred during the run (get_throttled 0x50000 -> 0x80000)"]


def test_temperature_clock_governor_load_and_samples():
    before = _facts(fx("rpi3_vcgencmd_get_throttled_0x50000.txt") + fx("rpi4_vcgencmd_measure_clock_arm_load.txt"),
                    "scaling_governor=" + fx("microchip_sama_cpufreq_scaling_governor.txt"), "2.31 1.0 0.5 3/300 9\n")
    after = _facts(fx("rpi_vcgencmd_measure_temp.txt") + fx("rpi4_vcgencmd_measure_clock_arm_idle.txt"))
    few = LatencyStats.from_ns([5, 6, 7, 8, 9])
    flags = validity_flags(few, before, after, partial_reason="ssh://pi@x: link dropped")
    assert codes(flags) == ["hot", "clock", "governor", "busy", "few_samples", "partial"]
    assert flags[0].message == "temperature 39.2 -> 52.1 degC over the run"
    warmed_less = _facts(fx("rpi_vcgencmd_measure_temp_b.txt"))  # 45.1 degC: 7 degC up is not flagged
    assert "hot" not in codes(validity_flags(ENOUGH, warmed_less, after))
    assert flags[1].message == "CPU clock fell from 1800 to 600 MHz over the run"
    assert "powersave" in flags[2].message and "2.31" in flags[3].message
    assert flags[4].message == "5 samples are too few for p90, p99"
    assert Flag.from_dict(json.loads(json.dumps(flags[0].to_dict()))) == flags[0]


def test_charging_battery_is_flagged():
    out = f"{facts.MARKER}battery\n{fx('termux_battery_status_charging_ac_negative_current.json')}\n"
    f = facts.DeviceFacts.from_parsed(facts.parse_all(out))
    assert codes(validity_flags(ENOUGH, f, None)) == ["charging"]
    assert facts.DeviceFacts.from_dict(json.loads(json.dumps(f.to_dict()))) == f
