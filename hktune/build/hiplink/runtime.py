"""The HIP runtime that a linked HipKittens library is linked against and loaded with (no ROCm).

Debian packages, fetched like the portable toolchain's (``apt-get download`` with a private apt
configuration, ``dpkg -x``), into ``<toolchain prefix>/hip-runtime``:

* the runtime, pinned to the release of the toolchain's HIP headers (``libamdhip64-dev``
  7.2.4-1~exp2): ``libamdhip64-7`` and ``libhsa-runtime64-1`` from Debian experimental. Debian 12
  itself has only HIP 5.2 (``libamdhip64-5``, soname .so.5, no gfx942/gfx950), which is not what a
  library built against HIP 7.2 headers links on a ROCm machine.
* a loader sysroot: that runtime is built against glibc 2.38 and libstdc++ 13, newer than
  Debian 12's (2.36, 12). So the library is loaded in a child process started through the
  dynamic loader of Debian 13 (trixie: ``libc6``, ``libstdc++6``, ``libgcc-s1``) with the
  runtime's other dependencies (``libnuma1``, ``libdrm2``, ``libdrm-amdgpu1``, ``libelf1t64``).
  These are whatever trixie has when installing (its point releases replace old versions);
  the versions taken are recorded in the marker.

Not fetched: ``libamd-comgr3`` (the runtime dlopens it only to load code objects on a device)
and the ROCm kernel driver, which no package can supply: without /dev/kfd the runtime reports
no device, which is what the load check expects.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from hktune.build import toolchain as _tc
from hktune.build import toolchain_install as _ti

RUNTIME = (("libamdhip64-7", "7.2.4-1~exp2"), ("libhsa-runtime64-1", "7.2.4+dfsg-1~exp1"))
RUNTIME_SUITE = "experimental"
LOADER = ("libc6", "libstdc++6", "libgcc-s1", "libnuma1", "libdrm2", "libdrm-amdgpu1", "libelf1t64")
LOADER_SUITE = "trixie"
MARKER = "hktune-hip-runtime.json"
LIBDIR = "usr/lib/x86_64-linux-gnu"


@dataclass(frozen=True)
class Runtime:
    root: Path

    @property
    def libdir(self) -> Path:
        return self.root / LIBDIR

    @property
    def loader(self) -> Path:
        return self.libdir / "ld-linux-x86-64.so.2"

    @property
    def link_dir(self) -> Path:
        """-L for ``-lamdhip64`` (the unversioned link name, as libamdhip64-dev ships it)."""
        return self.root / "link"

    @property
    def version(self) -> str:
        return ", ".join(f"{n} {v}" for n, v in RUNTIME) + f" ({RUNTIME_SUITE})"


def _pins() -> dict:
    return {"runtime": {n: v for n, v in RUNTIME}, "suite": RUNTIME_SUITE, "loader_suite": LOADER_SUITE}


def default_root(prefix: Path | None = None) -> Path:
    return _tc.resolve_prefix(prefix) / "hip-runtime"


def find(prefix: Path | None = None) -> Runtime | None:
    """The installed runtime with the current pins, or None."""
    rt = Runtime(default_root(prefix))
    try:
        meta = json.loads((rt.root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("pins") != _pins():
        return None
    need = (rt.loader, rt.libdir / "libamdhip64.so.7", rt.libdir / "libhsa-runtime64.so.1", rt.link_dir / "libamdhip64.so")
    return rt if all(p.exists() for p in need) else None


def install(prefix: Path | None = None, force: bool = False, *, runner: _tc.Runner | None = None,
            log: Callable[[str], None] | None = None) -> Runtime:
    """Fetch and unpack the pinned runtime and the loader sysroot (no-op while the pins match)."""
    run = runner or _tc.subprocess_runner
    say = log or (lambda m: None)
    rt = Runtime(default_root(prefix))
    if not force and find(prefix) is not None:
        return rt
    lay = SimpleNamespace(apt=rt.root / "apt")
    for d in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
        (lay.apt / d).mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("HKTUNE_DEBIAN_MIRROR", _tc.DEBIAN_MIRROR)
    (lay.apt / "sources.list").write_text("".join(f"deb [signed-by={_tc.DEBIAN_KEYRING}] {mirror} {s} main\n"
                                                  for s in (RUNTIME_SUITE, LOADER_SUITE)))
    (lay.apt / "preferences").write_text("")
    opts = _ti.apt_options(lay)
    say(f"apt-get update ({RUNTIME_SUITE}, {LOADER_SUITE} from {mirror})")
    _ti.check(run(["apt-get", *opts, "-qq", "update"]), "apt-get update")
    for name, ver in RUNTIME:
        avail = _ti.madison(run(["apt-cache", *opts, "madison", name]).stdout)
        if ver not in {v for v, _ in avail}:
            have = ", ".join(f"{v} ({s})" for v, s in avail) or "none"
            raise _tc.ToolchainError(f"Debian package {name} pinned to {ver} ({RUNTIME_SUITE}) is not available from "
                                     f"{mirror}; available: {have}; update the pins in {__name__}")
    debs = rt.root / "deb"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir(parents=True)
    specs = [f"{n}={v}" for n, v in RUNTIME] + [f"{n}/{LOADER_SUITE}" for n in LOADER]
    say("apt-get download " + " ".join(specs))
    _ti.check(run(["apt-get", *opts, "-qq", "download", *specs], cwd=debs), "apt-get download " + " ".join(specs))
    got = {p.name.split("_")[0]: p.name.split("_")[1] for p in debs.glob("*.deb")}
    missing = [n for n in [*dict(RUNTIME), *LOADER] if n not in got]
    if missing:
        raise _tc.ToolchainError(f"apt-get download did not produce {', '.join(missing)} in {debs}")
    for d in ("usr", "lib", "lib64", "etc", "link"):
        shutil.rmtree(rt.root / d, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        _ti.check(run(["dpkg", "-x", str(deb), str(rt.root)]), f"dpkg -x {deb.name}")
    rt.link_dir.mkdir()
    (rt.link_dir / "libamdhip64.so").symlink_to(os.path.relpath(rt.libdir / "libamdhip64.so.7", rt.link_dir))
    if not rt.loader.exists():
        raise _tc.ToolchainError(f"{rt.loader} missing after unpacking libc6 from {LOADER_SUITE}")
    shutil.rmtree(debs, ignore_errors=True)
    shutil.rmtree(lay.apt, ignore_errors=True)
    meta = {"pins": _pins(), "versions": got,
            "installed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    (rt.root / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
    say(f"installed the HIP runtime ({rt.version}) and a {LOADER_SUITE} loader in {rt.root}")
    return rt


__all__ = ["Runtime", "RUNTIME", "LOADER", "find", "install", "default_root"]
