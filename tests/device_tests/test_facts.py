"""Fact parsers on outputs recorded on real devices (tests/device_tests/fixtures, see SOURCES.md)."""
from __future__ import annotations

import os
import random

import pytest

from edgewise.device_tests import facts
from edgewise.device_tests.facts import cpu, memory, system, thermal
from edgewise.device_tests.power import parsers as power

from .conftest import FIXTURES, fixture_text as fx


# -- CPU -----------------------------------------------------------------------------------------
def test_cpuinfo_raspberry_pi_5():
    for name in ("rpi5_proc_cpuinfo.txt", "rpi5_proc_cpuinfo_b.txt"):
        c = cpu.parse_cpuinfo(fx(name))
        assert c.cores == 4 and c.core_types == ("Cortex-A76",) and c.model_name == "Cortex-A76"
        assert c.board_model == "Raspberry Pi 5 Model B Rev 1.0"
        assert c.hardware == "BCM2835" and c.revision == "d04170"
        assert "asimddp" in c.features


def test_cpuinfo_raspberry_pi_4_space_aligned():
    c = cpu.parse_cpuinfo(fx("rpi4_proc_cpuinfo_aarch64.txt"))
    assert (c.cores, c.core_types, c.board_model) == (4, ("Cortex-A72",), "Raspberry Pi 4 Model B Rev 1.5")
    assert c.hardware is None  # 64-bit Pi kernels print no Hardware line: not required
    assert cpu.parse_cpuinfo(fx("rpi4_proc_cpuinfo_aarch64_b.txt")).revision == "d03115"


def test_cpuinfo_android_phones():
    op = cpu.parse_cpuinfo(fx("android_oneplus3t_proc_cpuinfo.txt"))
    assert op.cores == 4 and op.hardware == "Qualcomm Technologies, Inc MSM8996pro"
    assert op.core_types == ("Kryo",) and op.model_name == "Kryo"  # not "AArch64 Processor rev 1"
    s7 = cpu.parse_cpuinfo(fx("android_galaxy_s7_us_proc_cpuinfo.txt"))
    assert s7.cores == 4 and s7.revision == "000f" and s7.model_name == "Kryo"


def test_lscpu_old_flat_format():
    l = cpu.parse_lscpu(fx("rk3399_lscpu_old_format.txt"))
    assert (l.architecture, l.cpus, l.vendor) == ("aarch64", 6, "ARM")
    assert l.model_names == ("Cortex-A53",) and (l.min_mhz, l.max_mhz) == (408.0, 1800.0)


def test_lscpu_nested_big_little():
    l = cpu.parse_lscpu(fx("rk3588_lscpu_head.txt"))
    assert l.cpus == 8 and l.model_names == ("Cortex-A55", "Cortex-A76") and l.max_mhz == 2400.0


def test_lscpu_misdetected_model_name_dash():
    l = cpu.parse_lscpu(fx("orangepi5_lscpu_misdetected_head.txt"))
    assert l.cpus == 8 and "-" not in l.model_names
    assert l.model_names == ("Rockchip RK3588",)  # the SoC, from the "Model" field


def test_lscpu_caches_excerpt_has_no_cpu_fields():
    l = cpu.parse_lscpu(fx("rpi5_lscpu_caches_excerpt.txt"))
    assert l.cpus is None and l.model_names == () and l.architecture is None


# -- memory --------------------------------------------------------------------------------------
def test_meminfo_pi4():
    m = memory.parse_meminfo(fx("rpi4_proc_meminfo.txt"))
    assert m.total_bytes == 3845824 * 1024 and m.available_bytes == 3537772 * 1024
    assert m.swap_total_bytes == 102396 * 1024


def test_meminfo_without_memavailable_estimates_it():
    old = "".join(l for l in fx("rpi4_proc_meminfo.txt").splitlines(True) if not l.startswith("MemAvailable"))
    assert memory.parse_meminfo(old).available_bytes == (3099736 + 87896 + 415068) * 1024


def test_proc_status_peak_rss_and_underflow():
    g = memory.parse_proc_status(fx("proc_pid_status_gdb_x86_64.txt"))
    assert (g.peak_rss_bytes, g.rss_bytes, g.swap_bytes) == (65196 * 1024, 65196 * 1024, 0)
    assert memory.parse_proc_status(fx("proc_pid_status_vm_excerpt.txt")).peak_rss_bytes == 13484 * 1024
    chromium = fx("proc_pid_status_chromium_excerpt_vmlib_underflow.txt")
    assert memory.parse_proc_status(chromium).peak_rss_bytes == 632100 * 1024


