"""Static checks of compiled assembly that a family asks for (family.yaml ``checks:``); run once
per build and cached with it, with the checkers' version: a cached verdict of another version is
judged again (a checker made stricter must not leave an old acceptance standing). A new check is
a function ``(asm path) -> "ok" | reason`` and one line in CHECKS (hktune/registry.py, where the
family schema reads the names)."""
from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path
from typing import Callable

from hktune.registry import CHECKS


def get(name: str) -> Callable[[Path], str]:
    module, _, fn = CHECKS[name].partition(":")
    return getattr(importlib.import_module(module), fn)


def run_checks(names: list[str] | tuple[str, ...], asm: Path) -> dict[str, str]:
    return {name: get(name)(asm) for name in names}


@functools.lru_cache(maxsize=None)
def version(names: tuple[str, ...]) -> str:
    """Hash of the source of the checks' packages (a check and the helpers beside it, e.g.
    hktune/build/amd/*.py) and of this module: what decides a cached verdict besides the assembly."""
    h = hashlib.sha256()
    folders = sorted({Path(importlib.import_module(CHECKS[n].partition(":")[0]).__file__).parent for n in names})
    for f in [Path(__file__), *(p for d in folders for p in sorted(d.glob("*.py")))]:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
