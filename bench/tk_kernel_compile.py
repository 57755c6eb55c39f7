"""Compile one thunderkittens config with nvcc for bench/tk_kernel_check.py, with the argv
hktune's nvcc plug-in builds; ptxas registers / spills and seconds recorded."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from tk_kernel_space import FAMILY_DIR


def nvcc_path():
    return os.environ.get("HKTUNE_NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"


def compile_one(name, defines, fam, tk_root, outdir, timeout):
    # the same argv as hktune/compilers/nvcc.py builds
    flags = list(fam.get("flags", [])) + list(fam["archs"]["sm_90"].get("flags", []))
    so = Path(outdir) / f"{name}.so"
    src = FAMILY_DIR / fam["archs"]["sm_90"]["source"]
    cmd = ([nvcc_path()] + flags + ["-shared", "-Xcompiler=-fPIC", "-Xptxas=-v"]
           + [f"-D{k}={v}" for k, v in defines.items()]
           + [f"-I{tk_root / 'include'}", f"-I{tk_root / 'prototype'}"]
           + ["-o", str(so), str(src)])
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        ok, out = p.returncode == 0, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        ok, out = False, f"TIMEOUT after {timeout}s"
    except OSError as e:
        ok, out = False, f"could not run nvcc: {e}"
    secs = time.time() - t0
    log = " ".join(cmd) + "\n" + out
    regs = re.search(r"Used (\d+) registers", log)
    sp = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return dict(name=name, ok=ok, so=str(so), secs=round(secs, 1), log=log,
                regs=int(regs.group(1)) if regs else None,
                spills=int(sp.group(2)) + int(sp.group(3)) if sp else None)
