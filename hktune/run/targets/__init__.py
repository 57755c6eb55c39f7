"""Run targets: how a family's compiled code runs. ``gpu`` (in-process on a CUDA/ROCm GPU, one
worker per device), ``host`` (the CPU) and ``emulator`` (an ISA emulator: correctness only, no
timing). A new target is a module here exposing ``workers(...)`` plus one line in TARGETS."""
from __future__ import annotations

import importlib
from types import ModuleType

TARGETS = {
    "gpu": "hktune.run.targets.gpu",
    "host": "hktune.run.targets.host",
    "emulator": "hktune.run.targets.emulator",
}


def get(name: str) -> ModuleType:
    from hktune.errors import BadInput

    if name not in TARGETS:
        raise BadInput(f"unknown run target {name!r} (known: {', '.join(TARGETS)})")
    return importlib.import_module(TARGETS[name])
