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
from tests.tk_build import build_at_the_launch_cap, needs_tk

ROOT = Path(__file__).resolve().parent.parent
TK = os.environ.get("HKTUNE_TEST_TK")


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
    # the family space holds what the H200 screen of 2026-12-05 verified and kept (the cooperative
    # schedule kernel with the store drain, 128-row consumers, N pairs, column order, a k step in
    # flight); ping-pong, M pairs, ORDER 2 and split-K stay opt-in (bench/tk-sched.yaml)
    assert {c["SCHED"] for c in default} == {0, 1}
    # (EPILOGUE 3: the store drain with the epilogue under the next tile's first k step)
    assert all(c["M_BLOCK"] == 2 and c["EPILOGUE"] in (2, 3) for c in default if c["SCHED"] == 1)
    assert {c["WG_M"] for c in default} == {64, 128} and {c["CLUSTER_N"] for c in default} == {1, 2}
    assert all(c["CLUSTER_M"] == 1 and c["SPLIT_K"] == 1 and c["ORDER"] < 2 for c in default)
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
    build_at_the_launch_cap(fam, space, configs, tmp_path)


def test_split_k_is_opt_in_legal_per_shape_and_learnt_by_the_prior():
    """SPLIT_K > 1 only in bench/tk-sched.yaml and only with sched.cuh; a slice is whole k steps and
    fills the ring; the prior charges the fixup but wants the units when the tiles cannot fill the
    SMs."""
    from hktune.space.prior import estimate

    default = load_family(ROOT / "kernels" / "thunderkittens").space("sm_90")
    assert default.legacy["SPLIT_K"] == 1
    assert {c["SPLIT_K"] for c in default.enumerate((16384, 8192, 1024))} == {1}
    space = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    valid = space.enumerate((4096, 14336, 4096))
    assert {c["SPLIT_K"] for c in valid} == {1, 2, 4}
    assert all(c["SCHED"] > 0 for c in valid if c["SPLIT_K"] > 1)
    c4 = dict(space.seeds[0], EPILOGUE=2, SCHED=1, CLUSTER_M=2, SPLIT_K=4)     # STAGES=4
    assert not space.violations(c4)
    assert not space.shape_violations(c4, 4096, 4096, 1024)                 # 4 slices of 4 k steps
    assert space.shape_violations(c4, 4096, 4096, 768)                      # 3 k steps < STAGES
    assert space.shape_violations(c4, 4096, 4096, 64 * 18)                  # 18 k steps: not 4 slices
    ks = [dict(c4, SPLIT_K=k) for k in (1, 2, 4)]
    few = estimate(space, ks, (1024, 1024, 16384))        # 16 cluster tiles on 132 SMs
    many = estimate(space, ks, (8192, 8192, 8192))        # 1024 tiles: nothing to gain, fixup to pay
    assert few[0] < few[1] < few[2] and many[0] > many[1] > many[2]


@needs_tk
def test_split_k_compiles_without_spills(tmp_path: Path):
    """The fixup path of a cluster pair (cooperative, store drain, a k step in flight) at SPLIT_K=2
    and of ping-pong consumers of 128 rows (two m64 halves each) at SPLIT_K=4, at the 168-register
    launch cap of 384 threads; the library reports the knob."""
    fam = load_family(ROOT / "kernels" / "thunderkittens")
    space = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    base = dict(space.seeds[0])
    configs = [dict(base, EPILOGUE=2, SCHED=1, CLUSTER_M=2, MMA_LAG=1, SPLIT_K=2),
               dict(base, N_BLOCK=2, STAGES=6, EPILOGUE=2, SCHED=2, WG_M=128, MMA_LAG=1, SPLIT_K=4)]
    for o in build_at_the_launch_cap(fam, space, configs, tmp_path):
        assert f"SPLIT_K={o.config['SPLIT_K']}" in (o.artifact.parent / "build.log").read_text()


def _unique_symbols(lib: Path) -> list[str]:
    """GNU-unique dynamic symbols of the template's own code (std's constant tables aside)."""
    out = subprocess.run(["nm", "-D", "-C", str(lib)], capture_output=True, text=True, check=True).stdout
    return [ln for ln in out.splitlines() if " u " in ln and "std::" not in ln]