def test_smaps_rollup_old_and_new_kernels():
    a = memory.parse_smaps_rollup(fx("android_samsung_a52q_smaps_rollup.txt"))
    assert (a.rss_bytes, a.pss_bytes, a.swap_bytes) == (55656 * 1024, 7071 * 1024, 35232 * 1024)
    assert memory.parse_smaps_rollup(fx("smaps_rollup_x86_php_fpm_pss_split.txt")).pss_bytes == 35558 * 1024


# -- OS, kernel, board -----------------------------------------------------------------------
def test_os_release_bookworm_is_debian_and_rpi_issue_tells_pi_os():
    o = system.parse_os_release(fx("rpi_bookworm_etc_os_release.txt"))
    assert (o.id, o.version_id, o.version_codename) == ("debian", "12", "bookworm")
    assert o.pretty_name == "Debian GNU/Linux 12 (bookworm)"
    assert system.parse_rpi_issue(fx("rpi_bookworm_etc_rpi_issue.txt")) == "Raspberry Pi reference 2024-11-19"
    b = system.parse_os_release(fx("rpi_bullseye_etc_os_release.txt"))
    assert (b.id, b.id_like, b.name) == ("raspbian", ("debian",), "Raspbian GNU/Linux")


@pytest.mark.parametrize(
    "name, release, machine, os_name, version_start",
    [
        ("rpi5_uname_a.txt", "6.6.51+rpt-rpi-2712", "aarch64", "GNU/Linux", "#1 SMP PREEMPT Debian"),
        ("rpi5_uname_a_custom_kernel.txt", "6.6.0-rc3-v8+", "aarch64", "GNU/Linux", "#1462 SMP PREEMPT Fri Oct  6"),
        ("rpi4_uname_a_bookworm.txt", "6.1.0-rpi6-rpi-v8", "aarch64", "GNU/Linux", "#1 SMP PREEMPT"),
        ("rpi4_uname_a_buster_armv7l.txt", "4.19.66-v7l+", "armv7l", "GNU/Linux", "#1253 SMP Thu Aug 15"),
        ("termux_uname_a_galaxy_s8_sm_g950f.txt", "4.4.111-14023573-QB19093103", "aarch64", "Android", "#1 SMP"),
        ("termux_uname_a_realme_rmx3710.txt", "4.19.191+", "aarch64", "Android", "#1 SMP PREEMPT Fri Jun 13"),
        ("termux_uname_a_galaxy_tab_s3_sm_t820.txt", "3.18.71-14977309", "aarch64", "Android", "#1 SMP"),
    ],
)
def test_uname(name, release, machine, os_name, version_start):
    u = system.parse_uname(fx(name))
    assert (u.kernel_name, u.release, u.machine, u.os) == ("Linux", release, machine, os_name)
    assert u.version.startswith(version_start)


def test_device_tree_model_strings():
    assert system.parse_device_tree_string(fx("rpi4_device_tree_model.txt")) == "Raspberry Pi 4 Model B Rev 1.4"
    pi3 = system.parse_device_tree_string(fx("rpi3bplus_device_tree_model.txt"))
    assert pi3 == "Raspberry Pi 3 Model B Plus Rev 1.3"
    assert system.parse_device_tree_string(fx("rpizerow_device_tree_model.txt")) == "Raspberry Pi Zero W Rev 1.1"
    # the real file ends in a NUL and has no newline (the fixture could not keep the NUL)
    real = fx("rpi4_device_tree_model.txt") + "\x00"
    assert system.parse_device_tree_string(real) == "Raspberry Pi 4 Model B Rev 1.4"
    assert system.parse_device_tree_string("") is None


