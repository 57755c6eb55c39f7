"""Shared by the thunderkittens tests: build configs of a schedule space at the 168-register launch cap, and read the
PTX of a build (the build keeps only the library and its build.log, so the PTX is compiled again from that command)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hktune.build.builder import Builder
from hktune.target import make_target

TK = os.environ.get("HKTUNE_TEST_TK")
needs_tk = pytest.mark.skipif(not TK or shutil.which("nvcc") is None,
                              reason="needs HKTUNE_TEST_TK (a ThunderKittens checkout) and nvcc")


def build_at_the_launch_cap(fam, space, configs: list[dict], tmp_path: Path, dtype: str = "bf16") -> list:  # noqa: ANN001
    """Build valid configs of a schedule space; each must compile with no spill at the 168-register cap a
    384-thread block has. Returns the outcomes in the configs' order."""
    for c in configs:
        assert not space.violations(c), space.violations(c)
    target = make_target(fam, "sm_90", space, dtype=dtype, include_dirs=fam.include_dirs("sm_90", {"thunderkittens": TK}))
    with Builder(target, jobs=2, cache=tmp_path / "cache") as b:
        outcomes = {tuple(sorted(o.config.items())): o for o in b.build_many(configs)}
    ordered = [outcomes[tuple(sorted(c.items()))] for c in configs]
    for o in ordered:
        assert o.ok, o.log_tail()
        assert o.reason is None and o.resources.get("spills", 0) == 0, o.reason      # no spills
        assert int(o.resources.get("registers") or 0) == 168         # 384 threads: the launch cap
    return ordered


def nvcc_argv(o) -> list[str]:   # noqa: ANN001 - a BuildOutcome
    """The nvcc command a build ran (the first line of its build.log)."""
    return (o.artifact.parent / "build.log").read_text().splitlines()[0].split()


def ptx_argv(argv: list[str], tmp_path: Path) -> list[str]:
    """That command writing the PTX to tmp_path/k.ptx instead of the library."""
    argv = list(argv)
    out = argv.index("-o")
    argv[out:out + 2] = ["-ptx", "-o", str(tmp_path / "k.ptx")]
    return [a for a in argv if a not in ("-shared", "-Xptxas=-v")]


def ptx_of(argv: list[str], tmp_path: Path, extra: list[str]) -> str:
    """The PTX of a build's nvcc command with ``extra`` flags (e.g. -UPROMOTE -DPROMOTE=0)."""
    r = subprocess.run(ptx_argv(argv, tmp_path) + extra, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return (tmp_path / "k.ptx").read_text()
