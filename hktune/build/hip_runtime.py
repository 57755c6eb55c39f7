"""Two HIP runtimes in one process: torch's and the one a ROCm-built kernel links.

A ROCm build of torch bundles its own libamdhip64 (torch/lib/). A kernel library built with the
machine's ROCm (hipcc) links /opt/rocm's. Loaded into one process, each runtime has its own
device state: torch's stream handle means nothing to the other runtime, so a launch on it fails
or lands on the wrong stream. hktune cannot fix that from outside, but it can see it coming:
the two files differ and their versions (the shared library's file-name suffix) too.
`hktune doctor` reports it and a ROCm search warns before it builds."""
from __future__ import annotations

import re
from pathlib import Path

LIB = "libamdhip64.so"


def version(lib: Path | None) -> str | None:
    """The runtime's version from its resolved file name (libamdhip64.so.6.4.43482 -> 6.4.43482)."""
    if lib is None:
        return None
    m = re.search(r"libamdhip64\.so\.(\d+(?:\.\d+)*)$", Path(lib).resolve().name)
    return m.group(1) if m else None


def torch_runtime() -> Path | None:
    """torch's bundled libamdhip64, when the installed torch is a ROCm build that bundles one."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - no torch: nothing to clash with
        return None
    if not getattr(torch.version, "hip", None):
        return None
    return _find(Path(torch.__file__).parent / "lib")


def system_runtime(rocm: Path | None) -> Path | None:
    """The libamdhip64 a hipcc build under ``rocm`` links."""
    return _find(Path(rocm) / "lib") if rocm else None


def _find(folder: Path) -> Path | None:
    hits = sorted(folder.glob(LIB + "*")) if folder.is_dir() else []
    return hits[0].resolve() if hits else None


def clash(torch_lib: Path | None, system_lib: Path | None) -> str | None:
    """One line when torch and a ROCm-built kernel would use different HIP runtimes, else None."""
    if torch_lib is None or system_lib is None:
        return None
    if torch_lib.resolve() == system_lib.resolve():
        return None
    tv, sv = version(torch_lib), version(system_lib)
    if tv is not None and tv == sv:
        return None   # two copies of one release: the same ABI and device state layout
    return (f"two HIP runtimes: torch bundles {torch_lib} ({tv or 'version unknown'}) but ROCm builds link "
            f"{system_lib} ({sv or 'version unknown'}); torch's streams are invalid in the other runtime. "
            f"Install the torch wheel built for this ROCm, or point ROCM_PATH at the ROCm that torch bundles")
