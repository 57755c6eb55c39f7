"""The fp8 wide tiles of the thunderkittens family: 128x144 (N_EXTRA 16: wgmma m64n144k32 e4m3 in
kernels/thunderkittens/wgmma_n144.cuh, 48-row Bt boxes, C in 64x48 TMA boxes) and 128x160 (N_EXTRA 32: ThunderKittens'
own m64n160k32, 80-row Bt boxes, C in 64x80 boxes), each with a partial last tile column, guarded register stores as the
other epilogue, alone or in a pair along M: legal only in those forms, and their kernels fit the 168-register cap
without spills."""
from __future__ import annotations

from pathlib import Path

import pytest

from hktune.family.family import load_family
from hktune.space.space import load_space
from tests.tk_build import build_at_the_launch_cap, needs_tk, nvcc_argv, ptx_of

ROOT = Path(__file__).resolve().parent.parent
N144 = dict(M_BLOCK=2, N_BLOCK=2, STAGES=6, SUPER_M=16, PERSISTENT=1, PRODUCER_REGS=40, CONSUMER_REGS=232, EPILOGUE=0,
            SCHED=1, WG_M=64, CLUSTER_M=1, CLUSTER_N=1, ORDER=1, MMA_LAG=0, SPLIT_K=1, PROMOTE=4, STREAM_K=0, N_EXTRA=16)
N144_E2 = dict(N144, EPILOGUE=2, STAGES=5)


def test_n144_is_opt_in_and_takes_n_past_whole_tiles():
    opt = load_space(ROOT / "bench" / "tk-n144-fp8.yaml", "sm_90")
    # bf16's family space offers N_EXTRA 16 / 32 as 256x144 / 128x160 only (tests/test_wide_bf16.py), never fp8's 128x144
    bf16 = load_space(ROOT / "configs" / "thunderkittens-sm_90.yaml", "sm_90")
    assert bf16.violations(dict(N144_E2, PROMOTE=0)) and bf16.violations(dict(N144_E2, PROMOTE=0, MMA_LAG=1))
    for path in ("bench/tk-sched.yaml", "bench/tk-sched-fp8.yaml"):
        space = load_space(ROOT / path, "sm_90")
        assert space.legacy["N_EXTRA"] == 0 and [p.values for p in space.params if p.name == "N_EXTRA"] == [[0]]
    # the fp8 family space offers it (sanitized and measured, bench/results/h100-2026-12-05c), its winners seeded first,
    # and 128x160 (N_EXTRA 32) in its sanitized form only (MMA_LAG 0, the store drained: bench/results/h100-2026-12-06)
    fam8 = load_space(ROOT / "configs" / "thunderkittens-sm_90-fp8_e4m3.yaml", "sm_90")
    assert fam8.legacy["N_EXTRA"] == 0 and [p.values for p in fam8.params if p.name == "N_EXTRA"] == [[0, 16, 32]]
    # (seeds[2]: the 128x144 form at EPILOGUE 3, tests/test_epilogue3.py)
    assert [sd["N_EXTRA"] for sd in fam8.seeds[2:8]] == [16, 16, 32, 16, 16, 16]
    for sd in fam8.seeds[2:8]:
        assert not fam8.violations(sd) and not fam8.shape_violations(sd, 4096, 14336, 4096), sd
    assert fam8.violations(dict(fam8.seeds[3], CLUSTER_N=2)) and fam8.violations(dict(fam8.seeds[3], CONSUMER_REGS=232))
    n160 = fam8.seeds[4]
    assert fam8.violations(dict(n160, MMA_LAG=2, PROMOTE=2)) and fam8.violations(dict(n160, STAGES=6))
    assert fam8.violations(dict(n160, STAGES=3))   # never sanitized
    assert not opt.violations(dict(n160, MMA_LAG=2, PROMOTE=2)) and not opt.violations(dict(n160, STAGES=6))
    assert {c["N_EXTRA"] for c in opt.enumerate((8192, 8192, 8192))} == {0, 16, 32}
    assert not opt.violations(N144)
    # N 8192 and 14336 are no multiple of 144: the last tile column is partial, which N_EXTRA allows
    assert not opt.shape_violations(N144, 8192, 8192, 8192) and not opt.shape_violations(N144, 4096, 14336, 4096)
    assert opt.shape_violations(N144, 8192, 8200, 8192)                       # N must stay a multiple of 16
    assert opt.shape_violations(dict(N144, N_EXTRA=0), 8192, 8200, 8192)
    # C in 64x48 TMA boxes (12 KB per consumer: 5 stages of 34 KB fit, 6 do not) and a pair sharing Bt are legal
    assert not opt.violations(N144_E2) and not opt.violations(dict(N144_E2, CLUSTER_M=2))
    # 6 stages fit with C in 64x16 boxes (4 KB per consumer): opt-in only, the family space keeps the 64x48 form
    assert not opt.violations(dict(N144_E2, STAGES=6)) and opt.defines(dict(N144_E2, STAGES=6))["SMEM_BYTES"] == 6 * 34816 + 8192 + 1024
    assert fam8.violations(dict(N144_E2, STAGES=6)) and not fam8.violations(dict(N144_E2, STAGES=6, EPILOGUE=0))
    assert opt.shape_violations(dict(N144_E2, CLUSTER_M=2), 384, 8192, 8192)    # M: whole 256-row cluster tiles
    for bad in (dict(N144, WG_M=128), dict(N144, CLUSTER_N=2), dict(N144, MMA_LAG=1),
                dict(N144, N_BLOCK=4), dict(N144, STREAM_K=1)):
        assert opt.violations(bad), bad              # outside the kernel's one form (or the space's values)


