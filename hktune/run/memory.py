"""Will a shape fit? Sized before any study is created, so a shape the device cannot hold is bad
input said at once, not an allocation failure in every trial and a junk study left behind.

What a worker holds for one shape (hktune.run.measure.make_sets): per rotated input set A [M,K]
and Bt [N,K] in the dtype's input type, its output C and the vendor's output in its output type
(bf16: 2 bytes each), and the fp32 reference [M,N];
at least 2 sets, more until the sets (A, Bt, C) are twice the last-level cache. Building the
reference also upcasts A and Bt to fp32 once (transient).
"""
from __future__ import annotations

import math
import os

from hktune.dtypes import DTYPES, DType
from hktune.errors import BadInput

FP32 = 4
MIN_SETS, MAX_SETS, LLC_MULTIPLE = 2, 256, 2.0


def set_count(m: int, n: int, k: int, llc_bytes: int, dtype: DType = DTYPES["bf16"]) -> int:
    per_set = dtype.set_bytes(m, n, k)
    return max(MIN_SETS, min(MAX_SETS, math.ceil(LLC_MULTIPLE * llc_bytes / per_set)))


def required_bytes(m: int, n: int, k: int, llc_bytes: int = 0, dtype: DType = DTYPES["bf16"]) -> int:
    """Bytes a worker needs for (m, n, k): the rotated sets plus the transient fp32 upcasts."""
    per_set = dtype.bytes * (m * k + n * k) + 2 * dtype.out_bytes * m * n + FP32 * m * n
    transient = FP32 * (m * k + n * k + m * n)
    return set_count(m, n, k, llc_bytes, dtype) * per_set + transient


def host_available_bytes() -> int | None:
    """Memory a new allocation can get on this machine (psutil, /proc/meminfo, else sysconf)."""
    try:
        import psutil  # type: ignore[import-not-found]

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - optional
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(b: float) -> str:
    return f"{b / 2**30:.3g} GiB"


def check_fits(shapes: list[tuple[int, int, int]], info: dict | None = None, *, what: str = "",
               dtype: DType = DTYPES["bf16"]) -> None:
    """Raise BadInput naming every shape whose buffers cannot fit the device's memory.

    ``info``: the worker's device_info (free_bytes / memory_bytes, llc_bytes); None or a host
    device: this machine's available RAM."""
    info = info or {}
    host = info.get("arch", "host") == "host" or not info
    avail = host_available_bytes() if host else (info.get("free_bytes") or info.get("memory_bytes"))
    if not avail:
        return  # nothing known: let the worker try
    llc = int(info.get("llc_bytes") or 0)
    too_big = [(s, required_bytes(*s, llc, dtype)) for s in shapes if required_bytes(*s, llc, dtype) > avail]
    if too_big:
        where = what or ("this machine's available memory" if host else f"{info.get('name', 'the device')}'s free memory")
        listed = ", ".join(f"{s[0]}x{s[1]}x{s[2]} needs {_gib(b)}" for s, b in too_big[:4])
        more = f" (and {len(too_big) - 4} more)" if len(too_big) > 4 else ""
        raise BadInput(f"shape too large: {listed}{more}, more than {where} ({_gib(avail)})")
