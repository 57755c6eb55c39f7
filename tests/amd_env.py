"""Where the HipKittens-gated AMD tests find HipKittens and a device-only HIP compiler."""
from __future__ import annotations

import functools
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


def needs_hk(fn):  # noqa: ANN001, ANN201
    """Run the test only with HIPKITTENS_ROOT (branch main or cdna3) and a HIP device compiler:
    skipped without them, failed when HKTUNE_REQUIRE_EMULATOR is set (CI) or when HIPKITTENS_ROOT
    is set but is not such a checkout (the run was told to use it)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        root = os.environ.get("HIPKITTENS_ROOT")
        if root and hipkittens() is None:
            pytest.fail(f"HIPKITTENS_ROOT={root} is not a HipKittens checkout of branch main or cdna3", pytrace=False)
        if hipkittens() is None or compiler() is None:
            why = "needs HIPKITTENS_ROOT (branch main or cdna3) and a HIP device compiler"
            if os.environ.get("HKTUNE_REQUIRE_EMULATOR"):
                pytest.fail(f"HKTUNE_REQUIRE_EMULATOR is set but the test {why}", pytrace=False)
            pytest.skip(why)
        return fn(*args, **kwargs)
    return wrapper
