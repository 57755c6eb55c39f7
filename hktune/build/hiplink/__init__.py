"""The complete HipKittens shared library (host + device) without ROCm: link, then dlopen.

`hktune compile --link DIR` calls :func:`link_and_load` for every config it built: the library
(as hipcc builds it: link.py) against the Debian HIP runtime (runtime.py), then loaded with
ctypes in a child process and its entry point called with no device (load.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hktune.build.amd.resources import code_objects, parse_code_object
from hktune.build.compilers.base import CompileJob
from hktune.build.hiplink import link as _link
from hktune.build.hiplink import load as _load
from hktune.build.hiplink import runtime as _runtime


@dataclass
class LinkReport:
    ok: bool
    library: Path | None
    line: str  # one line: what was linked and the dlopen verdict
    log: list[str]
    result: dict


def code_object_note(library: Path, hsaco: Path | None) -> tuple[bool, str]:
    """(host and device agree, a note): the code objects in the library's offload bundle, whether
    the build's .hsaco is one of them byte for byte, and whether the host half registers every
    kernel of the code object by its name (what hipLaunchKernel looks the kernel up by)."""
    data = library.read_bytes()
    objs = list(code_objects(data))
    host = data
    for co in objs:
        host = host.replace(co, b"")
    kernels = sorted({k for co in objs for k in parse_code_object(co)})
    missing = [k for k in kernels if k.encode() + b"\0" not in host]
    same = hsaco is not None and hsaco.exists() and hsaco.read_bytes() in objs
    note = f"{len(objs)} code object(s)" + (", the build's .hsaco byte for byte" if same else "")
    note += f", host registers {len(kernels) - len(missing)}/{len(kernels)} kernel(s)"
    return bool(objs) and not missing and (hsaco is None or same), note


def link_and_load(builder, outcome, out_dir: Path, shape: tuple[int, int, int]) -> LinkReport:  # noqa: ANN001
    """Link one built config into out_dir/<arch>-<key>.so and dlopen-check it."""
    tc = builder.compiler.toolchain()
    if tc is None:
        return LinkReport(False, None, "no HIP toolchain", [], {})
    rt = _runtime.find(tc.prefix) if tc.kind == "portable" else None
    cfg = {k: outcome.config[k] for k in builder.space.names}
    job = CompileJob(source=builder.spec.source, out=outcome.artifact, arch=builder.arch,
                     defines=builder.space.defines(cfg), flags=builder.flags, include_dirs=builder.include_dirs)
    so = Path(out_dir) / f"{builder.arch}-{outcome.key[:16]}.so"
    linked = _link.link(tc, rt, job, Path(outcome.artifact), so)
    if not linked.ok or linked.library is None:
        return LinkReport(False, None, "link failed: " + (linked.log[-1] if linked.log else "?"), linked.log, {})
    agree, note = code_object_note(linked.library, None if tc.kind == "rocm" else Path(outcome.artifact))
    expect = ",".join(f"{k}={v}" for k, v in cfg.items())
    ok, line, res = _load.dlopen_check(linked.library, shape, expect, rt, tc.rocm_path if tc.kind == "rocm" else None)
    ok = ok and agree
    size = linked.library.stat().st_size
    return LinkReport(ok, linked.library, f"{linked.library} ({size} bytes, {note}, linked in {linked.seconds:.1f} s): {line}",
                      linked.log, res)


__all__ = ["link_and_load", "LinkReport", "code_object_note"]
