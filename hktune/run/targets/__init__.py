"""Run targets: how a target's compiled code runs. ``gpu`` (in-process on a CUDA/ROCm GPU, one
worker per device), ``host`` (the CPU) and ``emulator`` (an ISA emulator: correctness only, no
timing). A new run target is a module here plus one line in TARGETS (hktune/registry.py).

The interface every run-target module gives:

``TIMES``  True when it measures speed (then ``workers`` gives timing workers), False when it
           only proves correctness (then ``check`` runs configs).
``workers(target, gpus, settings, timeout_s) -> list[Worker]``  unstarted workers (use them as
           context managers, or ``start()``); a target that does not time raises BadInput.
``check(builder, configs, *, jobs, timeout_s, seed, progress) -> rows``  correctness only.

Callers (search, bench, sweep) go through ``open_workers(target, ...)``.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from hktune.errors import BadInput
from hktune.registry import TARGETS
from hktune.target import Target


def get(name: str) -> ModuleType:
    if name not in TARGETS:
        raise BadInput(f"unknown run target {name!r} (known: {', '.join(TARGETS)})")
    return importlib.import_module(TARGETS[name])


def open_workers(target: Target, gpus: list[int | None] | None = None, settings: Any = None,
                 timeout_s: float = 120.0) -> list[Any]:
    """The timing workers of ``target``'s run target (one per device; not started yet)."""
    return get(target.run).workers(target, gpus, settings=settings, timeout_s=timeout_s)
