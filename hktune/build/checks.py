"""Static checks of compiled assembly that a family asks for (family.yaml ``checks:``); run once
per build and cached with it. A new check is a function ``(asm path) -> "ok" | reason`` and one
line in CHECKS (hktune/registry.py, where the family schema reads the names)."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from hktune.registry import CHECKS


def get(name: str) -> Callable[[Path], str]:
    module, _, fn = CHECKS[name].partition(":")
    return getattr(importlib.import_module(module), fn)


def run_checks(names: list[str] | tuple[str, ...], asm: Path) -> dict[str, str]:
    return {name: get(name)(asm) for name in names}
