"""Where the AMD ISA emulator is: four files of tinygrad's test tree at a pinned commit.

tinygrad's PyPI wheel (pinned below) has the instruction decoders and the CPU backend; the
emulator itself (``test/mockgpu/amd/emu.py`` and what it imports from ``test/``) is not in the
wheel. hktune looks for those files in, in order:

1. ``HKTUNE_EMULATOR_DIR``: a tinygrad checkout or a folder holding the four files at the same
   relative paths (``test/mockgpu/amd/emu.py`` ...),
2. ``<toolchain prefix>/emulator``, where ``hktune toolchain install --emulator`` puts them.

Nothing is imported here: the emulator only ever runs in a child process (hktune.emulator.launch).
"""
from __future__ import annotations

from hktune.build.toolchain import default_prefix
from hktune.errors import Missing

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

TINYGRAD_VERSION = "0.14.0"  # PyPI wheel the four files run with
TINYGRAD_COMMIT = "a9069c177a9da9cca18593edf55acd2e6073cca6"  # tinygrad/tinygrad, 2026-08-22
# path inside the tinygrad repository -> sha256 of the file at TINYGRAD_COMMIT
FILES: dict[str, str] = {
    "test/mockgpu/amd/emu.py": "b16551e8c6dbe901c231a98b7ce45ba510be9545b4e0c62c4eca36999c226b0d",
    "test/mockgpu/amd/pcode.py": "98a31cbb01a7eba0743924aeead7fef3be32ef783d52ee15f0ad7383bf78abd1",
    "test/mockgpu/amd/sqtt_enc.py": "29bc6d0fc3fe009646514f040d7a1b89b400969352722a2fdfab90cfcccd0531",
    "test/amd/helpers.py": "5bafa54d63d7d18606d53a0e1799477665ea0717d667314c06b5091e574ad7b4",
}
# empty package markers the imports need (`from test.mockgpu.amd.emu import ...`)
PACKAGE_INITS = ("test/__init__.py", "test/amd/__init__.py", "test/mockgpu/__init__.py",
                 "test/mockgpu/amd/__init__.py")
MARKER = "hktune-emulator.json"
ENV = "HKTUNE_EMULATOR_DIR"
INSTALL_HINT = "run `hktune toolchain install --emulator` or set HKTUNE_EMULATOR_DIR to a tinygrad checkout"


class EmulatorMissing(Missing):
    """The emulator (or tinygrad) is not installed; the message is one line saying the fix."""


@dataclass(frozen=True)
class Emulator:
    root: Path  # the folder to put first on sys.path (it holds test/mockgpu/amd/emu.py)
    source: str  # 'env' | 'toolchain'
    verified: bool  # the four files match the pinned hashes

    @property
    def emu_py(self) -> Path:
        return self.root / "test" / "mockgpu" / "amd" / "emu.py"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(root: Path) -> list[str]:
    """Files under root that are missing or differ from the pins (empty list: all good)."""
    bad = []
    for rel, want in FILES.items():
        p = root / rel
        if not p.is_file():
            bad.append(f"{rel} (missing)")
        elif sha256(p) != want:
            bad.append(f"{rel} (sha256 differs)")
    return bad


def default_dir() -> Path:
    """<toolchain prefix>/emulator (the prefix is HKTUNE_TOOLCHAIN_DIR or ~/.cache/hktune/amd-toolchain)."""
    return default_prefix() / "emulator"


def tinygrad_version() -> str | None:
    """The installed tinygrad's version (without importing it), or None."""
    if importlib.util.find_spec("tinygrad") is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tinygrad")
    except PackageNotFoundError:
        return "unknown"


def find(check_tinygrad: bool = True) -> Emulator:
    """The emulator to run, or EmulatorMissing with a one-line fix.

    HKTUNE_EMULATOR_DIR wins when set (a checkout at another commit is accepted, unverified,
    so a newer tinygrad can be tried; the four-file folder must match the pins); otherwise the
    toolchain folder must hold the pinned files.
    """
    env = os.environ.get(ENV)
    if env:
        root = Path(env).expanduser().resolve()
        emu = Emulator(root, "env", not verify(root))
        if not emu.emu_py.is_file():
            raise EmulatorMissing(f"{ENV}={env} has no test/mockgpu/amd/emu.py; point it at a tinygrad checkout "
                                  f"or at the folder `hktune toolchain install --emulator` fills")
    else:
        root = default_dir()
        bad = verify(root) if root.is_dir() else ["(not installed)"]
        if bad:
            what = "not installed" if not root.is_dir() else f"damaged ({bad[0]})"
            raise EmulatorMissing(f"AMD ISA emulator {what} in {root}: {INSTALL_HINT}")
        emu = Emulator(root, "toolchain", True)
    if check_tinygrad:
        v = tinygrad_version()
        if v is None:
            raise EmulatorMissing(f"tinygrad is not installed: pip install tinygrad=={TINYGRAD_VERSION} "
                                  "(or run `hktune toolchain install --emulator`)")
    return emu


def describe() -> str:
    """One line for `hktune doctor`-style reports."""
    try:
        e = find()
    except EmulatorMissing as err:
        return f"missing: {err}"
    meta = e.root / MARKER
    commit = json.loads(meta.read_text()).get("commit", "?") if meta.is_file() else "?"
    return (f"{e.root} ({e.source}, {'pinned files' if e.verified else 'unverified files'}, commit {commit[:12]}, "
            f"tinygrad {tinygrad_version()})")
