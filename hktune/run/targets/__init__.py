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


# The timing worker (hktune/run/measure.py) still makes bf16 inputs, references and vendor calls
# itself and calls hktune_gemm without a dtype's extra operands; until the worker protocol carries
# the dtype (issue 20), other dtypes compile and are checked in the emulator but are never timed
# here: their kernels would be called with the wrong arguments.
TIMED_DTYPES = ("bf16",)


def open_workers(target: Target, gpus: list[int | None] | None = None, settings: Any = None,
                 timeout_s: float = 120.0) -> list[Any]:
    """The timing workers of ``target``'s run target (one per device; not started yet)."""
    if target.dtype.name not in TIMED_DTYPES:
        raise BadInput(f"the timing worker does not take {target.dtype.name} inputs yet (it times "
                       f"{', '.join(TIMED_DTYPES)}); `hktune compile`/`verify --dtype {target.dtype.name}` check its "
                       f"kernels, bench/fp8_h200.py times them on an H200")
    return get(target.run).workers(target, gpus, settings=settings, timeout_s=timeout_s)
