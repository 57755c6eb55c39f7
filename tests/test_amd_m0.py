"""hktune.build.amd.m0: every buffer_load ... lds must see the M0 the inline asm set.

The first part runs on small hand-written assembly. The HipKittens-gated tests compile the
gfx950 template (HKTUNE_TEST_HK_MAIN + a HIP device compiler): with HK's G::load (test-only
HKT_HK_G_LOAD) the configs whose builds the ISA emulator crashed on (bench/results/emulate-sample-
2026-12-01.md) must be flagged; with the template's own LDS load (M0 written in the load's asm
block) they must pass the check and the emulator; the seeds and a sample of other configs must
pass; gfx942 seeds (HKTUNE_TEST_HK_CDNA3) must pass.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hktune.build.amd import m0 as M  # noqa: E402

HEAD = """\t.text
\t.amdgcn_target "amdgcn-amd-amdhsa--gfx950"
\t.globl\tk
\t.type\tk,@function
k:
"""
TAIL = """\ts_endpgm
.Lfunc_end0:
\t.size\tk, .Lfunc_end0-k
"""


def asm(body: str) -> str:
    return HEAD + body + TAIL


SET = "\t;;#ASMSTART\n\ts_mov_b32 m0, s12\n\t;;#ASMEND\n"
LOAD = "\tbuffer_load_dwordx4 v73, s[8:11], s3 offen lds\n"


def line_of(text: str, needle: str, nth: int = 0) -> int:
    return [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln][nth]


# ---- straight-line code --------------------------------------------------------------------------

def test_asm_written_m0_is_ok():
    # the compiler's own m0 = -1 BEFORE the inline asm is overwritten by it: fine
    text = asm("\ts_mov_b32 m0, -1\n" + SET + "\ts_add_i32 s29, s30, 0x2000\n" + LOAD
               + SET.replace("s12", "s13") + LOAD)
    assert M.check_all(text) == []


def test_compiler_m0_after_the_asm_is_flagged(tmp_path):
    # the miscompile: clang schedules its m0 = -1 (the LDS null pointer) after the inline asm
    text = asm(SET + "\ts_mov_b32 m0, -1\n\ts_lshl_b32 s12, s18, 6\n" + LOAD + SET.replace("s12", "s22") + LOAD)
    (f,) = M.check_all(text)
    assert f.line == line_of(text, "buffer_load", 0)
    assert f.defs[0].line == line_of(text, "m0, -1") and not f.defs[0].asm
    p = tmp_path / "k.s"
    p.write_text(text)
    assert M.build_check(p) == (f"1 LDS load(s) use an M0 the compiler wrote (line {f.line}: "
                                f"`buffer_load_dwordx4 v73, s[8:11], s3 offen lds` after `s_mov_b32 m0, -1` "
                                f"at line {f.defs[0].line})")


def test_any_compiler_write_counts_and_global_load_lds_too():
    text = asm(SET + "\ts_add_u32 m0, s4, 0x100\n\tglobal_load_lds_dwordx4 v[2:3], off\n")
    (f,) = M.check_all(text)
    assert f.load.startswith("global_load_lds_dwordx4") and "s_add_u32 m0" in f.message


def test_reads_of_m0_and_plain_loads_are_not_m0_writes():
    text = asm(SET + "\ts_cmp_eq_u32 m0, 0\n\tbuffer_load_dwordx4 v[0:3], v1, s[8:11], 0 offen\n"
               "\ts_mov_b32 m0, -1\n\tbuffer_load_dwordx4 v[4:7], v1, s[8:11], 0 offen\n" + SET + LOAD)
    assert M.check_all(text) == []


def test_no_m0_write_at_all_is_flagged():
    (f,) = M.check_all(asm(LOAD))
    assert "no M0 write on some path from the kernel entry" in f.message


def test_no_lds_loads_is_ok(tmp_path):
    # gfx942's template stages tiles through registers: nothing to check
    p = tmp_path / "k.s"
    p.write_text(asm("\ts_mov_b32 m0, -1\n\tds_write_b128 v1, v[4:7]\n\tglobal_load_dwordx4 v[0:3], v[8:9], off\n"))
    assert M.build_check(p) == "ok"


# ---- control flow --------------------------------------------------------------------------------

LOOP = asm(SET + """\ts_mov_b32 s4, 0
.LBB0_1:
\tbuffer_load_dwordx4 v73, s[8:11], s3 offen lds
\ts_add_i32 s4, s4, 1
\ts_cmp_lt_i32 s4, 8
\ts_cbranch_scc1 .LBB0_1
""")


def test_m0_from_a_predecessor_block_and_around_a_loop():
    # the load at the loop head sees the asm write from the entry block and its own back edge
    assert M.check_all(LOOP) == []


def test_compiler_write_on_one_incoming_path_is_flagged():
    # the back edge brings the compiler's m0 = -1 to the loop head: the second trip is wrong
    text = LOOP.replace("\ts_cbranch_scc1 .LBB0_1\n", "\ts_mov_b32 m0, -1\n\ts_cbranch_scc1 .LBB0_1\n")
    (f,) = M.check_all(text)
    assert f.line == line_of(text, "buffer_load") and f.defs[0].line == line_of(text, "m0, -1")


def test_diamond_with_asm_on_both_arms_is_ok_and_with_one_arm_missing_is_flagged():
    diamond = asm("""\ts_cmp_eq_u32 s0, 0
