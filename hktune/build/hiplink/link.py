"""Link a built HipKittens config into the host + device shared library a ROCm machine builds.

hipcc (``-shared -fPIC --offload-arch=gfxNNN``) does four things; the portable toolchain does the
same four with its own tools:

1. device code -> code object: the build's .hsaco (``hip.plan``'s -S, assemble, ld.lld);
2. the code object -> a clang offload bundle (the ``.hipfb`` that clang-offload-bundler writes:
   an empty host entry and ``hipv4-amdgcn-amd-amdhsa--<target id>``, 4096-byte aligned); zig's
   clang has no clang-offload-bundler, so :func:`offload_bundle` writes the documented format;
3. host code: ``clang -x hip --cuda-host-only -fPIC ... -Xclang -fcuda-include-gpubinary
   -Xclang X.hipfb -c``, which embeds the bundle (``.hip_fatbin``) and emits the constructor
   that registers it and the kernel with the HIP runtime (``__hipRegisterFatBinary``);
4. ``clang++ -shared`` with ``-lamdhip64`` (libamdhip64.so.7 of hiplink.runtime), linked by lld.

On a ROCm toolchain the build's artifact already is that library; nothing is redone.
"""
from __future__ import annotations

import shlex
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from hktune.build.compilers.hip import offload_flags, run_step
from hktune.build.compilers.base import CompileJob, define_flags
from hktune.build.hiplink.runtime import Runtime
from hktune.build.toolchain import HOST_TRIPLE, Toolchain

MAGIC = b"__CLANG_OFFLOAD_BUNDLE__"
ALIGN = 4096


def offload_bundle(entries: list[tuple[str, bytes]], align: int = ALIGN) -> bytes:
    """clang-offload-bundler's binary format: magic, entry count, (offset, size, id length, id)
    per entry, then each entry's bytes at its (aligned) offset."""
    offset = len(MAGIC) + 8 + sum(24 + len(t.encode()) for t, _ in entries)
    offsets = []
    for _, data in entries:
        if data:
            offset = -(-offset // align) * align
        offsets.append(offset)
        offset += len(data)
    out = bytearray(MAGIC + struct.pack("<Q", len(entries)))
    for (triple, data), off in zip(entries, offsets):
        out += struct.pack("<QQQ", off, len(data), len(triple.encode())) + triple.encode()
    for (_, data), off in zip(entries, offsets):
        out += b"\0" * (off - len(out)) + data
    return bytes(out)


@dataclass
class Linked:
    ok: bool
    library: Path | None
    log: list[str] = field(default_factory=list)
    seconds: float = 0.0


def plan(tc: Toolchain, rt: Runtime, job: CompileJob, hsaco: Path, out: Path) -> tuple[bytes, list[tuple[str, ...]]]:
    """(the offload bundle's bytes, the host-compile and link command lines) for the portable toolchain."""
    arch, flags, _ = offload_flags(job)
    target_id = arch[0].split("=", 1)[1]
    fatbin = offload_bundle([(f"host-{HOST_TRIPLE}-", b""), (f"hipv4-amdgcn-amd-amdhsa--{target_id}", hsaco.read_bytes())])
    obj, hipfb = out.with_suffix(".host.o"), out.with_suffix(".hipfb")
    host = (*tc.clang, *tc.flags, "-x", "hip", "--cuda-host-only", *arch, *flags, *define_flags(job.defines),
            *(f"-I{d}" for d in job.include_dirs), "-fPIC", "-Xclang", "-fcuda-include-gpubinary", "-Xclang", str(hipfb),
            "-c", "-o", str(obj), str(job.source))
    lld = (tc.bin_dir / "lld") if tc.bin_dir else None
    link = (*tc.clang, "--driver-mode=g++", f"--target={HOST_TRIPLE}", *([f"--ld-path={lld}"] if lld else []),
            "-shared", "-fPIC", "-o", str(out), str(obj), f"-L{rt.link_dir}", "-lamdhip64", "-Wl,--no-undefined",
            "-Wl,-rpath,/opt/rocm/lib")
    return fatbin, [host, link]


def link(tc: Toolchain, rt: Runtime | None, job: CompileJob, artifact: Path, out: Path, timeout: float = 600.0) -> Linked:
    """The library for one built config at `out` (its build's `artifact`: .hsaco, or a ROCm .so)."""
    t0 = time.monotonic()
    if tc.kind == "rocm":
        return Linked(True, artifact, [f"# {tc.version}: the build's artifact is the host + device library"])
    if rt is None:
        return Linked(False, None, ["error: no HIP runtime to link against: run `hktune toolchain install --runtime`"])
    out.parent.mkdir(parents=True, exist_ok=True)
    fatbin, steps = plan(tc, rt, job, artifact, out)
    out.with_suffix(".hipfb").write_bytes(fatbin)
    log = [f"# {tc.version}; HIP runtime {rt.version}"]
    for argv in steps:
        log.append("$ " + shlex.join(argv))
        rc, text = run_step(argv, timeout - (time.monotonic() - t0), tc.env)
        if text:
            log.append(text.rstrip())
        if rc != 0:
            log.append(f"error: {'timed out' if rc is None else f'exit code {rc}'}")
            return Linked(False, None, log, time.monotonic() - t0)
    for f in (out.with_suffix(".host.o"), out.with_suffix(".hipfb")):
        f.unlink(missing_ok=True)
    return Linked(True, out, log, time.monotonic() - t0)


__all__ = ["offload_bundle", "plan", "link", "Linked"]
