"""Load a linked library with dlopen (ctypes) in a child process and call its entry point.

With hktune's Debian runtime (hiplink.runtime) the child is started through that sysroot's
dynamic loader (``ld-linux-x86-64.so.2 --library-path SYSROOT python probe_child.py ...``),
because the runtime needs a newer glibc than Debian 12's; with ROCm, by the plain interpreter
with ROCm's lib/ on LD_LIBRARY_PATH. A crash in the child is a failed check, never hktune's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hktune import proc
from hktune.build.hiplink.runtime import Runtime

CHILD = Path(__file__).with_name("probe_child.py")
EXPECT_BAD_ARGS = 1  # hktune_gemm: a null pointer or an illegal shape
EXPECT_NO_DEVICE = 2  # hktune_gemm: a HIP call failed (hipGetDevice: no device)


def argv_env(so: Path, shape: tuple[int, int, int], rt: Runtime | None, rocm: Path | None) -> tuple[list[str], dict]:
    """The child's command line and environment."""
    child = [sys.executable, str(CHILD), str(so), *map(str, shape)]
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    if rt is not None:
        return [str(rt.loader), "--library-path", str(rt.libdir), *child], env
    if rocm is not None:
        env["LD_LIBRARY_PATH"] = str(rocm / "lib")
    return child, env


def verdict(res: dict, expect_config: str) -> tuple[bool, str]:
    """(clean, one line) from the child's JSON."""
    if res.get("config") != expect_config:
        return False, f"hktune_config() = {res.get('config')!r}, expected {expect_config!r}"
    if res.get("bad_args") != EXPECT_BAD_ARGS:
        return False, f"hktune_gemm(NULL, ...) returned {res.get('bad_args')}, expected {EXPECT_BAD_ARGS}"
    if res.get("devices", 0) > 0:
        return True, f"dlopen ok; {res['devices']} device(s): hktune_gemm not called with host buffers"
    if res.get("no_device") != EXPECT_NO_DEVICE:
        return False, f"hktune_gemm with no device returned {res.get('no_device')}, expected {EXPECT_NO_DEVICE}"
    return True, (f"dlopen ok; hktune_config() matches; hipGetDeviceCount -> {res['hipGetDeviceCount']}; "
                  f"hktune_gemm -> {EXPECT_BAD_ARGS} on null pointers, {EXPECT_NO_DEVICE} with no device "
                  f"(hipGetLastError {res.get('hipGetLastError')})")


def dlopen_check(so: Path, shape: tuple[int, int, int], expect_config: str, rt: Runtime | None,
                 rocm: Path | None = None, timeout: float = 120.0) -> tuple[bool, str, dict]:
    """(clean, one line, the child's JSON or {})."""
    argv, env = argv_env(so, shape, rt, rocm)
    try:
        p = proc.run(argv, timeout, env=env)
    except subprocess.TimeoutExpired:
        return False, f"dlopen check timed out after {timeout:g} s", {}
    except OSError as e:
        return False, f"dlopen check could not start: {e}", {}
    if p.returncode != 0:
        tail = [ln for ln in (p.stderr or "").strip().splitlines() if ln.strip()]
        return False, f"dlopen check failed (exit {p.returncode}): {tail[-1] if tail else 'no output'}", {}
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return False, f"dlopen check printed no result: {p.stdout[-200:]!r}", {}
    ok, line = verdict(res, expect_config)
    return ok, line, res


__all__ = ["dlopen_check", "verdict", "argv_env", "EXPECT_BAD_ARGS", "EXPECT_NO_DEVICE"]
