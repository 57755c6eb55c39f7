"""nvcc for the cuda family: a shared library with sm_XX code; registers, spills and shared
memory read from ptxas -v, and ptxas's own word on the wgmmas of a Hopper kernel: serialized (C7510-C7515, "Potential
Performance Loss: wgmma.mma_async instructions are serialized", every wgmma waited for: a config the space may prune)
or a wait injected (C7517, "warpgroup.wait is injected": a wgmma meant to stay in flight drained early)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from hktune import proc
from hktune.build.compilers.base import CompileJob, CompileResult, CompilerMissing, define_flags, run_tool

TIMEOUT_S = 600.0

_USED = re.compile(r"Used (\d+) registers")
_SMEM = re.compile(r"(\d+) bytes smem")
_STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_WGMMA_SERIAL = re.compile(r"wgmma\.mma_async instructions are serialized")
_WGMMA_WAIT = re.compile(r"\(C7517\) warpgroup\.wait is injected")


def parse_ptxas(log: str) -> dict[str, int | float | None]:
    """Worst case over the kernels in the log (the GEMM is the only real one)."""
    regs = [int(x) for x in _USED.findall(log)]
    smem = [int(x) for x in _SMEM.findall(log)]
    stacks = [tuple(map(int, m)) for m in _STACK.findall(log)]
    return {
        "registers": max(regs) if regs else None,
        "static_smem_bytes": max(smem) if smem else 0,
        "stack_bytes": max((s[0] for s in stacks), default=0),
        "spill_store_bytes": max((s[1] for s in stacks), default=0),
        "spill_load_bytes": max((s[2] for s in stacks), default=0),
        "spills": max((s[1] + s[2] for s in stacks), default=0),
        "wgmma_serialized": len(_WGMMA_SERIAL.findall(log)),
        "wgmma_waits_injected": len(_WGMMA_WAIT.findall(log)),
    }

VERSION_TIMEOUT_S = 60.0


@lru_cache(maxsize=None)
def _version(nvcc: str) -> str:
    r = proc.run([nvcc, "--version"], VERSION_TIMEOUT_S)  # the one runner: a hung tool cannot hang us
    if r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)
    out = r.stdout
    m = re.search(r"release ([\d.]+), V([\d.]+)", out)
    return f"nvcc {m.group(2)}" if m else out.strip().splitlines()[-1]


class NvccCompiler:
    name = "nvcc"

    def __init__(self) -> None:
        self.nvcc = os.environ.get("HKTUNE_NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"

    def available(self) -> bool:
        return shutil.which(self.nvcc) is not None or os.path.exists(self.nvcc)

    def version(self) -> str:
        if not self.available():
            raise CompilerMissing("no CUDA compiler: nvcc not found (install the CUDA toolkit or set HKTUNE_NVCC)")
        return _version(self.nvcc)

    def argv(self, job: CompileJob) -> list[str]:
        flags = list(job.flags)
        if not any(f.startswith(("-gencode", "-arch", "--gpu-architecture")) for f in flags):
            flags.append(f"-arch={job.arch}")
        return [
            self.nvcc, *flags, "-shared", "-Xcompiler=-fPIC", "-Xptxas=-v",
            *define_flags(job.defines), *[f"-I{d}" for d in job.include_dirs],
            "-o", str(job.out), str(job.source),
        ]

    def compile(self, job: CompileJob) -> CompileResult:
        self.version()
        ok, log, secs = run_tool(self.argv(job), TIMEOUT_S)
        res = parse_ptxas(log) if ok else {}
        if ok:
            res["code_bytes"] = job.out.stat().st_size
        return CompileResult(ok=ok, log=log, seconds=secs, artifact=job.out if ok else None, resources=res)