@needs_tk
@pytest.mark.skipif(shutil.which("nm") is None, reason="needs binutils' nm")
def test_libraries_of_one_worker_share_no_state(tmp_path: Path):
    """A search loads many configs' libraries into one worker process. A function-local static of
    an inline function is a GNU-unique symbol, which the dynamic linker shares between them even
    under RTLD_LOCAL: sched.cuh's launch state once leaked from the first SCHED 1 library into the
    next (cudaFuncSetAttribute skipped, launch error 1 for 15 of 22 such trials on the H200,
    2026-12-05). Every library exports none of its own."""
    fam = load_family(ROOT / "kernels" / "thunderkittens")
    space = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    base = dict(space.seeds[0])
    configs = [base, dict(base, EPILOGUE=2, SCHED=1, CLUSTER_N=2, MMA_LAG=1, SPLIT_K=2)]
    for o in build_at_the_launch_cap(fam, space, configs, tmp_path):
        assert _unique_symbols(o.artifact) == [], o.config


@needs_tk
def test_an_old_table_reads_with_the_legacy_values(tmp_path: Path):
    """A real table stored before the schedule knobs and SPLIT_K (2026-12-01): the sweep gets past
    its configs (then finds no GPU here); a config missing a param without a legacy value is
    refused in one line."""
    import torch
    import yaml

    if torch.cuda.is_available():
        pytest.skip("on a GPU machine the sweep would really run")
    src = ROOT / "bench" / "results" / "tk-tune-h200-2026-12-01-final" / "sm_90.yaml"
    doc = yaml.safe_load(src.read_text())
    assert all("SCHED" not in e["config"] and "SPLIT_K" not in e["config"] for e in doc["entries"])
    table = tmp_path / "old.yaml"
    table.write_text(src.read_text())
    env = {**os.environ, "HKTUNE_CACHE_DIR": str(tmp_path / "c")}
    argv = [sys.executable, "-m", "hktune", "sweep", "--table", str(table), "--tk-root", TK]
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 3, r.stderr
    assert "every selected entry was skipped: --arch sm_90 needs an NVIDIA GPU" in r.stderr
    assert "invalid" not in r.stderr + r.stdout and table.read_text() == src.read_text()
    del doc["entries"][0]["config"]["EPILOGUE"]
    table.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1, r.stderr
    bad = [ln for ln in r.stderr.splitlines() if ": invalid: " in ln]
    assert len(bad) == 1 and "missing EPILOGUE (no legacy value declared)" in bad[0], r.stderr
    assert "FAIL: 1 invalid, 6 skipped" in r.stderr
    # bench --table and --config refuse it too, in one line, before compiling anything
    doc["entries"] = doc["entries"][:1]
    table.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = subprocess.run([sys.executable, "-m", "hktune", "bench", "--table", str(table), "--tk-root", TK],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "1024x8192x8192: config is not valid in thunderkittens-sm_90.yaml: missing parameter(s) EPILOGUE" in r.stderr
    cfg = ",".join(f"{k}={v}" for k, v in doc["entries"][0]["config"].items())
    r = subprocess.run([sys.executable, "-m", "hktune", "compile", "--arch", "sm_90", "--family", "thunderkittens",
                        "--tk-root", TK, "--config", cfg], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "missing parameter(s) EPILOGUE" in r.stderr and r.stderr.count("\n") == 1
    # compile --space: an opt-in space's knobs (SPLIT_K 1/2/4); its values are checked there
    cfg += ",EPILOGUE=2,SCHED=1,SPLIT_K=3"
    r = subprocess.run([sys.executable, "-m", "hktune", "compile", "--arch", "sm_90", "--family", "thunderkittens",
                        "--tk-root", TK, "--space", str(ROOT / "bench" / "tk-sched.yaml"), "--config", cfg],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "tk-sched.yaml: SPLIT_K=3 not in [1, 2, 4]" in r.stderr, r.stderr


def test_fp8_takes_the_schedule_knobs_from_its_opt_in_space():
    """fp8_e4m3 is gemm.cu -DHKT_FP8 (sched.cuh included): its default space takes the schedule knobs'
    values a GPU verified for fp8 (SCHED 0 and 1, no ping-pong, split-K or clusters along M; the same
    legacy map for stored tables), bench/tk-sched-fp8.yaml offers the bf16 opt-in space's values, with
    128-deep k steps in the shape constraints and the prior."""
    from hktune.space.prior import estimate

    fp8 = load_family(ROOT / "kernels" / "thunderkittens").for_dtype("fp8_e4m3")
    assert fp8.arch("sm_90").source.name == "gemm.cu" and "-DHKT_FP8" in fp8.flags_for("sm_90")
    default, opt = fp8.space("sm_90"), load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    bf16 = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    assert default.legacy == bf16.legacy
    offered = default.enumerate((4096, 4096, 4096))
    assert {c["SCHED"] for c in offered} == {0, 1} and {c["SPLIT_K"] for c in offered} == {1}
    assert {c["CLUSTER_M"] for c in offered} == {1} and {c["ORDER"] for c in offered} == {0, 1}
    assert all(c["PROMOTE"] > 0 for c in offered)                 # K 4096: unpromoted fp8 fails the bound
    opt_values = {p.name: p.values for p in opt.params}
    # a subset of the opt-in, but for the 144-column tiles, whose opt-in space is bench/tk-n144-fp8.yaml
    assert all(set(p.values) <= set(opt_values[p.name]) for p in default.params if p.name != "N_EXTRA")
    n144 = {p.name: p.values for p in load_space(ROOT / "bench" / "tk-n144-fp8.yaml", "sm_90").params}
    assert {p.name: p.values for p in default.params}["N_EXTRA"] == [0, 16, 32] and n144["N_EXTRA"] == [0, 16, 32]
    fp8_values = {p.name: p.values for p in opt.params}
    assert fp8_values.pop("PROMOTE") == [0, 1, 2, 4]            # sched.cuh promotes fp8 (SCHED 0, 1), intervals 1-4
    assert fp8_values.pop("MMA_LAG") == [0, 1, 2]               # 2: a promotion group chained (fp8 only)
    assert list(fp8_values.items()) == [(p.name, p.values) for p in bf16.params if p.name not in ("PROMOTE", "MMA_LAG")]
    assert {p.name: p.values for p in bf16.params}["MMA_LAG"] == [0, 1]
    valid = opt.enumerate((4096, 14336, 2048))                  # K <= 2048: unpromoted fp8 allowed
    assert {c["SCHED"] for c in valid} == {0, 1, 2} and {c["SPLIT_K"] for c in valid} == {1, 2, 4}
    c4 = dict(opt.seeds[0], EPILOGUE=2, SCHED=1, CLUSTER_M=2, SPLIT_K=4)     # STAGES=4
    assert not opt.violations(c4) and not opt.shape_violations(c4, 4096, 4096, 2048)   # 4 slices of 4 k steps
    assert opt.shape_violations(c4, 4096, 4096, 1024)                        # 2 k steps of 128 < STAGES
    assert opt.shape_violations(dict(c4, SPLIT_K=1), 4096, 4096, 64 * 3)     # K not whole 128-deep steps
    ks = [dict(c4, SPLIT_K=k) for k in (1, 2, 4)]
    few = estimate(opt, ks, (1024, 1024, 16384))
    assert few[0] < few[1] < few[2]


@needs_tk
def test_fp8_schedule_knobs_compile_without_spills_to_e4m3_wgmma(tmp_path: Path):
    """sched.cuh with fp8 tiles: a cluster pair (cooperative, store drain, serpentine), ping-pong
    consumers of 128 rows in a cluster along N with a k step in flight, and the split-K fixup of both
    (SPLIT_K 2 and 4) compile at the 168-register launch cap without spills; the ping-pong split-K
    kernel's PTX issues wgmma k32 e4m3 (two m64 halves x four per 128-deep k step)."""
    fam = load_family(ROOT / "kernels" / "thunderkittens").for_dtype("fp8_e4m3")
    space = load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    base = dict(space.seeds[0])
    configs = [dict(base, EPILOGUE=2, SCHED=1, CLUSTER_M=2, ORDER=2),
               dict(base, N_BLOCK=2, STAGES=6, EPILOGUE=2, SCHED=2, WG_M=128, CLUSTER_N=2, ORDER=1, MMA_LAG=1),
               dict(base, EPILOGUE=2, SCHED=1, CLUSTER_M=2, MMA_LAG=1, SPLIT_K=2),
               dict(base, N_BLOCK=2, STAGES=6, EPILOGUE=2, SCHED=2, WG_M=128, MMA_LAG=1, SPLIT_K=4)]
    outcomes = build_at_the_launch_cap(fam, space, configs, tmp_path)
    argv = (outcomes[-1].artifact.parent / "build.log").read_text().splitlines()[0].split()   # the nvcc command
    assert "-DHKT_FP8" in argv and "-DSCHED=2" in argv and "-DSPLIT_K=4" in argv
    out = argv.index("-o")
    argv[out:out + 2] = ["-ptx", "-o", str(tmp_path / "k.ptx")]
    argv = [a for a in argv if a not in ("-shared", "-Xptxas=-v")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ptx = (tmp_path / "k.ptx").read_text()
    assert ptx.count("wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3") == 8     # no bf16 wgmma left
    assert "k16.f32.bf16" not in ptx
