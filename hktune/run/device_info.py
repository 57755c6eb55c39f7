"""What the worker's device is: name, compute units, arch, last-level cache and memory."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def device_info(device: torch.device) -> dict:
    """Name, compute units, arch and last-level cache of the device the worker runs on."""
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        if torch.version.hip:
            arch = getattr(p, "gcnArchName", "").split(":")[0] or "unknown"
            backend = f"rocm {torch.version.hip}"
        else:
            arch = f"sm_{p.major}{p.minor}"
            backend = f"cuda {torch.version.cuda}"
        llc = int(getattr(p, "L2_cache_size", 0) or 0) or 64 << 20
        if torch.version.hip:
            llc = max(llc, amd_llc_bytes(arch))
        return {"name": p.name, "units": p.multi_processor_count, "arch": arch, "llc_bytes": llc,
                "memory_bytes": p.total_memory, "free_bytes": torch.cuda.mem_get_info(device)[0],
                "backend": backend, "torch": torch.__version__}
    return {"name": _cpu_name(), "units": os.cpu_count() or 1, "arch": "host", "llc_bytes": _cpu_llc(),
            "memory_bytes": None, "backend": "cpu", "torch": torch.__version__}


# Last-level cache of AMD GPUs whose torch reports only the (per-XCD) L2: the Infinity Cache.
AMD_LLC_BYTES = {
    "gfx942": 256 << 20,  # MI300X / MI300A / MI325X: 256 MB Infinity Cache
    "gfx950": 256 << 20,  # MI355X / MI350X: 256 MB Infinity Cache
}


def amd_llc_bytes(arch: str) -> int:
    """The Infinity Cache size for a gcnArchName (prefix match, e.g. 'gfx942:sramecc+:xnack-'), or 0."""
    for prefix, size in AMD_LLC_BYTES.items():
        if arch.startswith(prefix):
            return size
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "cpu"


def _cpu_llc() -> int:
    best = 0
    for idx in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (idx / "size").read_text().strip()
            mult = {"K": 1 << 10, "M": 1 << 20}.get(text[-1], 1)
            best = max(best, int(text.rstrip("KM")) * mult)
        except (OSError, ValueError):
            continue
    return best or 32 << 20
