"""Power probes on recorded outputs and fake sysfs trees; energy per inference from a driven sensor."""
from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

import pytest

from edgewise.device_tests.bench import BenchResult, BenchSettings, run_benchmark
from edgewise.device_tests.power import parsers
from edgewise.device_tests.power.energy import EnergyEstimate, PowerPhase, PowerTrace, estimate
from edgewise.device_tests.power.probes import discover

from .conftest import fixture_text as fx

RAPL_MAX_UJ = 262143328850  # intel_rapl0_max_energy_range_uj.txt


# -- parsers on recorded outputs -------------------------------------------------------------------
def test_pmic_read_adc_rails_and_power():
    loaded = parsers.parse_pmic_read_adc(fx("rpi5_vcgencmd_pmic_read_adc.txt"))
    assert len(loaded) == 14 and loaded["VDD_CORE"] == (10.87674, 0.8974594)
    assert loaded["EXT5V"] == (None, 5.06788) and loaded["BATT"] == (None, 3.011108)
    # the core rail alone is 10.877 A x 0.897 V = 9.76 W; the other rails add about 0.9 W
    assert 9.76 < parsers.pmic_power_w(loaded) < 10.8
    idle = parsers.parse_pmic_read_adc(fx("rpi5_vcgencmd_pmic_read_adc_b.txt"))
    assert 4.5 < parsers.pmic_power_w(idle) < parsers.pmic_power_w(loaded)
    assert parsers.pmic_power_w(parsers.parse_pmic_read_adc("error=1 error_msg=\"Command not registered\"")) is None


def test_ina_power_prefers_the_power_register_and_keeps_places():
    r = parsers.parse_ina219_values(fx("rpi_cm4_ups_ina219_hwmon_values_on_battery.txt"))
    assert parsers.ina_power_w(r) == 0.176  # power1_input, a magnitude although curr1 is -40 mA
    no_power = parsers.parse_ina219_values("-4\n4228\n\n-40\n100000\n")  # power1_input missing
    assert no_power.power_w is None and no_power.shunt_ohm == 0.1
    assert parsers.ina_power_w(no_power) == pytest.approx(4.228 * 0.040)


@pytest.mark.parametrize("name, charging", [
    ("termux_battery_status_charging_ac_negative_current.json", True),  # negative current, yet charging
    ("termux_battery_status_unplugged_not_charging_positive_current.json", False),  # positive, yet draining
    ("termux_battery_status_discharging.json", False),
    ("termux_battery_status_pixelbook_chromeos_no_current.json", True),
])
def test_termux_charging_comes_from_status_not_sign(name, charging):
    assert parsers.parse_termux_battery_status(fx(name)).charging is charging


@pytest.mark.parametrize("name, charging", [
    ("android_sony_xperia_xz_battery_uevent_charging_head.txt", True),  # Qualcomm: negative while charging
    ("laptop_dell_bat0_uevent_current_now_charging.txt", True),  # Dell: positive while charging
    ("laptop_dell_bat0_uevent_current_now_discharging.txt", False),
    ("android_pixel8_battery_uevent_not_charging.txt", False),
    ("laptop_thinkpad_bat1_uevent_power_now_unknown.txt", None),
])
def test_power_supply_charging_flag(name, charging):
    assert parsers.parse_power_supply_uevent(fx(name)).charging is charging


def test_battery_reading_round_trips():
    r = parsers.parse_termux_battery_status(fx("termux_battery_status_newformat_discharging_uA.json"))
    assert parsers.BatteryReading.from_dict(json.loads(json.dumps(r.to_dict()))) == r


# -- discovery on fake trees ---------------------------------------------------------------------
def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader never sees half a value


def _rapl_tree(root: Path, energy_uj: int) -> Path:
    zone = root / "sys/class/powercap/intel-rapl:0"
    _write(zone / "name", fx("intel_rapl0_name.txt"))
    _write(zone / "max_energy_range_uj", fx("intel_rapl0_max_energy_range_uj.txt"))
    _write(zone / "energy_uj", f"{energy_uj}\n")
    sub = root / "sys/class/powercap/intel-rapl:0:0"  # the core sub-zone is not the package
    _write(sub / "name", fx("intel_rapl0_0_name.txt"))
    _write(sub / "energy_uj", fx("intel_rapl0_0_energy_uj.txt"))
    return zone / "energy_uj"


