"""Static checks of compiled assembly that a family asks for (family.yaml ``checks:``); run once
per build and cached with it. A new check is a function ``(asm path) -> "ok" | reason`` and one
line in CHECKS."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

CHECKS = {
    "vmcnt": "hktune.build.amd.vmcnt:build_check",  # gfx9: no LDS tile read while its loads are in flight
    "m0": "hktune.build.amd.m0:build_check",  # gfx9: every buffer_load ... lds sees the inline asm's M0
    "lds": "hktune.build.amd.lds:build_check",  # gfx9: barriers order every cross-wave LDS RAW/WAR (schedule's lag)
}


def get(name: str) -> Callable[[Path], str]:
    module, _, fn = CHECKS[name].partition(":")
    return getattr(importlib.import_module(module), fn)


def run_checks(names: list[str] | tuple[str, ...], asm: Path) -> dict[str, str]:
    return {name: get(name)(asm) for name in names}