def test_n160_takes_its_own_boxes_and_registers():
    opt = load_space(ROOT / "bench" / "tk-n144-fp8.yaml", "sm_90")
    n160 = dict(N144_E2, N_EXTRA=32)
    # 36 KB stages (16 KB of A, 20 KB of Bt): 5 fit beside two 64x80 C boxes per consumer (20 KB), 6 only with 64x16 ones
    assert not opt.violations(n160) and opt.defines(n160)["CBOX"] == 80
    assert opt.defines(n160)["SMEM_BYTES"] == 5 * 36864 + 2 * 20480 + 1024
    assert opt.defines(dict(n160, STAGES=6))["CBOX"] == 16
    assert opt.defines(dict(n160, STAGES=6))["SMEM_BYTES"] == 6 * 36864 + 2 * 4096 + 1024 <= 231424 - 1024
    assert opt.defines(N144_E2)["CBOX"] == 48 and opt.defines(dict(N144_E2, N_EXTRA=0))["CBOX"] == 64
    # an accumulator and its partial: 2 x 80 + 24 registers fit 232; with MMA_LAG 1's second partial (264) nothing fits
    assert opt.violations(dict(n160, MMA_LAG=1, PRODUCER_REGS=24, CONSUMER_REGS=240))
    assert opt.violations(dict(n160, WG_M=128, PRODUCER_REGS=24, CONSUMER_REGS=240))
    # 4096x14336x4096: 90 columns of 160 (the last 96 wide) x 32 rows = 2880 tiles, 22 rounds of 132 at 99%
    assert not opt.shape_violations(n160, 4096, 14336, 4096) and not opt.shape_violations(n160, 8192, 8192, 8192)


@needs_tk
def test_n144_kernels_compile_without_spills_with_the_n144_wgmma(tmp_path: Path):
    fam = load_family(ROOT / "kernels" / "thunderkittens").for_dtype("fp8_e4m3")
    space = load_space(ROOT / "bench" / "tk-n144-fp8.yaml", "sm_90")
    # + 6 stages with the store drain: C in 64x16 boxes (two 64x48 per consumer do not fit beside the 204 KB ring)
    configs = [N144, dict(N144, MMA_LAG=2), dict(N144_E2, CLUSTER_M=2, MMA_LAG=2), dict(N144_E2, STAGES=6)]
    # 128x160: 5 stages (64x80 C boxes), 6 (64x16), a pair along M at MMA_LAG 2
    n160 = [dict(N144_E2, N_EXTRA=32), dict(N144_E2, N_EXTRA=32, STAGES=6),
            dict(N144_E2, N_EXTRA=32, CLUSTER_M=2, MMA_LAG=2, PROMOTE=2)]
    outcomes = build_at_the_launch_cap(fam, space, configs + n160, tmp_path, "fp8_e4m3")
    for o in outcomes:
        wgmma = "m64n144k32" if o.config["N_EXTRA"] == 16 else "m64n160k32"
        assert f"{wgmma}.f32.e4m3.e4m3" in ptx_of(nvcc_argv(o), tmp_path, [])