def _hwmon_tree(root: Path, name: str = "ina219") -> Path:
    folder = root / "sys/class/hwmon/hwmon2"
    _write(folder / "name", name + "\n")
    for f, v in zip(parsers.INA_FILES, fx("rpi_cm4_ups_ina219_hwmon_values_on_battery.txt").split()):
        _write(folder / f, v + "\n")
    return folder / "power1_input"


def _battery_tree(root: Path, fixture: str) -> None:
    folder = root / "sys/class/power_supply/BAT0"
    _write(folder / "type", "Battery\n")
    _write(folder / "uevent", fx(fixture))
    _write(root / "sys/class/power_supply/AC/type", "Mains\n")


def test_discover_ranks_sources_and_reads_them(tmp_path):
    assert discover(str(tmp_path)).probes == []
    assert "no power source" in discover(str(tmp_path)).notes[0]
    _battery_tree(tmp_path, "laptop_dell_bat0_uevent_current_now_discharging.txt")
    _hwmon_tree(tmp_path)
    _write(tmp_path / "sys/class/hwmon/hwmon0/name", "coretemp\n")  # not a power monitor
    _rapl_tree(tmp_path, 240422366267)
    found = discover(str(tmp_path))
    assert [p.source for p in found.probes] == ["rapl:package-0", "hwmon:ina219", "power_supply:BAT0"]
    rapl, ina, bat = found.probes
    assert rapl.kind == "energy" and rapl.wrap_uj == RAPL_MAX_UJ and rapl.sample().value == 240422366267
    assert ina.kind == "power" and ina.sample().value == 0.176
    assert bat.sample() == (pytest.approx(12.6 * 0.756), False)
    assert not any(p.intrusive for p in found.probes)


# -- the estimate on traces built by hand --------------------------------------------------------
def _trace(kind, points, idle, run, n, wrap=None, charging=None):
    t = tuple(p[0] for p in points)
    return PowerTrace(source="hwmon:ina226" if kind == "power" else "rapl:package-0", kind=kind, wrap_uj=wrap,
                      t_ns=t, values=tuple(p[1] for p in points), charging=(charging,) * len(t),
                      phases=(PowerPhase("idle", *idle), PowerPhase("run", *run, n)))


