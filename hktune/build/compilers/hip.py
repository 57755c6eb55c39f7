"""HIP compiler plug-in for AMD Instinct (gfx942 / gfx950).

Two toolchains (hktune/build/toolchain.py):

* ROCm (hipcc or amdclang++ under $ROCM_PATH / $HIP_PATH / /opt/rocm), preferred: the artifact is a
  loadable host + device shared library (``-shared -fPIC``); a second, device-only ``-S`` compile
  gives the assembly and the resource-usage remarks.
* the portable device-only toolchain (``hktune toolchain install``): one device-only ``-S`` compile
  gives the assembly and the remarks; the assembly is then assembled and linked (milliseconds) into
  the code object, which is byte-identical in .text / kernel descriptor / metadata to what
  ``-c --no-gpu-bundle-output`` produces, at half the compile time. ``runnable=False``.

Resources come from clang's ``-Rpass-analysis=kernel-resource-usage`` remarks, cross-checked with
the code object's metadata note (msgpack) where present; code_bytes is the kernel symbol's size
in the code object (the .s ``codeLenInByte`` comment, used when there is no code object,
over-estimates inline asm); plus a static count of MFMA instructions in the assembly.

Command lines are built by the pure function :func:`plan` so they can be tested without a compiler.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hktune import proc
from hktune.build import toolchain as _tc
from hktune.build.amd import resources as _res
from hktune.build.amd.mfma import count_mfma
from hktune.build.amd.resources import RESOURCE_KEYS
from hktune.build.compilers.base import CompileJob, CompileResult, CompilerMissing, define_flags
from hktune.build import hip_runtime as hr

MISSING = "no HIP compiler: install ROCm (set ROCM_PATH) or run `hktune toolchain install`"
REMARKS = "-Rpass-analysis=kernel-resource-usage"
DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    what: str  # 'library' | 'asm' | 'assemble' | 'link'
    remarks: bool = False  # its stderr carries the resource-usage remarks


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    artifact: Path  # .so (rocm) or .hsaco (portable)
    asm: Path
    runnable: bool
    scratch: tuple[Path, ...] = ()  # intermediate files removed after the steps


def offload_flags(job: CompileJob) -> tuple[list[str], list[str], list[str]]:
    """Split job.flags into (offload-arch flags for job.arch, other flags, dropped flags).

    An ``--offload-arch=`` already in the flags for job.arch (possibly with target features,
    e.g. gfx942:xnack-) is kept; one for another arch is dropped (a job compiles one arch);
    with none, ``--offload-arch=<job.arch>`` is added.
    """
    base = job.arch.split(":")[0]
    arch, other, dropped = [], [], []
    for f in job.flags:
        if f.startswith("--offload-arch="):
            (arch if f.split("=", 1)[1].split(":")[0] == base else dropped).append(f)
        else:
            other.append(f)
    if not arch:
        arch = [f"--offload-arch={job.arch}"]
    return arch[:1], other, dropped + arch[1:]


def plan(tc: _tc.Toolchain, job: CompileJob) -> Plan:
    """The command lines compiling `job` with toolchain `tc` (pure: runs nothing)."""
    arch, flags, _ = offload_flags(job)
    common = [*define_flags(job.defines), *(f"-I{d}" for d in job.include_dirs)]
    out = Path(job.out)
    asm = out.with_suffix(".s")
    src = str(job.source)
    device_asm = Step((*tc.clang, *tc.flags, "-x", "hip", "--cuda-device-only", *arch, *flags, *common,
                       REMARKS, "-S", "-o", str(asm), src), "asm", remarks=True)
    if tc.kind == "rocm":
        lib = Step((*tc.clang, *tc.flags, "-x", "hip", *arch, *flags, *common, "-shared", "-fPIC",
                    "-o", str(out), src), "library")
        return Plan((lib, device_asm), out, asm, runnable=True)
    # portable: -S, then assemble + link the assembly into the code object
    hsaco = out.with_suffix(".hsaco")
    obj = out.with_suffix(".o")
    target_id = arch[0].split("=", 1)[1]
    assemble = Step((*tc.clang, "--target=amdgcn-amd-amdhsa", f"-mcpu={target_id}", "-x", "assembler", "-c",
                     "-o", str(obj), str(asm)), "assemble")
    linker = tc.linker or (*tc.clang[:1], "ld.lld")
    link = Step((*linker, "-shared", "--no-undefined", "-o", str(hsaco), str(obj)), "link")
    return Plan((device_asm, assemble, link), hsaco, asm, runnable=False, scratch=(obj,))


# ---- running -------------------------------------------------------------------------------


def run_step(argv: tuple[str, ...], timeout: float, env: dict[str, str]) -> tuple[int | None, str]:
    """(returncode or None on timeout, stdout+stderr). Kills the whole process group on timeout."""
    try:
        p = proc.run(argv, max(timeout, 0.1), stderr=proc.STDOUT, errors="replace", env={**os.environ, **env},
                     nice=proc.COMPILE_NICE)
    except OSError as e:
        return 127, f"{argv[0]}: {e}"
    except subprocess.TimeoutExpired as e:
        return None, e.output or ""
    return p.returncode, p.stdout


class HipCompiler:
    name = "hip"

    def __init__(self, toolchain: _tc.Toolchain | None = None, timeout: float = DEFAULT_TIMEOUT_S):
        self._toolchain = toolchain
        self.timeout = timeout

    def toolchain(self) -> _tc.Toolchain | None:
        """The given toolchain, else ROCm if installed, else the portable one (None if neither)."""
        if self._toolchain is None:
            self._toolchain = _tc.best()
        return self._toolchain

    def available(self) -> bool:
        return self.toolchain() is not None

    def version(self) -> str:
        tc = self.toolchain()
        if tc is None:
            raise CompilerMissing(MISSING)
        return tc.version

    def compile(self, job: CompileJob) -> CompileResult:
        tc = self.toolchain()
        if tc is None:
            raise CompilerMissing(MISSING)
        p = plan(tc, job)
        Path(job.out).parent.mkdir(parents=True, exist_ok=True)
        log: list[str] = [f"# {tc.version}"]
        if tc.kind == "rocm":   # the library will run in a process with torch: one HIP runtime, or say so

            clash = hr.clash(hr.torch_runtime(), hr.system_runtime(_tc.find_rocm()))
            if clash:
                log.append("warning: " + clash)
        dropped = offload_flags(job)[2]
        if dropped:
            log.append(f"# dropped (not arch {job.arch}): {' '.join(dropped)}")
        t0 = time.monotonic()
        remarks = ""
        for step in p.steps:
            log.append("$ " + shlex.join(step.argv))
            rc, out = run_step(step.argv, self.timeout - (time.monotonic() - t0), tc.env)
            if out:
                log.append(out.rstrip())
            if rc is None:
                log.append(f"error: compile timed out after {self.timeout:g} s ({step.what} step killed)")
                return CompileResult(False, "\n".join(log), time.monotonic() - t0, runnable=p.runnable)
            if rc != 0:
                log.append(f"error: {step.what} step failed with exit code {rc}")
                return CompileResult(False, "\n".join(log), time.monotonic() - t0, runnable=p.runnable)
            if step.remarks:
                remarks = out
        seconds = time.monotonic() - t0
        for f in p.scratch:
            f.unlink(missing_ok=True)
        resources, notes = collect_resources(remarks, p.asm, p.artifact)
        log.extend(f"# {n}" for n in notes)
        return CompileResult(True, "\n".join(log), seconds, artifact=p.artifact, runnable=p.runnable,
                             resources=resources, asm=p.asm)


# ---- resources -----------------------------------------------------------------------------
# Parsing is hktune.build.amd.resources'; here only the merge (worst case across kernels, remarks first).

_TARGET = re.compile(r'^\s*\.amdgcn_target\s+"([^"]+)"', re.M)


def _worst(per_kernel: list[dict[str, int | None]]) -> dict[str, int | None]:
    """Several kernels -> one row: the largest of each count, the lowest occupancy."""
    row: dict[str, int | None] = {}
    for key in RESOURCE_KEYS:
        vals = [k[key] for k in per_kernel if k.get(key) is not None]
        row[key] = (min(vals) if key == "occupancy" else max(vals)) if vals else None
    return row


def _metadata(path: Path) -> dict[str, dict[str, int]]:
    """{kernel symbol: resources} from a code object or a host library's offload bundles."""
    out: dict[str, dict[str, int]] = {}
    for elf in _res.code_objects(path.read_bytes()):
        out.update(_res.parse_code_object(elf))
    return out