def test_getprop_dumps():
    p6 = system.android_props(fx("android_pixel6pro_getprop_excerpt.txt"))
    assert (p6.model, p6.manufacturer, p6.soc) == ("Pixel 6 Pro", "Google", "Google Tensor")
    p8 = system.android_props(fx("android_pixel8_getprop_excerpt.txt"))
    assert (p8.android_version, p8.sdk, p8.abi) == ("14", 34, "arm64-v8a")
    s8 = system.android_props(fx("android_galaxy_s8_termuxarch_getprop_results.txt"))  # "[getprop key]" form
    assert (s8.model, s8.manufacturer, s8.android_version, s8.sdk, s8.device) == ("SM-G950F", "samsung", "8.0.0", 26,
                                                                                   "dreamlte")
    gsi = system.android_props(fx("android_getprop_grep_model_motoz_treble_gsi.txt"))
    assert gsi.model == "Moto Z"  # the vendor's name, not the GSI's "Phh-Treble with GApps"
    assert system.android_props(fx("android_getprop_ro_product_model_galaxy_tab_10_1.txt")) is None


def test_termux_env_detection():
    t = system.parse_termux_env("PREFIX=/data/data/com.termux/files/usr\nTERMUX_VERSION=0.118.0\n")
    assert t.is_termux and t.termux_version == "0.118.0"
    assert not system.parse_termux_env("PREFIX=\nTERMUX_VERSION=\n").is_termux


def test_python_and_numpy_versions():
    runs = fx("termux_python_sys_version.txt").split("~ $ ")
    versions = [system.parse_python_version(r.split("\n", 1)[1]) for r in runs if r.strip()]
    assert versions == ["2.7.18", "3.10.8", "3.11.1"]
    assert system.parse_python_version("Python 3.11.1\n") == "3.11.1"
    assert system.parse_numpy_version("1.26.4\n") == "1.26.4"
    assert system.parse_numpy_version("Traceback (most recent call last):\n") is None


# -- clocks, throttling, temperature ---------------------------------------------------------
def test_vcgencmd_throttled_bits():
    v = thermal.parse_vcgencmd(fx("rpi3_vcgencmd_get_throttled_0x50005.txt"))
    assert v.throttled.raw == 0x50005 and v.throttled.now and v.temp_c == 38.6
    assert v.throttled.flags == ("under-voltage detected", "currently throttled", "under-voltage has occurred",
                                 "throttling has occurred")
    sticky = thermal.parse_vcgencmd(fx("rpi3_vcgencmd_get_throttled_0x50000.txt")).throttled
    assert sticky.raw == 0x50000 and not sticky.now
    soft = thermal.parse_vcgencmd(fx("rpi_vcgencmd_get_throttled_0x80000.txt")).throttled
    assert soft.flags == ("soft temperature limit has occurred",)


def test_vcgencmd_clock_temp_throttled_together():
    v = thermal.parse_vcgencmd(fx("rpi3bplus_vcgencmd_clock_temp_throttled.txt"))  # trailing spaces as pasted
    assert (v.arm_hz, v.temp_c, v.throttled.raw, v.throttled.flags) == (1400000000, 62.3, 0, ())
    assert thermal.parse_vcgencmd(fx("rpi5_vcgencmd_measure_clock_arm.txt")).arm_hz == 2400020480
    assert thermal.parse_vcgencmd(fx("rpi4_vcgencmd_measure_clock_arm_idle.txt")).arm_hz == 600169920
    assert thermal.parse_vcgencmd(fx("rpi4_vcgencmd_measure_clock_arm_load.txt")).arm_hz == 1800457088
    assert thermal.parse_vcgencmd(fx("rpi2_vcgencmd_measure_clock_arm.txt")).arm_hz == 900000000
    assert thermal.parse_vcgencmd(fx("rpi_vcgencmd_measure_temp.txt")).temp_c == 52.1
    assert thermal.parse_vcgencmd(fx("rpi_vcgencmd_measure_temp_b.txt")).temp_c == 45.1


def test_cpufreq_files():
    assert thermal.parse_governor(fx("bananapi_r2_cpufreq_scaling_governor.txt")) == "performance"
    assert thermal.parse_governor(fx("microchip_sama_cpufreq_scaling_governor.txt")) == "powersave"
    # the cpufreq fact's command prints name=value lines made of exactly these files
    lines = "".join(f"{n}={fx(f)}" for n, f in [
        ("scaling_governor", "bananapi_r2_cpufreq_scaling_governor.txt"),
        ("scaling_cur_freq", "rpi4_cpufreq_scaling_cur_freq.txt"),
        ("scaling_min_freq", "rpi4_cpufreq_scaling_min_freq.txt"),
        ("scaling_max_freq", "rpi4_cpufreq_scaling_max_freq.txt"),
        ("scaling_available_governors", "bananapi_r2_cpufreq_scaling_available_governors.txt")])
    c = thermal.parse_cpufreq(lines)
    assert (c.governor, c.cur_khz, c.min_khz, c.max_khz) == ("performance", 600000, 600000, 1800000)
    assert "interactive" in c.available_governors and len(c.available_governors) == 7


