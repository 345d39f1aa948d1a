"""CPU facts from /proc/cpuinfo and lscpu.

ARM kernels print no model name in /proc/cpuinfo (only implementer/part numbers), so the core
names come from the part table below: ARM's MIDR part numbers, as listed in the Linux kernel's
arch/arm64/include/asm/cputype.h and ARM's Technical Reference Manuals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from ..textparse import clean, to_float, to_int

#: (implementer, part) -> core name. 0x41 = ARM Ltd, 0x51 = Qualcomm.
ARM_PARTS: Dict[Tuple[int, int], str] = {
    (0x41, 0xB76): "ARM1176",
    (0x41, 0xC07): "Cortex-A7",
    (0x41, 0xC08): "Cortex-A8",
    (0x41, 0xC09): "Cortex-A9",
    (0x41, 0xC0F): "Cortex-A15",
    (0x41, 0xD03): "Cortex-A53",
    (0x41, 0xD04): "Cortex-A35",
    (0x41, 0xD05): "Cortex-A55",
    (0x41, 0xD07): "Cortex-A57",
    (0x41, 0xD08): "Cortex-A72",
    (0x41, 0xD09): "Cortex-A73",
    (0x41, 0xD0A): "Cortex-A75",
    (0x41, 0xD0B): "Cortex-A76",
    (0x41, 0xD0C): "Neoverse-N1",
    (0x41, 0xD0D): "Cortex-A77",
    (0x41, 0xD41): "Cortex-A78",
    (0x41, 0xD44): "Cortex-X1",
    (0x41, 0xD46): "Cortex-A510",
    (0x41, 0xD47): "Cortex-A710",
    (0x41, 0xD48): "Cortex-X2",
    (0x41, 0xD4D): "Cortex-A715",
    (0x41, 0xD4E): "Cortex-X3",
    (0x41, 0xD80): "Cortex-A520",
    (0x41, 0xD81): "Cortex-A720",
    (0x41, 0xD82): "Cortex-X4",
    (0x51, 0x201): "Kryo",
    (0x51, 0x205): "Kryo",
    (0x51, 0x211): "Kryo",
}


@dataclass(frozen=True)
class CpuInfo:
    """What /proc/cpuinfo says. `cores` counts the `processor` entries (online CPUs only)."""

    model_name: Optional[str] = None
    cores: Optional[int] = None
    core_types: Tuple[str, ...] = ()  # distinct names, in order of appearance ("Cortex-A72")
    hardware: Optional[str] = None  # "BCM2835", "Qualcomm Technologies, Inc MSM8996"
    revision: Optional[str] = None  # Raspberry Pi board revision code, e.g. "d03115"
    board_model: Optional[str] = None  # "Raspberry Pi 4 Model B Rev 1.5" (Pi kernels only)
    features: Tuple[str, ...] = field(default=())


def parse_cpuinfo(output: str) -> CpuInfo:
    blocks = []
    current: Dict[str, str] = {}
    tail: Dict[str, str] = {}
    for line in (output or "").splitlines():
        if ":" not in line:
            if not line.strip() and current:
                blocks.append(current)
                current = {}
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        if key == "processor" and "processor" in current:
            blocks.append(current)
            current = {}
        if key == "processor" and to_int(value) is None:
            tail.setdefault("Processor", value)  # old ARM kernels: "Processor : AArch64 Processor rev 1"
            continue
        if "processor" in current or key == "processor":
            current.setdefault(key, value)
        else:
            tail.setdefault(key, value)
    if current:
        blocks.append(current)
    cpus = [b for b in blocks if to_int(b.get("processor")) is not None]
    names = []
    for b in cpus:
        name = _core_name(b)
        if name and name not in names:
            names.append(name)
    model_name = next((b.get("model name") for b in cpus if b.get("model name")), None)
    model_name = model_name or tail.get("model name") or tail.get("Processor") or tail.get("cpu model")
    if model_name and _generic(model_name) and names:
        model_name = " + ".join(names)
    feats = next((b.get("Features") or b.get("flags") for b in cpus if b.get("Features") or b.get("flags")), "")
    return CpuInfo(
        model_name=model_name or (" + ".join(names) if names else None),
        cores=len(cpus) or None,
        core_types=tuple(names),
        hardware=tail.get("Hardware") or None,
        revision=tail.get("Revision") or None,
        board_model=clean(tail.get("Model")) or None,
        features=tuple(feats.split()),
    )


def _generic(name: str) -> bool:
    """ARM kernels say "AArch64 Processor rev 2 (aarch64)" or "ARMv7 Processor rev 4 (v7l)"."""
    return name.startswith(("AArch64 Processor", "ARMv7 Processor", "ARMv6-compatible processor"))


def _core_name(block: Dict[str, str]) -> Optional[str]:
    impl, part = to_int(block.get("CPU implementer")), to_int(block.get("CPU part"))
    if impl is not None and part is not None:
        return ARM_PARTS.get((impl, part), f"ARM part {impl:#x}:{part:#x}")
    name = block.get("model name")
    return name if name and not _generic(name) else None


@dataclass(frozen=True)
class LscpuInfo:
    """What `LC_ALL=C lscpu` says. `model_names` skips the "-" that some vendor kernels print."""

    architecture: Optional[str] = None
    cpus: Optional[int] = None
    vendor: Optional[str] = None
    model_names: Tuple[str, ...] = ()
    max_mhz: Optional[float] = None
    min_mhz: Optional[float] = None


def parse_lscpu(output: str) -> LscpuInfo:
    """Old flat lscpu and util-linux >= 2.38's nested one (indented, one block per core type)."""
    fields: Dict[str, list] = {}
    for line in (output or "").splitlines():
        if ":" not in line:  # wrapped "Flags" continuation lines
            continue
        key, value = line.split(":", 1)
        fields.setdefault(key.strip(), []).append(value.strip())

    def first(key):
        vals = fields.get(key)
        return vals[0] if vals else None

    names = []
    for n in fields.get("Model name", []):
        if n and n != "-" and n not in names:
            names.append(n)
    if not names:  # misdetected cores ("Model name: -") sometimes carry the SoC in "Model"
        names = [m for m in dict.fromkeys(fields.get("Model", [])) if m and to_int(m) is None]
    maxes = [f for f in (to_float(v) for v in fields.get("CPU max MHz", [])) if f is not None]
    mins = [f for f in (to_float(v) for v in fields.get("CPU min MHz", [])) if f is not None]
    return LscpuInfo(
        architecture=first("Architecture"),
        cpus=to_int(first("CPU(s)")),
        vendor=first("Vendor ID"),
        model_names=tuple(names),
        max_mhz=max(maxes) if maxes else None,
        min_mhz=min(mins) if mins else None,
    )
