"""EPILOGUE 3 of the thunderkittens family (kernels/thunderkittens/sched_epilogue3.cuh): a tile's epilogue runs after the
next tile's first k step is issued, so the tensor cores work through it (fp8: into a promotion partial; bf16: into the
accumulator, the last tile held in bf16 meanwhile). Legal only where the kernel serves it (fp8: the overlapped promotion,
PROMOTE > 1, MMA_LAG 1; bf16: the accumulator and the held tile fit the consumer's registers; whole-K units), seeded, and
its kernels keep that wgmma in flight: ptxas drains every wgmma in flight at a branch or loop back-edge it cannot see past,
or before a read of a register a wgmma wrote (info C7517, "warpgroup.wait is injected"), which would turn the overlap
back into EPILOGUE 2 without a word, so the build log must not say so."""
from __future__ import annotations

from pathlib import Path

from hktune.family.family import load_family
from hktune.space.prior import estimate
from hktune.space.space import load_space
from tests.tk_build import build_at_the_launch_cap, needs_tk, nvcc_argv, ptx_of

ROOT = Path(__file__).resolve().parent.parent
FP8 = ROOT / "configs" / "thunderkittens-sm_90-fp8_e4m3.yaml"
E3 = dict(M_BLOCK=2, N_BLOCK=2, STAGES=5, SUPER_M=8, PERSISTENT=1, PRODUCER_REGS=24, CONSUMER_REGS=240, EPILOGUE=3,
          SCHED=1, WG_M=64, CLUSTER_M=1, CLUSTER_N=1, ORDER=0, MMA_LAG=1, SPLIT_K=1, PROMOTE=2, STREAM_K=0, N_EXTRA=16)
# 128x128, 4 stages, promoted every 4 k steps, in a pair along N (A multicast)
E3_CN2 = dict(E3, STAGES=4, PRODUCER_REGS=40, CONSUMER_REGS=232, PROMOTE=4, N_EXTRA=0, CLUSTER_N=2)
RULE = "EPILOGUE < 3 or"
BF16 = ROOT / "configs" / "thunderkittens-sm_90.yaml"
# bf16: 256x128 (two 128-row consumers, MMA_LAG 0) and 128x160 (5 stages, MMA_LAG 1), the forms sanitized and seeded
B3 = dict(M_BLOCK=2, N_BLOCK=2, STAGES=4, SUPER_M=8, PERSISTENT=1, PRODUCER_REGS=40, CONSUMER_REGS=232, EPILOGUE=3, SCHED=1,
          WG_M=128, CLUSTER_M=1, CLUSTER_N=1, ORDER=0, MMA_LAG=0, SPLIT_K=1, PROMOTE=0, STREAM_K=0, N_EXTRA=0)
B3_160 = dict(B3, STAGES=5, WG_M=64, MMA_LAG=1, N_EXTRA=32)


def test_epilogue3_is_legal_only_for_the_overlapped_promotion():
    space = load_space(FP8, "sm_90")
    assert not space.violations(E3) and not space.violations(E3_CN2)
    assert not space.violations(dict(E3, EPILOGUE=2))
    for other in (dict(MMA_LAG=0, PRODUCER_REGS=40, CONSUMER_REGS=232), dict(PROMOTE=1), dict(MMA_LAG=2)):
        broken = [v for v in space.violations(dict(E3, **other)) if RULE in v]
        assert broken, other


def test_bf16_epilogue3_is_legal_where_the_held_tile_fits():
    bf16 = load_space(BF16, "sm_90")
    for ok in (B3, B3_160, dict(B3, N_BLOCK=4, WG_M=64, MMA_LAG=1), dict(B3, WG_M=64, CLUSTER_N=2, MMA_LAG=1)):
        assert not bf16.violations(ok), (ok, bf16.violations(ok))
    # 256x144: 144 accumulator registers + 72 held + 40 > 232; TK's lcf kernel has no EPILOGUE 3
    assert [v for v in bf16.violations(dict(B3, MMA_LAG=1, N_EXTRA=16)) if RULE in v]
    assert bf16.violations(dict(B3, SCHED=0))
    assert bf16.seeds[5:7] == [B3, B3_160]


def test_epilogue3_is_seeded_first():
    # first of the seeds a search at 8192^3 runs (ThunderKittens' own two, unpromoted, are illegal from K 4096 on)
    space = load_space(FP8, "sm_90")
    legal = [sd for sd in space.seeds if not space.shape_violations(sd, 8192, 8192, 8192)]
    assert legal[0] == E3 and space.seeds.index(E3) == 2


def test_the_prior_charges_epilogue3_its_first_tile_flush():
    """Once per block EPILOGUE 3 pays its last tile's flush with no next main loop to drain it under, and fp8 also a
    first tile's flush of nothing (bf16 peels its first tile: HKT_E3_PEEL). Where each block gets one tile (2048^3: 128
    tiles on 132 SMs) the prior puts EPILOGUE 3 below EPILOGUE 2 (measured on an H100, 2026-12-06: unpeeled 0.952x and
    0.953x of it, peeled 256x128 0.986x / 0.991x), where blocks get many short tiles (16384x8192x1024) above (1.028x,
    1.031x; peeled 1.041x / 1.033x)."""
    for path, form in ((BF16, B3), (BF16, B3_160), (FP8, E3)):
        space = load_space(path, "sm_90")
        e2 = dict(form, EPILOGUE=2)
        assert not space.violations(e2) and not space.violations(form)
        one = estimate(space, [e2, form], (2048, 2048, 2048))
        many = estimate(space, [e2, form], (16384, 8192, 1024))
        assert one[1] < one[0] and many[1] > many[0], (form, one, many)


@needs_tk
def test_epilogue3_keeps_the_wgmma_in_flight_through_the_epilogue(tmp_path: Path):
    fam = load_family(ROOT / "kernels" / "thunderkittens").for_dtype("fp8_e4m3")
    space = load_space(FP8, "sm_90")
    bf16 = load_family(ROOT / "kernels" / "thunderkittens")
    outcomes = build_at_the_launch_cap(fam, space, [E3, E3_CN2], tmp_path, "fp8_e4m3")
    outcomes += build_at_the_launch_cap(bf16, load_space(BF16, "sm_90"), [B3, B3_160], tmp_path / "bf16")
    for o in outcomes:
        log = (o.artifact.parent / "build.log").read_text()
        assert "C7517" not in log and "C7512" not in log and "C7514" not in log, log[-2000:]
        assert o.resources["wgmma_waits_injected"] == 0 and o.resources["wgmma_serialized"] == 0
        ptx = ptx_of(nvcc_argv(o), tmp_path, [])
        # the C store is one predicated instruction, not a branch around TK's store
        assert "@p cp.async.bulk.tensor.5d.global.shared::cta.tile.bulk_group" in ptx
