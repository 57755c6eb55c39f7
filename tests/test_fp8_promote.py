"""fp8 promotion in the thunderkittens family (PROMOTE: 0 off, else the interval in k steps after
which a wgmma partial accumulator is added into the fp32 accumulator on the CUDA cores): the
spaces' knob, constraints and prior, and gemm.cu / sched.cuh compiled for sm_90a (nvcc,
ThunderKittens) with their PTX's wgmma/add structure checked. No GPU here: nothing is run."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hktune.family.family import load_family
from tests.tk_build import nvcc_argv, ptx_argv, ptx_of

ROOT = Path(__file__).resolve().parent.parent
TK = os.environ.get("HKTUNE_TEST_TK")


def test_promote_is_an_fp8_knob_that_needs_two_accumulators_of_registers():
    """PROMOTE (each k step's wgmma partial added into the fp32 accumulator on the CUDA cores,
    gemm.cu) is offered by the fp8 space only; bf16 and a stored config lacking it read as 0; the
    partial doubles the accumulator registers, so N_BLOCK 4 with two consumer warpgroups cannot
    promote; the prior charges the FADDs a little, less the longer the promotion interval."""
    from hktune.space.prior import estimate

    fam = load_family(ROOT / "kernels" / "thunderkittens")
    fp8, bf16 = fam.for_dtype("fp8_e4m3").space("sm_90"), fam.space("sm_90")
    values = {sp.path.name: {p.name: p.values for p in sp.params}["PROMOTE"] for sp in (fp8, bf16)}
    assert values == {"thunderkittens-sm_90-fp8_e4m3.yaml": [0, 1, 2, 4], "thunderkittens-sm_90.yaml": [0]}
    assert fp8.legacy["PROMOTE"] == 0 and bf16.legacy["PROMOTE"] == 0
    old = {k: v for k, v in fp8.seeds[0].items() if k != "PROMOTE"}      # a table stored before the knob
    assert fp8.complete(old)["PROMOTE"] == 0 and bf16.complete(old)["PROMOTE"] == 0
    assert not fp8.violations(fp8.complete(old)) and fp8.violations(old)
    promoted = [s for s in fp8.seeds if s["PROMOTE"] == 1 and s["SCHED"] == 0]   # gemm.cu's
    assert sorted(s["N_BLOCK"] for s in promoted) == [2, 3] and not any(fp8.violations(s) for s in promoted)
    assert any(s["PROMOTE"] == 0 and s["N_BLOCK"] == 4 for s in fp8.seeds)    # TK's fp8_h100 kept
    (every4,) = [s for s in fp8.seeds if s["PROMOTE"] == 4 and s["SCHED"] == 0]  # the interval's seed
    assert every4 == dict(promoted[0], PROMOTE=4) and not fp8.violations(every4)
    wide = dict(promoted[0], N_BLOCK=4)                                        # M_BLOCK 2, 232 registers
    assert not fp8.violations(dict(wide, PROMOTE=0))
    (rule,) = fp8.violations(wide)
    assert rule.startswith("PROMOTE == 0 or (SCHED != 2 and ACC_REGS + ")
    assert fp8.violations(dict(wide, PROMOTE=4)) == fp8.violations(wide)        # any interval: two accumulators
    three = dict(promoted[0], M_BLOCK=3, PRODUCER_REGS=24, CONSUMER_REGS=160)   # ptxas: spills 64 bytes
    assert not fp8.violations(dict(three, PROMOTE=0)) and fp8.violations(three)
    # unpromoted accumulation only where K is short enough (the H200's element failures from K 4096 on)
    assert {c["PROMOTE"] for c in fp8.enumerate((8192, 8192, 8192))} == {1, 2, 4}
    valid = fp8.enumerate((8192, 8192, 2048))
    assert {c["PROMOTE"] for c in valid} == {0, 1, 2, 4}
    for c in (c for c in valid if c["PROMOTE"]):   # the accumulator + one partial (two at MMA_LAG 1) + 40 (24 at n144)
        acc = fp8.defines(c)["ACC_REGS"]
        partials = 2 * acc if c["MMA_LAG"] == 1 else acc * 64 // c["WG_M"]
        assert acc + partials + (24 if c["N_EXTRA"] else 40) <= c["CONSUMER_REGS"] and c["SCHED"] in (0, 1)
    assert not any(c["PROMOTE"] and c["M_BLOCK"] == 2 and c["N_BLOCK"] == 4 for c in valid)
    plain, charged = estimate(fp8, [dict(promoted[0], PROMOTE=0), promoted[0]], (8192, 8192, 8192))
    assert 0.8 * plain < charged < plain
    # ACC_REGS adds per group of PROMOTE k steps: PROMOTE 0 free, each longer interval charged less
    scores = estimate(fp8, [dict(promoted[0], PROMOTE=p) for p in (1, 2, 4, 0)], (8192, 8192, 2048))
    assert list(scores) == sorted(scores) and scores[0] > 0.8 * scores[3]


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_fp8_promote_seeds_compile_without_spills_and_add_each_k_step(tmp_path: Path):
    """The PROMOTE=1 seeds of gemm.cu (N_BLOCK 2 and 3) fit without spills; the kernel's PTX adds the partial
    into the accumulator (ACC_REGS add.f32, none at PROMOTE=0); bf16 or sched.cuh with PROMOTE=1 is
    an #error."""
    from hktune.build.builder import Builder
    from hktune.target import resolve_target

    target = resolve_target("sm_90", "thunderkittens", "fp8_e4m3", {"thunderkittens": TK})
    configs = [{k: s[k] for k in target.space.names} for s in target.space.seeds if s["PROMOTE"] == 1 and s["SCHED"] == 0]
    with Builder(target, jobs=2, cache=tmp_path / "cache") as b:
        outcomes = sorted(b.build_many(configs), key=lambda o: o.config["N_BLOCK"])
    assert [o.config["N_BLOCK"] for o in outcomes] == [2, 3]
    for o in outcomes:
        assert o.ok and o.reason is None and o.resources.get("spills", 0) == 0, (o.reason, o.log_tail())
        assert int(o.resources.get("registers") or 0) == 168        # 384 threads: the launch cap
    argv = nvcc_argv(outcomes[0])
    assert "-DHKT_FP8" in argv and "-DPROMOTE=1" in argv and "-DACC_REGS=64" in argv

    def ptx(extra: list[str]) -> tuple[int, int]:     # (e4m3 wgmmas, fp32 adds) in the PTX
        return _counts(ptx_of(argv, tmp_path, extra))

    assert ptx([]) == (4, 64)                           # one k step: four k32 wgmmas, ACC_REGS adds
    wgmmas, adds = ptx(["-UPROMOTE", "-DPROMOTE=0"])
    assert wgmmas > 0 and adds == 0
    for bad in (["-UHKT_FP8"], ["-USCHED", "-DSCHED=2"]):                # bf16, ping-pong
        r = subprocess.run(ptx_argv(argv, tmp_path) + bad, capture_output=True, text=True, timeout=300)
        assert r.returncode != 0 and "PROMOTE > 0 needs the fp8 kernel (-DHKT_FP8) and SCHED 0 or 1" in r.stderr


