"""The bf16 wide tiles of the thunderkittens family (bench/tk-wide-bf16.yaml: N_EXTRA 16 / 32 at bf16 with
ThunderKittens' own wgmma n144 / n160, 256x160, 128x160, 256x144): legal only in their forms, the family space keeps
N_EXTRA 0, 256x144 and 128x160, and the kernels fit the 168-register launch cap without spills with the wide wgmma in the PTX."""
from __future__ import annotations

from pathlib import Path

import pytest

from hktune.family.family import load_family
from hktune.space.space import load_space
from tests.tk_build import build_at_the_launch_cap, needs_tk, nvcc_argv, ptx_of

ROOT = Path(__file__).resolve().parent.parent
W256 = dict(M_BLOCK=2, N_BLOCK=2, STAGES=3, SUPER_M=8, PERSISTENT=1, PRODUCER_REGS=40, CONSUMER_REGS=232, EPILOGUE=2,
            SCHED=1, WG_M=128, CLUSTER_M=1, CLUSTER_N=1, ORDER=0, MMA_LAG=1, SPLIT_K=1, PROMOTE=0, STREAM_K=0, N_EXTRA=32)


def test_wide_bf16_tiles_are_opt_in_and_take_their_own_boxes():
    wide = load_space(ROOT / "bench" / "tk-wide-bf16.yaml", "sm_90")
    fam = load_space(ROOT / "configs" / "thunderkittens-sm_90.yaml", "sm_90")
    # the family space offers 256x144 (4 stages) and 128x160 (5 stages) in their sanitized forms only (MMA_LAG 1)
    assert [p.values for p in fam.params if p.name == "N_EXTRA"] == [[0, 16, 32]] and fam.violations(W256)
    w144, w160 = dict(W256, N_EXTRA=16, STAGES=4), dict(W256, WG_M=64, STAGES=5)
    for good in (w144, w160):
        assert not fam.violations(good) and fam.defines(good) == wide.defines(good), good
        assert good in fam.seeds[3:5]
    for bad in (dict(w144, STAGES=3), dict(w144, MMA_LAG=0), dict(w144, WG_M=64, STAGES=4), dict(w160, STAGES=4),
                dict(w160, N_EXTRA=16), dict(w160, MMA_LAG=0)):
        assert fam.violations(bad) and not wide.violations(bad), bad
    assert {c["N_EXTRA"] for c in wide.enumerate((4096, 14336, 4096))} == {0, 16, 32}
    # 52 KB stages (32 KB of A, 20 KB of Bt): 3 fit beside two 64x80 C boxes per consumer, 4 only with 64x16 ones
    assert not wide.violations(W256) and wide.defines(W256)["CBOX"] == 80
    assert wide.defines(W256)["SMEM_BYTES"] == 3 * 53248 + 2 * 20480 + 1024
    assert wide.defines(dict(W256, STAGES=4))["CBOX"] == 16 and not wide.violations(dict(W256, STAGES=4))
    assert wide.violations(dict(W256, STAGES=5))                                        # 266 KB: no room
    assert wide.defines(dict(W256, N_EXTRA=16, STAGES=4))["CBOX"] == 48
    # N need only be a multiple of 16: 14336 = 89 tiles of 160 + 96 columns
    assert not wide.shape_violations(W256, 4096, 14336, 4096) and wide.shape_violations(W256, 4096, 14344, 4096)
    assert wide.shape_violations(dict(W256, N_EXTRA=0), 4096, 14336 + 64, 4096)
    for bad in (dict(W256, CLUSTER_N=2), dict(W256, N_BLOCK=4)):
        assert wide.violations(bad), bad
    # a config both spaces offer reaches nvcc with the same values (the opt-in space extends the family's)
    assert fam.defines(dict(W256, N_EXTRA=0)) == wide.defines(dict(W256, N_EXTRA=0))


@needs_tk
def test_wide_bf16_kernels_compile_without_spills_with_the_wide_wgmma(tmp_path: Path):
    fam = load_family(ROOT / "kernels" / "thunderkittens")
    space = load_space(ROOT / "bench" / "tk-wide-bf16.yaml", "sm_90")
    configs = [W256, dict(W256, STAGES=4), dict(W256, WG_M=64, STAGES=5), dict(W256, N_EXTRA=16, STAGES=4)]
    for o in build_at_the_launch_cap(fam, space, configs, tmp_path):
        wgmma = "m64n144k16" if o.config["N_EXTRA"] == 16 else "m64n160k16"
        assert f"{wgmma}.f32.bf16.bf16" in ptx_of(nvcc_argv(o), tmp_path, [])
