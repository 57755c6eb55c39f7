"""Stream-K in the thunderkittens family (STREAM_K, kernels/thunderkittens/sched_streamk.cuh): the schedule the
kernel runs, checked on the host; the knob's place in the spaces (opt-in: sanitized clean, measured slower
on an H100 on 2026-12-05); its kernels compile without spills and report the knob."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hktune.family.family import load_family
from hktune.space.prior import estimate
from hktune.space.space import load_space
from tests.tk_build import build_at_the_launch_cap, needs_tk

ROOT = Path(__file__).resolve().parent.parent
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
SPACES = {"bf16": ("configs/thunderkittens-sm_90.yaml", "bench/tk-sched.yaml"),
          "fp8_e4m3": ("configs/thunderkittens-sm_90-fp8_e4m3.yaml", "bench/tk-sched-fp8.yaml")}


@needs_nvcc
def test_the_schedule_covers_every_k_step_once_and_owners_read_their_pieces(tmp_path: Path):
    """tests/streamk/check_units.cu runs sched_units.cuh (the code the kernel includes) for 1456 plans."""
    exe = tmp_path / "check_units"
    subprocess.run(["nvcc", "-std=c++17", "--expt-relaxed-constexpr", f"-I{ROOT / 'kernels' / 'thunderkittens'}",
                    "-o", str(exe), str(ROOT / "tests" / "streamk" / "check_units.cu")], check=True, timeout=300)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok 1456", out.stdout


@pytest.mark.parametrize("dtype", sorted(SPACES))
def test_stream_k_is_opt_in_with_sched_1_and_whole_k(dtype: str):
    family, opt_in = (load_space(ROOT / p, "sm_90") for p in SPACES[dtype])
    shape = (8192, 8192, 8192)
    assert family.legacy["STREAM_K"] == 0 and opt_in.legacy["STREAM_K"] == 0
    assert {c["STREAM_K"] for c in family.enumerate(shape)} == {0}
    valid = opt_in.enumerate(shape)
    assert {c["STREAM_K"] for c in valid} == {0, 1}
    assert all(c["SCHED"] == 1 and c["SPLIT_K"] == 1 for c in valid if c["STREAM_K"] == 1)


def test_the_prior_credits_a_partial_last_round_only():
    """bf16 256x128 on 132 SMs: at 8192^3 (2048 tiles, 15.5 rounds) stream-K scores higher; at 8448x8192x8192
    (2112 tiles, 16 rounds exactly) the plan stays data-parallel and stream-K gains nothing."""
    space = load_space(ROOT / "bench" / "tk-sched.yaml", "sm_90")
    base = dict(space.seeds[0], N_BLOCK=2, EPILOGUE=2, SCHED=1, WG_M=128)
    pair = [dict(base, STREAM_K=0), dict(base, STREAM_K=1)]
    assert not any(space.violations(c) for c in pair)
    partial = estimate(space, pair, (8192, 8192, 8192))
    even = estimate(space, pair, (8448, 8192, 8192))
    assert partial[1] > partial[0] and even[1] <= even[0]


@needs_tk
@pytest.mark.parametrize("dtype", sorted(SPACES))
def test_stream_k_kernels_compile_without_spills_and_report_the_knob(dtype: str, tmp_path: Path):
    """At the 168-register cap of 384 threads: bf16 256x128 and 128x256 in a cluster pair with a k step in
    flight; fp8 128x128 PROMOTE 4 and 256x128 with chained groups (MMA_LAG 2, PROMOTE 2)."""
    fam = load_family(ROOT / "kernels" / "thunderkittens").for_dtype(dtype)
    space = load_space(ROOT / SPACES[dtype][1], "sm_90")
    common = dict(PERSISTENT=1, PRODUCER_REGS=40, CONSUMER_REGS=232, EPILOGUE=2, SCHED=1, CLUSTER_M=1, SPLIT_K=1,
                  STREAM_K=1, M_BLOCK=2, N_EXTRA=0)
    if dtype == "bf16":
        configs = [dict(common, N_BLOCK=2, STAGES=4, SUPER_M=8, WG_M=128, CLUSTER_N=1, ORDER=0, MMA_LAG=0, PROMOTE=0),
                   dict(common, N_BLOCK=4, STAGES=4, SUPER_M=1, WG_M=64, CLUSTER_N=2, ORDER=0, MMA_LAG=1, PROMOTE=0)]
    else:
        configs = [dict(common, N_BLOCK=2, STAGES=5, SUPER_M=16, WG_M=64, CLUSTER_N=1, ORDER=1, MMA_LAG=0, PROMOTE=4),
                   dict(common, N_BLOCK=2, STAGES=4, SUPER_M=16, WG_M=128, CLUSTER_N=1, ORDER=1, MMA_LAG=2, PROMOTE=2)]
    for o in build_at_the_launch_cap(fam, space, configs, tmp_path, dtype):
        assert "STREAM_K=1" in (o.artifact.parent / "build.log").read_text()
