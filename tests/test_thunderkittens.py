"""The thunderkittens family compiles for sm_90a with nvcc against a ThunderKittens checkout
(compile only: no GPU here). CI points HKTUNE_TEST_TK at ../shared/thirdparty/thunderkittens."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hktune.build.builder import Builder
from hktune.family.family import load_family
from hktune.target import make_target

ROOT = Path(__file__).resolve().parent.parent
TK = os.environ.get("HKTUNE_TEST_TK")
needs_tk = pytest.mark.skipif(not TK or shutil.which("nvcc") is None,
                              reason="needs HKTUNE_TEST_TK (a ThunderKittens checkout) and nvcc")


@needs_tk
def test_seeds_compile_with_wgmma_and_no_spills(tmp_path: Path):
    fam = load_family(ROOT / "kernels" / "thunderkittens")
    space = fam.space("sm_90")
    seeds = [{k: int(v) for k, v in s.items() if k in space.names} for s in space.seeds]
    assert len(seeds) >= 3
    with Builder(make_target(fam, "sm_90", space, include_dirs=fam.include_dirs("sm_90", {"thunderkittens": TK})),
                 jobs=2, cache=tmp_path / "cache") as b:
        outcomes = list(b.build_many(seeds[:2]))
    for o in outcomes:
        assert o.ok, o.log_tail()
        assert o.reason is None, o.reason                     # no spills: not pruned
        assert int(o.resources.get("registers") or 0) > 0
        ptx = list((o.artifact.parent).glob("*.ptx"))
        if ptx:
            assert "wgmma" in ptx[0].read_text()


@needs_tk
def test_compile_command_names_the_tree_and_refuses_a_missing_one(tmp_path: Path):
    env = {**os.environ, "HKTUNE_CACHE_DIR": str(tmp_path / "c")}
    env.pop("THUNDERKITTENS_ROOT", None)
    r = subprocess.run([sys.executable, "-m", "hktune", "compile", "--arch", "sm_90", "--family", "thunderkittens",
                        "--all", "--limit", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "needs a ThunderKittens checkout: pass --tk-root DIR" in r.stderr
    r = subprocess.run([sys.executable, "-m", "hktune", "compile", "--arch", "sm_90", "--family", "thunderkittens",
                        "--tk-root", str(tmp_path), "--all", "--limit", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "is not a ThunderKittens checkout" in r.stderr
