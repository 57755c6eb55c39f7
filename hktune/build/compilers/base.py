"""The compiler plug-in seam: one job in, one result out."""
from __future__ import annotations

from hktune.errors import Missing

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hktune import proc as _proc


class CompilerMissing(Missing):
    """The compiler a family needs is not installed; the message says what to install."""


@dataclass(frozen=True)
class CompileJob:
    """Everything that decides the compiled bytes (and so the cache key)."""

    source: Path
    out: Path
    arch: str
    defines: dict[str, int | str]
    flags: tuple[str, ...] = ()
    include_dirs: tuple[Path, ...] = ()


@dataclass
class CompileResult:
    ok: bool
    log: str
    seconds: float
    artifact: Path | None = None
    # True when the artifact is a loadable shared library (host + device code); False for a
    # device-only code object (AMD without ROCm): compiled and measurable, not runnable.
    runnable: bool = True
    resources: dict[str, int | float | None] = field(default_factory=dict)
    asm: Path | None = None


class Compiler(Protocol):
    name: str

    def available(self) -> bool: ...

    def version(self) -> str: ...

    def compile(self, job: CompileJob) -> CompileResult: ...


def define_flags(defines: dict[str, int | str]) -> list[str]:
    return [f"-D{k}={v}" for k, v in defines.items()]


def run_tool(argv: list[str], timeout: float, cwd: Path | None = None) -> tuple[bool, str, float]:
    """Run a compiler; a time-out or a missing binary is a failed compile, never an exception."""
    start = time.perf_counter()
    try:
        proc = _proc.run(argv, timeout, cwd=cwd, nice=_proc.COMPILE_NICE)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return False, f"{' '.join(argv)}\ncompile timed out after {timeout:.0f} s\n{out}", time.perf_counter() - start
    except FileNotFoundError as e:
        return False, f"{' '.join(argv)}\n{e}", time.perf_counter() - start
    log = " ".join(argv) + "\n" + proc.stdout + proc.stderr
    return proc.returncode == 0, log, time.perf_counter() - start
