"""The hktune arch of a torch device: 'host' for the CPU, sm_XY on CUDA, gfxNNN on ROCm."""
from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=None)
def _gpu_arch(index: int) -> str:
    p = torch.cuda.get_device_properties(index)
    if torch.version.hip:
        # gcnArchName carries feature flags ('gfx942:sramecc+:xnack-'); tables use the bare name.
        return (getattr(p, "gcnArchName", "") or "").split(":")[0] or "unknown"
    return f"sm_{p.major}{p.minor}"


def arch_of(device: torch.device) -> str | None:
    """The arch tables are keyed by, or None for a device type hktune has no family for."""
    if device.type == "cpu":
        return "host"
    if device.type == "cuda":
        return _gpu_arch(device.index if device.index is not None else torch.cuda.current_device())
    return None


def stream_of(device: torch.device) -> int:
    """The handle of the current stream (what the C ABI's ``stream`` wants); 0 on the CPU."""
    return torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0
