"""Where the HipKittens-gated AMD tests find HipKittens and a device-only HIP compiler."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def compiler() -> list[str] | None:
    """Command prefix of a device-only HIP compile (hip-device-cc style), or None."""
    env = os.environ.get("HIP_DEVICE_CC")
    if env:
        return [env]
    exe = shutil.which("hip-device-cc")
    if exe:
        return [exe]
    try:
        from hktune.build import toolchain
        tc = toolchain.best()
    except Exception:
        return None
    if tc is None:
        return None
    return [*tc.clang, *tc.flags, "-x", "hip", "--cuda-device-only", "--no-gpu-bundle-output"]


def hipkittens() -> tuple[Path, str] | None:
    """(HIPKITTENS_ROOT, the arch its branch serves), or None."""
    root = os.environ.get("HIPKITTENS_ROOT")
    if not root:
        return None
    from hktune.family.trees.hipkittens import branch
    arch = {"main": "gfx950", "cdna3": "gfx942"}.get(branch(Path(root)) or "")
    return (Path(root), arch) if arch else None


needs_hk = pytest.mark.skipif(hipkittens() is None or compiler() is None,
                              reason="needs HIPKITTENS_ROOT (branch main or cdna3) and a HIP device compiler")