def test_thermal_zones_skip_the_placeholder():
    out = fx("jetson_nano_thermal_zone_type.txt") + "---\n" + fx("jetson_nano_thermal_zone_temp.txt")
    zones = thermal.parse_thermal_zones(out)
    assert [z.type for z in zones] == ["AO-therm", "CPU-therm", "GPU-therm", "PLL-therm", "PMIC-Die", "thermal-fan-est"]
    assert zones[4].temp_c == 100.0 and thermal.cpu_temperature(zones) == 24.5
    assert thermal.cpu_temperature(zones[4:5]) is None  # only the placeholder: no temperature
    assert thermal.parse_thermal_zones(fx("jetson_nano_thermal_zone_type.txt")) == ()  # half an output


# -- battery and power ---------------------------------------------------------------------
def test_termux_battery_status_units_and_signs():
    chg = power.parse_termux_battery_status(fx("termux_battery_status_charging_ac_negative_current.json"))
    assert chg.status == "Charging" and chg.current_a == pytest.approx(-0.252) and chg.plugged == "PLUGGED_AC"
    assert chg.temperature_c == pytest.approx(24.6)
    dis = power.parse_termux_battery_status(fx("termux_battery_status_unplugged_not_charging_positive_current.json"))
    assert dis.status == "Not charging" and dis.current_a == pytest.approx(0.232)  # sign kept as reported
    new = power.parse_termux_battery_status(fx("termux_battery_status_newformat_discharging_uA.json"))
    assert new.current_a == pytest.approx(-0.82) and new.voltage_v == pytest.approx(4.099)  # uA and mV
    assert new.power_w == pytest.approx(0.82 * 4.099) and new.temperature_c == pytest.approx(22.3)
    pb = power.parse_termux_battery_status(fx("termux_battery_status_pixelbook_chromeos_no_current.json"))
    assert pb.current_a is None and pb.percent == 71 and pb.power_w is None
    for name in ("termux_battery_status_discharging.json", "termux_battery_status_discharging_b.json"):
        r = power.parse_termux_battery_status(fx(name))
        assert r.status == "Discharging" and r.current_a < 0


def test_power_supply_uevent_units():
    dell = power.parse_power_supply_uevent(fx("laptop_dell_bat0_uevent_current_now_discharging.txt"))
    assert dell.source == "power_supply:BAT0" and dell.voltage_v == 12.6 and dell.current_a == 0.756
    assert dell.power_w == pytest.approx(12.6 * 0.756)
    tp = power.parse_power_supply_uevent(fx("laptop_thinkpad_bat0_uevent_power_now_discharging.txt"))
    assert tp.power_w == pytest.approx(5.002) and tp.current_a is None and tp.percent == 81
    legion = power.parse_power_supply_uevent(fx("laptop_lenovo_legion5_bat0_power_now_discharging.txt"))
    assert legion.power_w == pytest.approx(10.649)
    sony = power.parse_power_supply_uevent(fx("android_sony_xperia_xz_battery_uevent_charging_head.txt"))
    assert sony.status == "Charging" and sony.current_a < 0 and sony.temperature_c == 24.2  # Qualcomm sign
    pixel = power.parse_power_supply_uevent(fx("android_pixel8_battery_uevent_not_charging.txt"))
    assert pixel.status == "Not charging" and pixel.temperature_c == 36.8 and pixel.voltage_v == 4.290625
    unknown = power.parse_power_supply_uevent(fx("laptop_thinkpad_bat1_uevent_power_now_unknown.txt"))
    assert unknown.status == "Unknown" and unknown.power_w == 0.0
    batc = power.parse_power_supply_uevent(fx("chromebook_brunch_batc_uevent_discharging.txt"))
    assert batc.source == "power_supply:BATC" and batc.status == "Discharging"
    usb = power.parse_power_supply_uevent(fx("android_sony_xperia_x_usb_uevent_hvdcp.txt"))
    assert usb.voltage_v == pytest.approx(9.03862)


