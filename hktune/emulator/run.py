"""Parent side: run one code object in the emulator child with a timeout.

``emulate(code_object, config, arch, m, n, k, timeout_s)`` starts ``python -m
hktune.emulator.launch`` in its own process group, kills the group on timeout, and turns a
crash (a too-small LDS, an unimplemented instruction, a segfault) into a failed result::

    {"ok": bool, "error": float|None, "bad_elements": int|None, "seconds": float|None,
     "reason": str|None, ...}

The child's environment: ``CACHEDB`` pointing at hktune's own tinygrad compile cache (two
tinygrad versions sharing one database corrupt it), and ``CC`` a clang for tinygrad's CPU
backend (the emulator compiles one small C function per instruction): $CC, else ``clang`` on
PATH, else the portable toolchain's ``zig clang`` through a one-line shim.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

from hktune import proc
from hktune.build import toolchain
from hktune.emulator import abi
from hktune.emulator.locate import TINYGRAD_VERSION, EmulatorMissing, find
from hktune.space.space import Space

DEFAULT_TIMEOUT_S = 1800.0


def cache_root() -> Path:
    """hktune's emulator cache: $HKTUNE_EMULATOR_CACHE, else <XDG cache>/hktune/emulator."""
    env = os.environ.get("HKTUNE_EMULATOR_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hktune" / "emulator"


def cachedb() -> Path:
    """tinygrad's compile cache for hktune's emulator runs (one file per tinygrad version)."""
    return cache_root() / f"tinygrad-{TINYGRAD_VERSION}-cache.db"


def host_cc() -> str:
    """A clang for tinygrad's CPU backend (it passes --target=...-none-unknown-elf: gcc will not do)."""
    env = os.environ.get("CC")
    if env and "clang" in Path(env).name:
        return env
    exe = shutil.which("clang")
    if exe:
        return exe
    tc = toolchain.find()
    if tc is None or tc.kind != "portable":
        raise EmulatorMissing("the emulator needs clang for tinygrad's CPU backend: install clang, set CC, "
                              "or run `hktune toolchain install`")
    shim = cache_root() / "bin" / "clang"
    text = f'#!/bin/sh\nexec "{tc.clang[0]}" clang "$@"\n'
    if not shim.is_file() or shim.read_text() != text:
        shim.parent.mkdir(parents=True, exist_ok=True)
        tmp = shim.with_suffix(f".{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, shim)
    return str(shim)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_parent = str(Path(__file__).resolve().parents[2])  # so the child imports this hktune
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    db = cachedb()
    db.parent.mkdir(parents=True, exist_ok=True)
    env["CACHEDB"] = str(db)
    env["CC"] = host_cc()
    for var in ("DEBUG", "PROFILE", "VIZ"):  # tinygrad switches that would slow or pollute the run
        env.pop(var, None)
    return env


def launch_for(config: Mapping[str, int], space: Space, m: int, n: int) -> abi.Launch:
    """The family's launch for a config (its derived values from the target's space when absent)."""
    defines = dict(config)
    if "LDS_BYTES" not in defines or "THREADS" not in defines:
        defines = {**space.defines({p: config[p] for p in space.names}), **defines}
    return abi.hipkittens_launch(defines, m, n)


def run_child(request: dict, timeout_s: float) -> dict:
    """Run the launcher with a JSON request; any failure is a result with ok False and a reason."""
    t0 = time.perf_counter()
    try:
        p = proc.run([sys.executable, "-m", "hktune.emulator.launch"], timeout_s, input=json.dumps(request),
                     errors="replace", env=child_env())
    except OSError as e:
        return {"ok": False, "error": None, "bad_elements": None, "seconds": None, "reason": f"cannot start the emulator: {e}"}
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": None, "bad_elements": None, "seconds": time.perf_counter() - t0,
                "reason": f"timed out after {timeout_s:g} s"}
    wall = time.perf_counter() - t0
    out, err = p.stdout, p.stderr
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if p.returncode == 0 and lines:
        res = json.loads(lines[-1])
        res["wall_s"] = wall
        return res
    if p.returncode < 0:
        # the emulator does not bounds-check LDS or global addresses: a kernel that writes past
        # its LDS allocation or to a wild pointer corrupts the child's memory and kills it
        why = f"emulator crashed ({signal.Signals(-p.returncode).name}; e.g. an LDS or global access outside the buffers)"
    else:
        why = f"emulator exited with code {p.returncode}"
    tail = [ln.strip() for ln in err.splitlines() if ln.strip()]
    return {"ok": False, "error": None, "bad_elements": None, "seconds": wall,
            "reason": why + (f": {tail[-1][:300]}" if tail else "")}


def emulate(code_object: str | Path, config: Mapping[str, int], space: Space, m: int, n: int, k: int,
            timeout_s: float = DEFAULT_TIMEOUT_S, *, seed: int = 0, kernel: str | None = None,
            lds_bytes: int | None = None, num_xcds: int = abi.DEFAULT_XCDS, dtype: str = "bf16") -> dict:
    """Run the family's GEMM kernel in `code_object` at M x N x K in the emulator and check C
    (``space``: the target's space, for the config's derived values).

    Raises EmulatorMissing when the emulator (or tinygrad, or a clang for it) is not installed;
    everything that goes wrong in the run itself is a result with ok False and a reason.
    ``lds_bytes`` overrides the config's LDS_BYTES (tests: a too-small LDS crashes the child);
    ``num_xcds`` is the XCD count the host would pass (8: MI300X/MI355X; 6: MI300A; 4: MI308X).
    ``dtype`` (hktune.dtypes) makes the inputs, the reference and the bounds; a scaled dtype's
    extra operands (its per-tensor scales) are passed after C, as the host code does.
    """
    emu = find()
    launch = launch_for(config, space, m, n)
    if lds_bytes is not None:
        launch = abi.Launch(launch.grid, launch.block, int(lds_bytes))
    req = {"code_object": str(Path(code_object).resolve()), "kernel": kernel, "m": m, "n": n, "k": k, "seed": seed,
           "launch": {"grid": list(launch.grid), "block": list(launch.block), "lds_bytes": launch.lds_bytes},
           "emulator_root": str(emu.root), "emu_arch": "cdna", "num_xcds": int(num_xcds), "dtype": dtype}
    res = run_child(req, timeout_s)
    res.setdefault("shape", [m, n, k])
    res.setdefault("blocks", launch.blocks)
    return res