def _counts(text: str) -> tuple[int, int]:
    """(e4m3 m64n128k32 wgmmas, fp32 adds) in a PTX text."""
    return (text.count("wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3"),
            len(re.findall(r"\badd(\.rn)?\.f32\b", text)))


def _build_and_ptx(target, configs: list[dict], tmp_path: Path):   # noqa: ANN001, ANN202
    """Build configs (nvcc sm_90a, ptxas -v): outcomes, and a function PTX(config, extra -D) -> text."""
    from hktune.build.builder import Builder

    with Builder(target, jobs=2, cache=tmp_path / "cache") as b:
        outcomes = sorted(b.build_many(configs), key=lambda o: sorted(o.config.items()))
    for o in outcomes:
        log = (o.artifact.parent / "build.log").read_text() if o.artifact else ""
        assert o.ok and o.reason is None and o.resources.get("spills", 0) == 0, (o.config, o.reason, o.log_tail())
        assert "C7514" not in log and "serialized" not in log, o.config

    def ptx(o, extra: list[str]) -> str:   # noqa: ANN001
        return ptx_of(nvcc_argv(o), tmp_path, extra)
    return outcomes, ptx


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_gemm_promote_interval_keeps_the_partial_across_k_steps(tmp_path: Path):
    """gemm.cu (SCHED 0) with PROMOTE 2 and 4: no spills at 168 registers (the partial now lives in
    the consumer state across compute() calls); the PTX has both wgmma forms (the group's first k
    step resets the partial, the others accumulate) and two promoted adds (a full group in
    compute(), a partial last group in finish()), where PROMOTE=1 has one form and one add; the
    interval reaches the code (2 and 4 differ); other intervals are an #error."""
    from hktune.target import resolve_target

    target = resolve_target("sm_90", "thunderkittens", "fp8_e4m3", {"thunderkittens": TK})
    (seed,) = [s for s in target.space.seeds if s["PROMOTE"] == 1 and s["N_BLOCK"] == 2 and s["SCHED"] == 0]
    one = {k: seed[k] for k in target.space.names}
    outcomes, ptx = _build_and_ptx(target, [dict(one, PROMOTE=n) for n in (2, 4)], tmp_path)
    assert all(int(o.resources.get("registers") or 0) == 168 for o in outcomes)

    texts = {o.config["PROMOTE"]: ptx(o, []) for o in outcomes}
    assert _counts(texts[2]) == _counts(texts[4]) == (8, 128)
    assert _counts(ptx(outcomes[0], ["-UPROMOTE", "-DPROMOTE=1"])) == (4, 64)
    strip = lambda t: re.sub(r"%\w+\d+|//.*", "", t)             # noqa: E731 - register names, comments
    assert strip(texts[2]) != strip(texts[4])
    for bad in ("3", "8"):
        argv = nvcc_argv(outcomes[0])
        argv[argv.index("-o") + 1] = str(tmp_path / "bad.so")
        r = subprocess.run(argv + ["-UPROMOTE", f"-DPROMOTE={bad}"], capture_output=True, text=True, timeout=300)
        assert r.returncode != 0 and "PROMOTE: 0 (off) or a promotion interval of 1, 2 or 4 k steps" in r.stderr