def test_rapl_counters_and_wraparound():
    assert power.parse_energy_uj(fx("intel_rapl0_energy_uj.txt")) == 240422366267
    top = power.parse_energy_uj(fx("intel_rapl0_max_energy_range_uj.txt"))
    e0 = power.parse_energy_uj(fx("intel_rapl0_0_energy_uj.txt"))
    assert (top, e0) == (262143328850, 118821284256)  # the wrap itself: test_power.py's counter tests


def test_ina219_hwmon_values():
    r = power.parse_ina219_values(fx("rpi_cm4_ups_ina219_hwmon_values_on_battery.txt"))
    assert (r.shunt_mv, r.bus_v, r.power_w, r.current_a, r.shunt_ohm) == (-4.0, 4.228, 0.176, -0.04, 0.1)


# -- robustness and the collection script ----------------------------------------------------
PARSERS = [f.process for f in facts.FACTS] + [
    cpu.parse_cpuinfo, cpu.parse_lscpu, memory.parse_meminfo, memory.parse_proc_status,
    memory.parse_smaps_rollup, system.parse_os_release, system.parse_uname, system.parse_device_tree_string,
    system.android_props, system.parse_termux_env,
    system.parse_python_version, thermal.parse_vcgencmd, thermal.parse_cpufreq,
    thermal.parse_thermal_zones, power.parse_termux_battery_status,
    power.parse_power_supply_uevent,
    power.parse_energy_uj, power.parse_ina219_values, power.parse_pmic_read_adc,
]


def test_every_parser_survives_every_fixture_and_garbage():
    rng = random.Random(0)
    inputs = ["", "\n\n", "\x00\x00", ":", "=", "[]: []", "{", "null", "[1, 2]",
              "temp=\nthrottled=0xZZ\nfrequency(1)=x"]
    for name in sorted(os.listdir(FIXTURES)):
        text = fx(name)
        inputs += [text, text[: len(text) // 2], text.replace("\n", "\r\n")]
    inputs += ["".join(chr(rng.randrange(0, 0x250)) for _ in range(300)) for _ in range(20)]
    for parse in PARSERS:
        for text in inputs:
            parse(text)  # must not raise


def test_script_sections_round_trip_a_nul_terminated_file():
    out = ("\n@@edgewise-fact dt_model\n" + fx("rpi4_device_tree_model.txt") + "\x00"
           + "\n@@edgewise-fact vcgencmd\n" + fx("rpi3bplus_vcgencmd_clock_temp_throttled.txt")
           + "\n@@edgewise-fact cpuinfo\n" + fx("rpi4_proc_cpuinfo_aarch64.txt")
           + "\n@@edgewise-fact os_release\n" + fx("rpi_bookworm_etc_os_release.txt")
           + "\n@@edgewise-fact rpi_issue\n" + fx("rpi_bookworm_etc_rpi_issue.txt")
           + "\n@@edgewise-fact meminfo\n" + fx("rpi4_proc_meminfo.txt")
           + "\n@@edgewise-fact uname\n" + fx("rpi4_uname_a_bookworm.txt"))
    d = facts.DeviceFacts.from_parsed(facts.parse_all(out))
    assert d.board == "Raspberry Pi 4 Model B Rev 1.4" and d.cpu_model == "Cortex-A72" and d.cpu_cores == 4
    assert d.throttled == 0 and d.temperature_c == 62.3 and d.cpu_cur_khz == 1400000
    assert d.os_id == "debian" and d.raspberry_pi_os == "Raspberry Pi reference 2024-11-19"
    assert d.memory_total_bytes == 3845824 * 1024 and d.kernel == "6.1.0-rpi6-rpi-v8" and d.machine == "aarch64"
    assert facts.DeviceFacts.from_dict(d.to_dict()) == d


def test_collect_on_this_machine_runs_the_real_script():
    import platform
    import sys

    from edgewise.device_tests.connectors import LocalConnector

    d = facts.collect(LocalConnector(), sys.executable)
    assert d.python_version == platform.python_version() and d.cpu_cores == os.cpu_count()
    assert d.kernel == platform.release() and d.machine == platform.machine()
    assert d.memory_total_bytes == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
