"""Which device runs an arch, and one clear line when none can."""
from __future__ import annotations

from hktune.errors import Missing

import os
import shutil

from hktune.target import Target


class DeviceError(Missing):
    """No device can run this arch here; the message says exactly what is missing."""


def torch_summary() -> dict[str, str | int | None]:
    import torch

    out: dict[str, str | int | None] = {"torch": torch.__version__, "cuda": torch.version.cuda,
                                        "hip": getattr(torch.version, "hip", None), "gpus": 0}
    try:
        out["gpus"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except RuntimeError:
        out["gpus"] = 0
    return out


def gpu_archs() -> list[tuple[int, str, str, int]]:
    """(index, arch, name, compute units) of every visible GPU, without allocating on it."""
    import torch

    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        arch = (getattr(p, "gcnArchName", "") or "").split(":")[0] if torch.version.hip else f"sm_{p.major}{p.minor}"
        out.append((i, arch, p.name, p.multi_processor_count))
    return out


def device_for(target: Target, gpu: int | None = None) -> str:
    """The torch device string a worker should use for ``target`` ('cpu' or 'cuda:N')."""
    arch = target.arch
    if target.run == "host":
        return "cpu"
    import torch

    gpus = gpu_archs()
    kind = "an AMD GPU with ROCm" if arch.startswith("gfx") else "an NVIDIA GPU"
    if not gpus:
        build = "ROCm" if torch.version.hip else ("CUDA " + torch.version.cuda if torch.version.cuda else "CPU-only")
        extra = ""
        if arch.startswith("gfx"):
            hipcc = shutil.which("hipcc") or (os.environ.get("ROCM_PATH") and shutil.which("hipcc", path=os.path.join(os.environ["ROCM_PATH"], "bin")))
            extra = (f"; ROCm hipcc {'found' if hipcc else 'not found (set ROCM_PATH)'}"
                     f"; without them, `hktune compile --arch {arch} --all` compile-checks the space")
        raise DeviceError(f"--arch {arch} needs {kind}: torch {torch.__version__} ({build} build) sees no GPU{extra}")
    matching = [g for g in gpus if g[1] == arch]
    if gpu is not None:
        hit = [g for g in gpus if g[0] == gpu]
        if not hit:
            raise DeviceError(f"--gpu {gpu}: no such GPU (visible: {', '.join(str(g[0]) for g in gpus)})")
        if hit[0][1] != arch:
            raise DeviceError(f"--arch {arch}: GPU {gpu} is {hit[0][2]} ({hit[0][1]}), not {arch}")
        return f"cuda:{gpu}"
    if not matching:
        seen = ", ".join(f"{g[0]}: {g[2]} ({g[1]})" for g in gpus)
        raise DeviceError(f"--arch {arch}: no visible GPU is {arch} (found {seen})")
    return f"cuda:{matching[0][0]}"