def _sched_promoted(space, **kw) -> dict:   # noqa: ANN001 - sched.cuh, 128x128 tiles, a k step in flight
    base = {k: space.seeds[1][k] for k in space.names}            # M_BLOCK 2, N_BLOCK 2, 232 registers
    return dict(base, EPILOGUE=2, SCHED=1, MMA_LAG=1, PROMOTE=1, **kw)


def test_sched_promote_fits_the_accumulator_and_its_partials():
    """bench/tk-sched-fp8.yaml: sched.cuh promotes (at any interval) at SCHED 1 with the accumulator + one partial
    (MMA_LAG 0) or two (MMA_LAG 1) + 40 registers (+72 with the split-K fixup) under CONSUMER_REGS;
    ping-pong does not promote; unpromoted fp8 only up to K 2048 (as the family's fp8 space)."""
    from hktune.space.space import load_space

    space = load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    # the fp8 family space's rule, which the opt-in space extends (WG_M 128 and the wide tiles' 24 are in it)
    rule = ("PROMOTE == 0 or (SCHED != 2 and ACC_REGS + (2 * ACC_REGS if MMA_LAG == 1 else ACC_REGS * 64 // WG_M) "
            "+ (24 if N_EXTRA else 40 if SPLIT_K == 1 else 72) <= CONSUMER_REGS)")
    lag = _sched_promoted(space)                                   # 3 x 64 + 40 = 232
    assert not space.violations(lag) and not space.violations(dict(lag, MMA_LAG=0, N_BLOCK=3))   # 2 x 96 + 40
    assert space.violations(dict(lag, N_BLOCK=3)) == [rule]        # 3 x 96 + 40 > 232
    assert space.violations(dict(lag, SPLIT_K=2)) == [rule]        # ptxas: 48 bytes spilled
    assert not space.violations(dict(lag, SPLIT_K=2, MMA_LAG=0, CLUSTER_M=2))   # 2 x 64 + 72
    one = dict(lag, M_BLOCK=1, CONSUMER_REGS=256)
    assert not space.violations(one) and space.violations(dict(one, SPLIT_K=2, CLUSTER_M=2)) == [rule]  # 40 B spilled
    assert space.violations(dict(one, WG_M=128)) == [rule]         # 3 x 128 + 40 > 256
    # MMA_LAG 0 at WG_M 128 (256x128 tiles): the halves in turn through one m64 partial, 2 x 64 + 64 + 40
    wide = dict(lag, WG_M=128, MMA_LAG=0, PROMOTE=2)
    assert not space.violations(wide) and not space.shape_violations(wide, 8192, 8192, 8192)
    held = "PROMOTE == 0 or MMA_LAG == 1 or (WG_M == 64 and MMA_LAG == 0) or STAGES > PROMOTE"
    assert space.violations(dict(wide, PROMOTE=4)) == [held]
    # MMA_LAG 2 (a group's k steps chained) holds a group's stages too, at any WG_M, and needs PROMOTE
    assert space.violations(dict(lag, MMA_LAG=2, PROMOTE=4)) == [held]              # STAGES 4
    assert not space.violations(dict(lag, MMA_LAG=2, PROMOTE=4, STAGES=5))
    assert "MMA_LAG < 2 or (SCHED == 1 and PROMOTE > 0)" in space.violations(dict(lag, MMA_LAG=2, PROMOTE=0))
    assert rule in space.violations(dict(wide, N_BLOCK=3))         # 2 x 96 + 96 + 40 > 232
    assert rule in space.violations(dict(lag, SCHED=2))
    assert not space.violations(dict(lag, PROMOTE=0, N_BLOCK=4))
    assert space.shape_violations(dict(lag, PROMOTE=0), 8192, 8192, 8192)
    assert not space.shape_violations(lag, 8192, 8192, 8192)
    for n in (2, 4):                                              # an interval: the same registers
        assert space.violations(dict(lag, PROMOTE=n, N_BLOCK=3)) == [rule]
        assert not space.violations(dict(lag, PROMOTE=n)) and not space.shape_violations(dict(lag, PROMOTE=n), 8192, 8192, 8192)
    valid = space.enumerate((8192, 8192, 8192))
    assert {c["PROMOTE"] for c in valid} == {1, 2, 4} and {c["SCHED"] for c in valid} == {0, 1}
    assert any(c["SCHED"] == 1 and c["MMA_LAG"] == 1 for c in valid)
    assert any(c["SCHED"] == 1 and c["WG_M"] == 128 for c in valid)
    assert any(c["MMA_LAG"] == 2 and c["WG_M"] == 128 for c in valid)
    for c in valid:
        acc = space.defines(c)["ACC_REGS"]
        part = 2 * acc if c["SCHED"] == 1 and c["MMA_LAG"] == 1 else 32 * c["N_BLOCK"]
        assert acc + part + 40 <= c["CONSUMER_REGS"]
        assert c["MMA_LAG"] == 1 or (c["WG_M"] == 64 and c["MMA_LAG"] == 0) or c["STAGES"] > c["PROMOTE"]