def test_estimate_from_a_hand_made_power_trace():
    s = 10**9
    pts = [(i * s // 10, 1.0) for i in range(0, 11)] + [(s + i * s // 10, 4.0) for i in range(1, 21)]
    e = estimate(_trace("power", pts, (0, s), (s + 1, 3 * s), 1000))
    # 3 W above idle for 2 s over 1000 inferences: 6 mJ each
    assert e.energy_mj_per_inference == pytest.approx(6.0) and e.uncertainty_mj == pytest.approx(0.0)
    assert (e.idle_samples, e.run_samples, e.inferences) == (11, 20, 1000)
    assert EnergyEstimate.from_dict(json.loads(json.dumps(e.to_dict()))) == e


def test_estimate_unwraps_an_energy_counter():
    s = 10**9
    top = 1_000_000  # wraps every joule
    e_uj, pts = 900_000, []
    for i in range(31):  # 1 W for 1 s, then 3 W for 2 s, sampled every 0.1 s
        pts.append((i * s // 10, e_uj))
        e_uj = (e_uj + (100_000 if i < 10 else 300_000)) % (top + 1)
    e = estimate(_trace("energy", pts, (0, s), (s, 3 * s), 400, wrap=top))
    assert e.idle_w == pytest.approx(1.0) and e.run_w == pytest.approx(3.0)
    assert e.energy_mj_per_inference == pytest.approx(2.0 * 2.0 / 400 * 1e3)


def test_no_source_or_charging_gives_none_with_the_reason():
    none = estimate(PowerTrace(notes=("no power source: nothing here",)))
    assert none.energy_mj_per_inference is None and none.source is None and "nothing here" in none.reason
    s = 10**9
    pts = [(i * s // 10, 2.0) for i in range(31)]
    tr = _trace("power", pts, (0, s), (s, 3 * s), 100, charging=True)
    tr = PowerTrace(**{**tr.__dict__, "source": "power_supply:BAT0"})
    e = estimate(tr)
    assert e.energy_mj_per_inference is None and e.charging and "charging" in e.reason
    few = estimate(_trace("power", pts[:2] + pts[-2:], (0, s), (s, 3 * s), 100))
    assert few.energy_mj_per_inference is None and "too few power samples" in few.reason


# -- end to end: a sensor driven over time, read by the agent's sampler ---------------------------
class Driver(threading.Thread):
    """Writes a known power signal into a fake sensor every `period_s` and logs every value.

    Idle: 1.0 W with +-0.05 W ripple. From the moment the agent reports its idle baseline done:
    3.0 W plus a 0.3 W sine of period 0.37 s. `energy` sensors get a microjoule counter that
    integrates the signal exactly and wraps past RAPL's max_energy_range_uj."""

    def __init__(self, path: Path, kind: str, start_uj: int = 0, period_s: float = 0.002):
        super().__init__(daemon=True)
        self.path, self.kind, self.period_s = path, kind, period_s
        self.running = threading.Event()
        self.stop = threading.Event()
        self.log = []  # (t_ns, watts held from t_ns on)
        self.energy_uj = float(start_uj)

    def watts(self, t_ns: int) -> float:
        if not self.running.is_set():
            return 1.0 + 0.05 * math.sin(t_ns / 1e9 * 2 * math.pi / 0.011)
        return 3.0 + 0.3 * math.sin(t_ns / 1e9 * 2 * math.pi / 0.37)

    def write(self) -> None:
        t = time.perf_counter_ns()
        if self.log:
            t_prev, w_prev = self.log[-1]
            self.energy_uj = (self.energy_uj + w_prev * (t - t_prev) / 1e3) % (RAPL_MAX_UJ + 1)
        w = self.watts(t)
        value = int(self.energy_uj) if self.kind == "energy" else int(round(w * 1e6))
        _write(self.path, f"{value}\n")
        self.log.append((t, w))

    def run(self) -> None:
        while not self.stop.is_set():
            self.write()
            time.sleep(self.period_s)

    def mean_watts(self, a: int, b: int) -> float:
        """The exact time average of the held signal over [a, b]."""
        total = 0.0
        for (t0, w), (t1, _) in zip(self.log, self.log[1:] + [(b, 0.0)]):
            lo, hi = max(t0, a), min(t1, b)
            if hi > lo:
                total += w * (hi - lo)
        return total / (b - a)


@pytest.mark.host
@pytest.mark.parametrize("kind", ["power", "energy"])
def test_energy_per_inference_of_a_driven_sensor_is_within_2_percent(kind, tiny_tflite, tmp_path):
    if kind == "energy":
        sensor = _rapl_tree(tmp_path, RAPL_MAX_UJ - 1_000_000)  # wraps during the idle baseline
    else:
        sensor = _hwmon_tree(tmp_path, "ina226")
    driver = Driver(sensor, kind, start_uj=RAPL_MAX_UJ - 1_000_000)
    driver.write()
    driver.start()

    def progress(line):
        if line.startswith("idle baseline recorded"):
            driver.running.set()

    settings = BenchSettings(runs=10, warmup=5, min_duration_s=3.0, idle_s=1.5, power_interval_s=0.005,
                             sysfs_root=str(tmp_path))
    try:
        r = run_benchmark(tiny_tflite, device="local", settings=settings, progress=progress)
    finally:
        driver.stop.set()
        driver.join()
    e = r.energy
    assert r.power.source == ("rapl:package-0" if kind == "energy" else "hwmon:ina226")
    idle, run = r.power.phase("idle"), r.power.phase("run")
    assert run.inferences == r.latency_ms.n and run.start_ns > idle.end_ns
    true_idle = driver.mean_watts(idle.start_ns, idle.end_ns)
    true_run = driver.mean_watts(run.start_ns, run.end_ns)
    truth_mj = (true_run - true_idle) * (run.end_ns - run.start_ns) / 1e9 / run.inferences * 1e3
    assert e.energy_mj_per_inference == pytest.approx(truth_mj, rel=0.02)
    # The stated uncertainty (one standard error of the sampled means) is reported and small; its size
    # depends on how regularly the sampler ran, which other load on the host disturbs, so the bound is loose.
    assert e.uncertainty_mj is not None and 0 < e.uncertainty_mj < 0.1 * truth_mj
    assert e.idle_w == pytest.approx(1.0, abs=0.05) and e.charging is None and e.reason == ""
    assert BenchResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


@pytest.mark.host
def test_a_charging_battery_gives_no_energy(tiny_tflite, tmp_path):
    _battery_tree(tmp_path, "laptop_dell_bat0_uevent_current_now_charging.txt")
    settings = BenchSettings(runs=10, warmup=0, min_duration_s=0.3, idle_s=0.3, power_interval_s=0.02,
                             sysfs_root=str(tmp_path))
    r = run_benchmark(tiny_tflite, device="local", settings=settings)
    assert r.power.source == "power_supply:BAT0" and r.energy.charging is True
    assert r.energy.energy_mj_per_inference is None and "charging" in r.energy.reason


@pytest.mark.host
def test_power_off_and_no_source_say_so(tiny_tflite, tmp_path):
    r = run_benchmark(tiny_tflite, device="local", settings=BenchSettings(runs=5, warmup=0, power="off"))
    assert r.power.source is None and r.energy.energy_mj_per_inference is None and "--power off" in r.energy.reason
    r = run_benchmark(tiny_tflite, device="local",
                      settings=BenchSettings(runs=5, warmup=0, idle_s=0.1, sysfs_root=str(tmp_path)))
    assert r.energy.energy_mj_per_inference is None and "no power source" in r.energy.reason


@pytest.mark.host
def test_an_intrusive_source_is_sampled_in_its_own_phase_after_the_timed_runs(tiny_tflite, tmp_path, monkeypatch):
    """A stand-in `termux-battery-status` on PATH (the real one pins a core for ~3 s per call):
    the timed runs happen without it, then a separate phase measures the energy."""
    reading = tmp_path / "battery.json"

    def battery(current_ua: int) -> None:
        _write(reading, json.dumps({"status": "DISCHARGING", "plugged": "UNPLUGGED", "voltage": 4000,
                                    "current": current_ua, "percentage": 80}))

    battery(-250000)  # 4.0 V x 0.25 A = 1 W idle
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "termux-battery-status"
    fake.write_text('#!/bin/sh\ncat "$EDGEWISE_TEST_BATTERY"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EDGEWISE_TEST_BATTERY", str(reading))
    seen = []

    def progress(line):
        seen.append(line)
        if line.startswith("idle baseline recorded"):
            battery(-750000)  # 3 W from now on

    settings = BenchSettings(runs=20, warmup=0, min_duration_s=0.2, idle_s=0.3, energy_s=0.5, power="termux")
    r = run_benchmark(tiny_tflite, device="local", settings=settings, progress=progress)
    assert r.power.source == "termux-battery-status" and r.power.intrusive
    run = r.power.phase("run")
    timed_end = r.power.phase("idle").end_ns + int(r.duration_s * 1e9)
    assert run.start_ns > timed_end  # after the timed runs, not beside them
    assert not any(r.power.phase("idle").end_ns < t < run.start_ns for t in r.power.t_ns)  # silent meanwhile
    e = r.energy
    assert (e.idle_w, e.run_w) == (pytest.approx(1.0), pytest.approx(3.0))
    assert e.energy_mj_per_inference == pytest.approx(2.0 * (run.end_ns - run.start_ns) / 1e9 / run.inferences * 1e3)
    assert e.charging is False and any("power: sampling termux-battery-status" in l for l in seen)
