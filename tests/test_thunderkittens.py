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
from hktune.space.space import load_space
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


SCHED_DEFAULTS = {"SCHED": 0, "WG_M": 64, "CLUSTER_M": 1, "CLUSTER_N": 1, "ORDER": 0, "MMA_LAG": 0}


def test_schedule_knobs_only_reach_the_hand_written_kernel():
    """SCHED=0 is TK's lcf kernel: the space never pairs it with a schedule knob (gemm.cu #errors),
    and every SCHED >= 1 config fits the shared memory sched.cuh asks for."""
    space = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    default = load_family(ROOT / "kernels" / "thunderkittens").space("sm_90").enumerate((8192, 8192, 8192))
    assert default and all(c["SCHED"] == 0 for c in default)  # opt-in until a GPU has run them
    valid = space.enumerate((8192, 8192, 8192))
    lcf = [c for c in valid if c["SCHED"] == 0]
    sched = [c for c in valid if c["SCHED"] > 0]
    assert lcf and sched
    assert all({k: c[k] for k in SCHED_DEFAULTS} == SCHED_DEFAULTS and c["EPILOGUE"] <= 1 for c in lcf)
    assert {c["SCHED"] for c in sched} == {1, 2} and {c["ORDER"] for c in sched} == {0, 1, 2}
    assert {c["MMA_LAG"] for c in sched} == {0, 1}
    assert {(c["CLUSTER_M"], c["CLUSTER_N"]) for c in sched} == {(1, 1), (2, 1), (1, 2)}
    assert all(c["PERSISTENT"] == 1 for c in sched)
    assert all(c["M_BLOCK"] == 2 for c in sched if c["SCHED"] == 2)
    for c in sched:
        d = space.defines(c)
        assert d["SMEM_BYTES"] <= 232448 - 1024
        assert d["ACC_REGS"] + 32 <= d["LAUNCH_REGS"]
    # a cluster pair needs an even number of tile rows (columns): 8192 has, 8192 + 128 has not
    pair = next(c for c in sched if c["CLUSTER_M"] == 2 and c["SCHED"] == 1 and c["WG_M"] == 64 and c["M_BLOCK"] == 2)
    assert not space.shape_violations(pair, 8192, 8192, 8192)
    assert space.shape_violations(pair, 8192 + 128, 8192, 8192)


@needs_tk
def test_schedule_knobs_compile_without_spills(tmp_path: Path):
    """A cluster pair with TMA multicast and the store drain (cooperative), and ping-pong consumers
    of 128 rows (two m64 wgmmas each, one k step kept in flight) in a cluster along N."""
    fam = load_family(ROOT / "kernels" / "thunderkittens")
    space = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    base = dict(space.seeds[0])
    configs = [dict(base, EPILOGUE=2, SCHED=1, CLUSTER_M=2, ORDER=2),
               dict(base, N_BLOCK=2, STAGES=6, EPILOGUE=2, SCHED=2, WG_M=128, CLUSTER_N=2, ORDER=1, MMA_LAG=1)]
    for c in configs:
        assert not space.violations(c), space.violations(c)
    with Builder(make_target(fam, "sm_90", space, include_dirs=fam.include_dirs("sm_90", {"thunderkittens": TK})),
                 jobs=2, cache=tmp_path / "cache") as b:
        outcomes = list(b.build_many(configs))
    for o in outcomes:
        assert o.ok, o.log_tail()
        assert o.reason is None, o.reason
        assert int(o.resources.get("registers") or 0) == 168        # 384 threads: the launch cap