def _wgmma_events(ptx: str) -> list[str]:
    """The kernel's wgmma/add skeleton: W (an e4m3 k32 wgmma), C (commit), w<N> (wait_group N), A (add.f32)."""
    events = []
    for line in (ln.strip() for ln in ptx.splitlines()):
        if line.startswith("wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3"):
            events.append("W")
        elif line.startswith("wgmma.commit_group"):
            events.append("C")
        elif line.startswith("wgmma.wait_group"):
            events.append("w" + line.split()[-1].rstrip(";"))
        elif re.match(r"add(\.rn)?\.f32\b", line):
            events.append("A")
    return events


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_sched_promote_overlaps_each_add_with_the_next_k_step(tmp_path: Path):
    """sched.cuh, PROMOTE=1, MMA_LAG=1 (two partials): 0 spills at 232 registers and no serialized
    wgmma (ptxas C7514); in the PTX every k step is four k32 e4m3 wgmmas and one commit, followed by
    wait_group 1 (that step still in flight) and then ACC_REGS add.f32 of the previous step's partial;
    only the drain adds after wait_group 0. PROMOTE=0 of the same config adds nothing."""
    from hktune.build.builder import Builder
    from hktune.space.space import load_space
    from hktune.target import make_target

    fam = load_family(ROOT / "kernels" / "thunderkittens").for_dtype("fp8_e4m3")
    space = load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    config = _sched_promoted(space)
    target = make_target(fam, "sm_90", space, include_dirs=fam.include_dirs("sm_90", {"thunderkittens": TK}))
    with Builder(target, jobs=1, cache=tmp_path / "cache") as b:
        o = b.build(config)
    log = (o.artifact.parent / "build.log").read_text() if o.artifact else ""
    assert o.ok and o.reason is None and o.resources.get("spills", 0) == 0, (o.reason, o.log_tail())
    assert "C7514" not in log and "serialized" not in log
    argv = nvcc_argv(o)
    assert "-DPROMOTE=1" in argv and "-DMMA_LAG=1" in argv and "-DSCHED=1" in argv and "-DACC_REGS=64" in argv

    def events(extra: list[str]) -> list[str]:
        return _wgmma_events(ptx_of(argv, tmp_path, extra))

    ev = "".join(e if e != "w0" else "z" for e in events([]))    # one letter per event
    steps = re.findall(r"W+C", ev)
    assert steps and all(st == "WWWWC" for st in steps)         # a k step: four k32 wgmmas, one group
    overlapped = re.findall(r"WWWWCw1(A*)", ev)
    assert len(overlapped) == len(steps) and all(len(a) == 64 for a in overlapped)   # ACC_REGS adds each
    drain = ev[ev.rindex("C") + 1:]                               # the last step's adds, then the drain's
    assert re.fullmatch(r"w1A{64}z+A+", drain)                   # the last partial after wait_group 0
    assert ev.count("A") == 64 * (len(steps) + 2)                # + the drain's two (static) partials
    plain = events(["-UPROMOTE", "-DPROMOTE=0"])
    assert "A" not in plain and plain.count("W") > 0


