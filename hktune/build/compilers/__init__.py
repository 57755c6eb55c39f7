"""Compiler plug-ins, looked up by the name a family.yaml gives."""
from __future__ import annotations

import importlib

from hktune.build.compilers.base import CompileJob, CompileResult, Compiler, CompilerMissing

# name -> "module:Class"; imported lazily so a missing toolchain costs nothing until used.
REGISTRY = {
    "gcc": "hktune.build.compilers.gcc:GccCompiler",
    "nvcc": "hktune.build.compilers.nvcc:NvccCompiler",
    "hip": "hktune.build.compilers.hip:HipCompiler",
}


def get_compiler(name: str) -> Compiler:
    try:
        target = REGISTRY[name]
    except KeyError:
        raise CompilerMissing(f"unknown compiler plug-in {name!r} (known: {', '.join(REGISTRY)})") from None
    mod, cls = target.split(":")
    return getattr(importlib.import_module(mod), cls)()


__all__ = ["CompileJob", "CompileResult", "Compiler", "CompilerMissing", "get_compiler", "REGISTRY"]
