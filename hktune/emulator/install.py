"""`hktune toolchain install --emulator`: the pinned emulator files plus tinygrad from PyPI.

The four files come from GitHub raw at the pinned commit (or, with ``from_dir``, from a local
folder holding the same relative paths - a tinygrad checkout or a copy), are checked against the
pinned sha256 and written to ``<toolchain prefix>/emulator`` with a marker. ``tinygrad==0.14.0``
is pip-installed into the running interpreter (the child that runs the emulator uses it).
Every failure is an :class:`EmulatorMissing` with a one-line message.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from hktune.build.toolchain import subprocess_runner
from hktune.emulator.locate import (FILES, MARKER, PACKAGE_INITS, TINYGRAD_COMMIT, TINYGRAD_VERSION, Emulator,
                                    EmulatorMissing, default_dir, tinygrad_version, verify)

RAW_URL = "https://raw.githubusercontent.com/tinygrad/tinygrad/{commit}/{path}"
Fetch = Callable[[str], bytes]


def _http_get(url: str, timeout: float = 30.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - fixed https URL
        return r.read()


def _fetch_all(fetch: Fetch) -> dict[str, bytes]:
    out = {}
    for rel in FILES:
        url = RAW_URL.format(commit=TINYGRAD_COMMIT, path=rel)
        try:
            out[rel] = fetch(url)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            why = getattr(e, "reason", None) or e
            raise EmulatorMissing(f"cannot download {url} ({why}); on a machine without GitHub access copy the "
                                  "four files from a tinygrad checkout: hktune toolchain install --emulator "
                                  "--emulator-from DIR") from None
    return out


def _read_dir(src: Path) -> dict[str, bytes]:
    missing = [rel for rel in FILES if not (src / rel).is_file()]
    if missing:
        raise EmulatorMissing(f"--emulator-from {src}: {missing[0]} not found (need {', '.join(FILES)})")
    return {rel: (src / rel).read_bytes() for rel in FILES}


def _check_hashes(blobs: dict[str, bytes], origin: str) -> None:
    for rel, data in blobs.items():
        got = hashlib.sha256(data).hexdigest()
        if got != FILES[rel]:
            raise EmulatorMissing(f"{rel} from {origin} has sha256 {got[:16]}..., expected {FILES[rel][:16]}... "
                                  f"(tinygrad commit {TINYGRAD_COMMIT[:12]}); refusing to install it")


def pip_install_tinygrad(run: Callable | None = None) -> str:
    """pip install tinygrad==TINYGRAD_VERSION unless that version is installed; returns the version."""
    if tinygrad_version() == TINYGRAD_VERSION:
        return TINYGRAD_VERSION
    run = run or subprocess_runner
    r = run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
             f"tinygrad=={TINYGRAD_VERSION}"], timeout=900)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr + "\n" + r.stdout).splitlines() if ln.strip()]
        raise EmulatorMissing(f"pip install tinygrad=={TINYGRAD_VERSION} failed (exit {r.returncode}): "
                              f"{lines[-1].strip() if lines else 'no output'}")
    return TINYGRAD_VERSION


def install(dest: Path | None = None, from_dir: Path | None = None, *, fetch: Fetch | None = None,
            pip: bool = True, run: Callable | None = None, log: Callable[[str], None] | None = None) -> Emulator:
    """Put the pinned emulator files into ``dest`` (default: <toolchain prefix>/emulator).

    A destination already holding the pinned files is left as it is. ``pip=False`` skips
    the tinygrad install (tests).
    """
    say = log or (lambda m: None)
    dest = Path(dest or default_dir()).expanduser().resolve()
    if dest.is_dir() and not verify(dest):
        say(f"emulator files up to date in {dest}")
    else:
        if from_dir is not None:
            src = Path(from_dir).expanduser().resolve()
            blobs, origin = _read_dir(src), str(src)
        else:
            blobs, origin = _fetch_all(fetch or _http_get), f"github.com/tinygrad/tinygrad@{TINYGRAD_COMMIT[:12]}"
        _check_hashes(blobs, origin)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, data in blobs.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        for rel in PACKAGE_INITS:
            (tmp / rel).touch()
        if from_dir is not None and (Path(from_dir) / "LICENSE").is_file():
            shutil.copyfile(Path(from_dir) / "LICENSE", tmp / "LICENSE")
        meta = {"commit": TINYGRAD_COMMIT, "files": FILES, "origin": origin, "tinygrad": TINYGRAD_VERSION,
                "installed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        (tmp / MARKER).write_text(json.dumps(meta, indent=1) + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        say(f"emulator files (tinygrad {TINYGRAD_COMMIT[:12]}) from {origin} -> {dest}")
    if pip:
        say(f"tinygrad {pip_install_tinygrad(run)}")
    return Emulator(dest, "toolchain", True)


def install_for_cli(prefix: Path, from_dir: Path | None, fail: Callable[..., Exception] | None = None,
                    code: int = 3) -> str:
    """`hktune toolchain install --emulator [--emulator-from DIR]`: install into <prefix>/emulator;
    returns the line to print. A failure raises ``fail(message, code)`` (the CLI's one-line
    error) or, without ``fail``, EmulatorMissing."""
    try:
        emu = install(Path(prefix) / "emulator", from_dir, log=lambda m: print(m, file=sys.stderr))
    except EmulatorMissing as e:
        if fail is None:
            raise
        raise fail(str(e), code) from None
    return f"AMD ISA emulator ready: tinygrad {TINYGRAD_VERSION} + test files at {TINYGRAD_COMMIT[:12]} in {emu.root}"
