"""g++ for the host family: builds a shared library loadable with ctypes."""
from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

from hktune import proc
from hktune.build.compilers.base import CompileJob, CompileResult, CompilerMissing, define_flags, run_tool

TIMEOUT_S = 300.0
VERSION_TIMEOUT_S = 60.0


@lru_cache(maxsize=None)
def _version(cxx: str) -> str:
    r = proc.run([cxx, "--version"], VERSION_TIMEOUT_S)  # the one runner: a hung tool cannot hang us
    if r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)
    out = r.stdout
    return out.splitlines()[0].strip()


class GccCompiler:
    name = "gcc"

    def __init__(self) -> None:
        self.cxx = os.environ.get("HKTUNE_CXX", "g++")

    def available(self) -> bool:
        return shutil.which(self.cxx) is not None

    def version(self) -> str:
        if not self.available():
            raise CompilerMissing(f"no C++ compiler: {self.cxx} not found (install g++ or set HKTUNE_CXX)")
        return _version(self.cxx)

    def argv(self, job: CompileJob) -> list[str]:
        return [
            self.cxx, *job.flags, "-shared", "-fPIC",
            *define_flags(job.defines), *[f"-I{d}" for d in job.include_dirs],
            "-o", str(job.out), str(job.source),
        ]

    def compile(self, job: CompileJob) -> CompileResult:
        self.version()
        ok, log, secs = run_tool(self.argv(job), TIMEOUT_S)
        res: dict[str, int | float | None] = {}
        if ok:
            res["code_bytes"] = job.out.stat().st_size
        return CompileResult(ok=ok, log=log, seconds=secs, artifact=job.out if ok else None, resources=res)
