"""Plug-in names that a family.yaml may use, each with the module that implements it. They live
here, below every layer, so that the family schema can check a name without importing the layer
that runs it (a family is read before anything is built or run).

A new run target is a module in hktune/run/targets/ plus one line in TARGETS; a new static check
a module with ``build_check(asm) -> "ok" | reason`` plus one line in CHECKS."""
from __future__ import annotations

TARGETS = {
    "gpu": "hktune.run.targets.gpu",
    "host": "hktune.run.targets.host",
    "emulator": "hktune.run.targets.emulator",
}

CHECKS = {
    "vmcnt": "hktune.build.amd.vmcnt:build_check",  # gfx9: no LDS tile read while its loads are in flight
    "m0": "hktune.build.amd.m0:build_check",  # gfx9: every buffer_load ... lds sees the inline asm's M0
}