def _sched_skeletons(tmp_path: Path, make) -> list[tuple[dict, str]]:   # noqa: ANN001
    """Build the configs ``make(space)`` gives (sched.cuh, fp8, bench/tk-sched-fp8.yaml; no spills, no
    C7514): each config with its wgmma/add skeleton, one letter per event (z = wait_group 0) and 'a'
    for an m64 partial's 64 adds."""
    from hktune.space.space import load_space
    from hktune.target import make_target

    fam = load_family(ROOT / "kernels" / "thunderkittens").for_dtype("fp8_e4m3")
    space = load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    configs = make(space)
    assert not any(space.violations(c) for c in configs)
    target = make_target(fam, "sm_90", space, include_dirs=fam.include_dirs("sm_90", {"thunderkittens": TK}))
    outcomes, ptx = _build_and_ptx(target, configs, tmp_path)
    assert len(outcomes) == len(configs)
    out = []
    for o in outcomes:
        ev = "".join(e if e != "w0" else "z" for e in _wgmma_events(ptx(o, [])))
        assert ev.count("A") % 64 == 0
        out.append((o.config, re.sub("A{64}", "a", ev)))
    return out


def _step_marks(ev: str) -> str:
    """One mark per k step of an MMA_LAG=1 skeleton (one letter per event, z = wait_group 0, A{64}
    = a, a partial's adds): 'a' if the step's wait_group 1 is followed by a promoted add, else '-'."""
    return "".join("a" if a else "-" for a in re.findall(r"WWWWCw1(a?)", ev))


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_sched_promote_interval_adds_once_per_group(tmp_path: Path):
    """sched.cuh with PROMOTE 2 and 4, MMA_LAG 0 and 1: no spills, no serialized wgmma (C7514). PTX:
    MMA_LAG=0 is one group per loop trip (PROMOTE k steps, each waited for, then one add of the
    partial); MMA_LAG=1 runs chunks of max(PROMOTE_CHUNK 4, 2 PROMOTE) k steps where only a group's
    first step is followed by the add (of the previous group), then a tail of chunk-1 steps with a
    wait_group 0 after each, the drain adding the last group's partial (either of the two)."""
    from hktune.space.space import load_space

    space = load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    assert {s["PROMOTE"] for s in space.seeds if s["SCHED"] == 1} == {1, 2, 4}
    built = _sched_skeletons(tmp_path, lambda sp: [dict(_sched_promoted(sp), MMA_LAG=lag, PROMOTE=n)
                                                   for lag in (0, 1) for n in (2, 4)])
    for config, ev in built:
        n = config["PROMOTE"]
        if config["MMA_LAG"] == 0:
            assert ev == "WWWWCz" * n + "a"                     # the loop's body: one group, one add
            continue
        chunk = max(4, 2 * n)
        group = "a" + "-" * (n - 1)                             # the add of group g-1 after g's first step
        assert _step_marks(ev) == (group * chunk)[:chunk] + (group * chunk)[:chunk - 1]
        assert re.fullmatch(r"(WWWWCw1a?){%d}z(WWWWCw1a?z){%d}z*aa" % (chunk, chunk - 1), ev), ev


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_sched_promote_wg_m_128_takes_the_halves_in_turn(tmp_path: Path):
    """sched.cuh, WG_M 128 (256x128 tiles: each consumer two m64 halves), MMA_LAG 0, PROMOTE 1 and 2: the
    accumulator (2 x 64 registers) + one m64 partial (64) fit 232 with no spills and no serialized wgmma.
    PTX: the loop's body is, per half in turn, PROMOTE k steps of that half (four k32 wgmmas, one
    group, wait_group 0 each) then the 64 adds of that half; an interval ignored, or both halves issued
    per step into two partials, would read differently."""
    built = _sched_skeletons(tmp_path, lambda sp: [dict(_sched_promoted(sp), WG_M=128, MMA_LAG=0, PROMOTE=n)
                                                   for n in (1, 2)])
    for config, ev in built:
        assert ev == ("WWWWCz" * config["PROMOTE"] + "a") * 2, ev


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_sched_promote_chained_group_waits_once_per_half(tmp_path: Path):
    """MMA_LAG 2 (bench/tk-sched-fp8.yaml's seeds: 128x128 promoted every 4 k steps, 256x128 every 2):
    no spills, no serialized wgmma; PTX: per half of WG_M, the group's PROMOTE k steps issued back to
    back into the partial (four k32 wgmmas and a commit each, no wait between them), one wait_group 0,
    then that half's 64 adds. MMA_LAG 2 without PROMOTE, or with STAGES <= PROMOTE, is not a config."""
    from hktune.space.space import load_space

    space = load_space(ROOT / "bench" / "tk-sched-fp8.yaml", "sm_90")
    chained = [{k: s[k] for k in space.names} for s in space.seeds if s["MMA_LAG"] == 2]
    assert sorted((c["WG_M"], c["PROMOTE"]) for c in chained) == [(64, 4), (128, 2)]
    assert space.violations(dict(chained[0], PROMOTE=0)) and space.violations(dict(chained[0], STAGES=4))
    built = _sched_skeletons(tmp_path, lambda sp: chained)
    for config, ev in built:
        assert ev == ("WWWWC" * config["PROMOTE"] + "za") * (config["WG_M"] // 64), (config, ev)