\ts_cbranch_scc1 .LBB0_2
""" + SET + """\ts_branch .LBB0_3
.LBB0_2:
""" + SET.replace("s12", "s13") + """.LBB0_3:
""" + LOAD)
    assert M.check_all(diamond) == []
    one_arm = diamond.replace(SET.replace("s12", "s13"), "\ts_mov_b32 m0, -1\n")
    (f,) = M.check_all(one_arm)
    assert [d.line for d in f.defs] == [line_of(one_arm, "m0, -1")]


# ---- compiled HipKittens (gated) -----------------------------------------------------------------

from emu_env import ROOT, hip_compiler, missing, require_tree  # noqa: E402

CRASHING = [  # built with HK's G::load, the ISA emulator SIGSEGVed on these gfx950 builds (M0 = 0x3FFFF)
    ("BLOCK_M=256,BLOCK_N=128,K_STEP=64,WARPS_M=2,WARPS_N=4,PREFETCH=2,SCHEDULE=0,VMCNT_0=8,VMCNT_1=-1,"
     "LGKMCNT=4,OCCUPANCY=2,SETPRIO=0,WGM=8,CHUNK=16"),
    ("BLOCK_M=256,BLOCK_N=128,K_STEP=64,WARPS_M=2,WARPS_N=4,PREFETCH=2,SCHEDULE=0,VMCNT_0=6,VMCNT_1=-1,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=1,WGM=4,CHUNK=256"),
    # found by the check in a 60-config sample, then confirmed in the emulator (2026-12-01)
    ("BLOCK_M=256,BLOCK_N=128,K_STEP=64,WARPS_M=4,WARPS_N=2,PREFETCH=2,SCHEDULE=0,VMCNT_0=10,VMCNT_1=-1,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=0,WGM=2,CHUNK=256"),
]
# gfx950 configs (besides the seeds) the emulator passes: docs/hipkittens.md "The M0 check" and
# bench/results/emulate-sample-2026-12-01.jsonl
PASSING = [
    # the first crasher with WGM=1
    ("BLOCK_M=256,BLOCK_N=128,K_STEP=64,WARPS_M=2,WARPS_N=4,PREFETCH=2,SCHEDULE=0,VMCNT_0=8,VMCNT_1=-1,"
     "LGKMCNT=4,OCCUPANCY=2,SETPRIO=0,WGM=1,CHUNK=16"),
    ("BLOCK_M=128,BLOCK_N=128,K_STEP=64,WARPS_M=2,WARPS_N=4,PREFETCH=2,SCHEDULE=1,VMCNT_0=8,VMCNT_1=8,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=0,WGM=1,CHUNK=16"),
    ("BLOCK_M=256,BLOCK_N=256,K_STEP=32,WARPS_M=2,WARPS_N=4,PREFETCH=1,SCHEDULE=0,VMCNT_0=4,VMCNT_1=0,"
     "LGKMCNT=4,OCCUPANCY=2,SETPRIO=0,WGM=4,CHUNK=4"),
    ("BLOCK_M=256,BLOCK_N=256,K_STEP=64,WARPS_M=4,WARPS_N=2,PREFETCH=1,SCHEDULE=1,VMCNT_0=6,VMCNT_1=-1,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=1,WGM=2,CHUNK=16"),
    ("BLOCK_M=128,BLOCK_N=128,K_STEP=64,WARPS_M=4,WARPS_N=2,PREFETCH=2,SCHEDULE=1,VMCNT_0=4,VMCNT_1=-1,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=1,WGM=1,CHUNK=4"),
    ("BLOCK_M=256,BLOCK_N=256,K_STEP=64,WARPS_M=2,WARPS_N=4,PREFETCH=1,SCHEDULE=0,VMCNT_0=10,VMCNT_1=0,"
     "LGKMCNT=8,OCCUPANCY=2,SETPRIO=0,WGM=1,CHUNK=16"),
    ("BLOCK_M=256,BLOCK_N=256,K_STEP=32,WARPS_M=4,WARPS_N=2,PREFETCH=1,SCHEDULE=1,VMCNT_0=4,VMCNT_1=4,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=1,WGM=2,CHUNK=4"),
    ("BLOCK_M=256,BLOCK_N=256,K_STEP=64,WARPS_M=4,WARPS_N=2,PREFETCH=1,SCHEDULE=0,VMCNT_0=4,VMCNT_1=-1,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=1,WGM=1,CHUNK=4"),
    ("BLOCK_M=256,BLOCK_N=256,K_STEP=64,WARPS_M=2,WARPS_N=4,PREFETCH=1,SCHEDULE=1,VMCNT_0=8,VMCNT_1=4,"
     "LGKMCNT=0,OCCUPANCY=2,SETPRIO=1,WGM=1,CHUNK=16"),
]

# passes the emulator and the M0 check, but B0's phase-1 reads cross the barrier (LGKMCNT 4 > A0's 2
# reads) and the other ping-pong group overwrites B0 one barrier later: the barrier check (lds,
# lag 1) rejects it, and the space no longer contains it (issue 23)
UNORDERED = ("BLOCK_M=128,BLOCK_N=128,K_STEP=64,WARPS_M=4,WARPS_N=2,PREFETCH=1,SCHEDULE=0,VMCNT_0=3,VMCNT_1=-1,"
             "LGKMCNT=4,OCCUPANCY=4,SETPRIO=0,WGM=8,CHUNK=256")


def _cfg(text: str) -> dict:
    return {k: int(v) for k, v in (kv.split("=") for kv in text.split(","))}


def _builder(arch: str, tmp: Path):  # noqa: ANN202
    from hktune.build.builder import Builder
    from hktune.family.family import load_family
    from hktune.target import make_target

    require_tree(arch)
    if hip_compiler() is None:
        missing("needs a HIP device compiler (`hktune toolchain install`)")
    fam = load_family(ROOT / "kernels" / "hipkittens")
    return Builder(make_target(fam, arch, roots={"hipkittens": require_tree(arch)}), jobs=2)


def _verdicts(arch: str, configs: list[dict], tmp: Path) -> list[tuple[dict, str]]:
    with _builder(arch, tmp) as b:
        out = []
        for o in b.build_many(configs):
            assert o.ok and o.asm is not None, o.reason
            out.append(({k: o.config[k] for k in b.space.names}, M.build_check(o.asm), o.reason))
    return out


def test_hk_g_load_crashing_configs_are_flagged(tmp_path):
    """With HK's G::load (test-only HKT_HK_G_LOAD: M0 written in one asm block, the LDS-load
    intrinsic called with a null LDS pointer) clang writes M0 itself in these configs: the check
    stays the guard."""
    from emu_env import compile_variant

    require_tree("gfx950")
    if hip_compiler() is None:
        missing("needs a HIP device compiler (`hktune toolchain install`)")
    for c in CRASHING:
        res = compile_variant(tmp_path, "gfx950", _cfg(c), {"HKT_HK_G_LOAD": 1})
        verdict = M.build_check(res.asm)
        assert verdict.startswith("1 LDS load(s) use an M0 the compiler wrote"), (c, verdict)
        assert "`s_mov_b32 m0, -1`" in verdict


def test_template_loads_make_the_former_crashers_valid_and_correct(tmp_path):
    """The template's own LDS load writes M0 in the asm block of the load it feeds (M0 declared
    clobbered): the configs the M0 check rejected with HK's G::load build, pass every static
    check and pass the emulator (issue 23)."""
    from emu_env import skip_unless, space
    from hktune.emulator import emulate
    from hktune.emulator.verify import default_shape

    skip_unless("gfx950")
    configs = [_cfg(c) for c in CRASHING]
    for cfg in configs:
        assert space("gfx950").violations(cfg) == [], cfg
    with _builder("gfx950", tmp_path) as b:
        outs = list(b.build_many(configs))
    for o in outs:
        assert o.ok and o.reason is None, o.reason   # not rejected by m0 (nor vmcnt, lds)
        assert M.build_check(o.asm) == "ok"
        cfg = {k: o.config[k] for k in b.space.names}
        r = emulate(o.artifact, cfg, space("gfx950"), *default_shape(space("gfx950"), cfg), timeout_s=900)
        assert r["ok"] and r["bad_elements"] == 0, (cfg, r)


def test_hk_seeds_and_configs_the_emulator_passes_are_ok(tmp_path):
    from emu_env import space
    from hktune.emulator.verify import select

    configs = select(space("gfx950"), seeds=True) + [_cfg(c) for c in PASSING]
    rows = _verdicts("gfx950", configs, tmp_path)
    assert len(rows) == len(configs)
    for cfg, verdict, reason in rows:
        assert verdict == "ok", (cfg, verdict)
        assert not (reason or "").startswith("rejected by"), (cfg, reason)


def test_hk_config_with_unordered_phase1_reads_is_m0_ok_but_rejected_by_the_barrier_check(tmp_path):
    from emu_env import space

    cfg = _cfg(UNORDERED)
    assert any("LGKMCNT <= HKT_WM * K_STEP * HKT_EB // 1024" in v for v in space("gfx950").violations(cfg))
    ((_, verdict, reason),) = _verdicts("gfx950", [cfg], tmp_path)
    assert verdict == "ok"
    assert reason.startswith("rejected by lds: ") and "tile B0@stage0 is written" in reason and "lag 1 needs 2" in reason


def test_hk_gfx942_seeds_are_ok(tmp_path):
    from emu_env import space
    from hktune.emulator.verify import select

    for cfg, verdict, _ in _verdicts("gfx942", select(space("gfx942"), seeds=True), tmp_path):
        assert verdict == "ok", (cfg, verdict)