def collect_resources(remarks: str, asm: Path | None, artifact: Path | None) -> tuple[dict, list[str]]:
    """Resources from the remarks, filled in / cross-checked by the .s and the code object.

    Returns (resources, notes); notes name disagreements and sources that could not be read.
    """
    notes: list[str] = []
    rem = _res.parse_remarks(remarks)
    rem.pop("", None)  # remarks before any 'Function Name:' belong to no function
    kernels = {n: r for n, r in rem.items() if "lds_bytes" in r} or rem  # LDS is reported for kernels only
    res = _worst(list(kernels.values()))
    mfma = None
    if asm is not None and asm.exists():
        text = asm.read_text(errors="replace")
        from_asm = _worst(list(_res.parse_asm(text).values()))
        mfma = count_mfma(text)
        for key, v in from_asm.items():
            if res.get(key) is None and v is not None:
                res[key] = v
        if from_asm.get("code_bytes") is not None:
            res["code_bytes"] = from_asm["code_bytes"]
        target = _TARGET.search(text)
        if target:
            notes.append(f"target {target.group(1)}")
    if artifact is not None and artifact.exists():
        try:
            meta = _metadata(artifact)
        except ImportError:
            meta = {}
            notes.append("msgpack not installed: no code-object metadata cross-check")
        except Exception as e:  # a malformed / compressed bundle must not fail the compile
            meta = {}
            notes.append(f"code-object metadata unreadable: {type(e).__name__}: {e}")
        if meta:
            names = set(kernels) & set(meta) or set(meta)
            md = _worst([meta[n] for n in names])
            if md.get("code_bytes") is not None:  # the .s comment estimates inline asm; the symbol is exact
                res["code_bytes"] = md["code_bytes"]
            for key, v in md.items():
                if v is None:
                    continue
                if res.get(key) is None:
                    res[key] = v
                elif res[key] != v:
                    notes.append(f"resource mismatch: {key} remarks={res[key]} code-object metadata={v}")
    res["mfma_count"] = mfma
    res["kernels"] = len(kernels) or None
    return res, notes


__all__ = ["HipCompiler", "Plan", "Step", "plan", "collect_resources", "MISSING", "REMARKS"]
