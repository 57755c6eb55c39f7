"""SCHEDULE 2 of the gfx950 template: producer/consumer (8 MMA waves + 4 producer waves, HK's 8c4p
micro kernels; kernels/hipkittens/sched_pc_cdna4.inc), and the static checks' wave roles
(hktune.build.amd.asm.RoleStep).

The first tests need no compiler: hand-written producer/consumer assembly shows that each role
keeps its own wait counters (a consumer's vmcnt wait does not retire a producer's loads) and that
a barrier between a producer's load and a consumer's read is required. The last ones compile the
space's SCHEDULE 2 seed (HK's micro_02 configuration), run the build's static checks, emulate it
at a small shape, and remove its barriers one at a time (each one is caught).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from emu_env import compile_variant, hip_compiler, missing, require_tree, skip_unless, space  # noqa: E402
from hktune.build.amd import ablate, lds, vmcnt  # noqa: E402


def _pc_asm(producer_wait: str = "s_waitcnt vmcnt(0)", consumer_wait: str = "", barrier: bool = True,
            roles: bool = True, consumer_branch: bool = True) -> str:
    """One tile: the producer loads A0 into stage 0, the consumer reads it after a barrier."""
    role = (lambda r: f";hkt.role {r}") if roles else (lambda r: "")
    return "\n".join([
        "k:",
        ";hkt.barrier_lag 0",
        ";hkt.roles producer consumer" if roles else "",
        "s_cbranch_scc1 .L1", role("producer"), ";hkt.load A0 s=0",
        "buffer_load_dwordx4 v1, s[0:3], 0 offen lds", producer_wait,
        ".L1:", "s_cbranch_scc1 .L2", role("consumer") if consumer_branch else "", consumer_wait,
        ".L2:", role("all"),
        "s_barrier" if barrier else "",
        "s_cbranch_scc1 .L3", role("producer"),
        ".L3:", "s_cbranch_scc1 .L4", role("consumer") if consumer_branch else "", ";hkt.read A0 s=0",
        "ds_read_b128 v[2:5], v0", "s_waitcnt lgkmcnt(0)", "v_mov_b32 v6, v2",
        ".L4:", role("all"),
        "s_endpgm", ".Lfunc_end0:", ""])


def _verdicts(text: str) -> tuple[list, list, lds.Model]:
    model, fs, _ = lds.check(text)
    return vmcnt.unsafe(vmcnt.check(text, barrier_lag=model.lag)), lds.unsafe(fs), model


def test_roles_a_barrier_orders_a_producer_load_and_a_consumer_read():
    vm, ld, model = _verdicts(_pc_asm())
    assert not vm and not ld and model.error is None
    _, fs, _ = lds.check(_pc_asm())
    assert any(f.kind == "raw" and f.status == "ok" for f in fs)   # the pair was seen, across roles
    # no barrier: the producer's retired load and the consumer's read are not ordered (the vmcnt
    # check has nothing in flight to report; the LDS ordering check catches it)
    _, ld, _ = _verdicts(_pc_asm(barrier=False))
    assert ld and "A0@stage0" in ld[0].message and "0 barrier(s)" in ld[0].message


def test_roles_a_consumer_wait_does_not_retire_the_producers_loads():
    # the consumer's own vmcnt(0) retires nothing of the producer's: the load is in flight at the barrier
    text = _pc_asm(producer_wait="", consumer_wait="s_waitcnt vmcnt(0)")
    vm, ld, _ = _verdicts(text)
    assert vm and "A0@stage0" in vm[0].message and ld
    # with the wait in the producer's branch it is safe (the first test); in both branches too
    vm, ld, _ = _verdicts(_pc_asm(consumer_wait="s_waitcnt vmcnt(0)"))
    assert not vm and not ld


def test_roles_declared_but_never_joined_is_an_error(tmp_path):
    text = _pc_asm(consumer_branch=False)     # no path runs the consumer's branch
    model, _, _ = lds.check(text)
    assert model.error and "roles" in model.error
    (tmp_path / "k.s").write_text(text)
    assert lds.build_check(tmp_path / "k.s").startswith("barrier model: ")
    assert any("roles" in f.message for f in vmcnt.unsafe(vmcnt.check(text)))


# ---- the template ---------------------------------------------------------------------------------

def _seed(prefetch: int = 1) -> dict:
    sp = space("gfx950")
    return next({k: v for k, v in s.items() if k in sp.names} for s in sp.seeds
                if s.get("SCHEDULE") == 2 and s.get("PREFETCH") == prefetch)


@pytest.fixture(scope="module")
def pc_build(tmp_path_factory):  # noqa: ANN201
    require_tree("gfx950")
    if hip_compiler() is None:
        missing("needs a HIP device compiler (`hktune toolchain install`)")
    return compile_variant(tmp_path_factory.mktemp("pc"), "gfx950", _seed())


def test_8c4p_seed_resources_checks_and_emulator(pc_build):
    from hktune.build.amd import resources as R
    res = pc_build
    text = res.asm.read_text()
    r = res.resources
    assert r["vgprs"] <= 512 // 3 and r["vgpr_spills"] == 0 and r["scratch_bytes"] == 0, r
    assert r["occupancy"] == 3                      # 12 waves: 3 per SIMD
    # 4 MMA groups per K tile of 2x2 16x16x32 MFMAs per 32x32 sub-tile, K step 64: 32 per tile
    assert R.count_mfma(text) % 32 == 0 and R.mfma_in_loops(text) == 64   # main loop: 2 tiles (two stages)
    assert all(v == "ok" for v in ablate.static_verdicts(res.asm).values())
    model, fs, _ = lds.check(text)
    assert model.lag == 0 and model.error is None
    assert sum(f.kind == "raw" and f.status == "ok" for f in fs) > 0 and sum(f.kind == "war" and f.status == "ok" for f in fs) > 0
    skip_unless("gfx950")
    from hktune.emulator import emulate
    cfg = _seed()
    r = emulate(res.artifact, cfg, space("gfx950"), 256, 512, 320, timeout_s=600)
    assert r["ok"] and r["bad_elements"] == 0, r


def test_8c4p_every_barrier_removal_is_caught(pc_build, tmp_path):
    text = pc_build.asm.read_text()
    bars = [s for s in ablate.sites(text) if s.what == "barrier"]
    assert len(bars) >= 3      # prologue, two main-loop tiles, the remainder tile
    for s in bars:
        asm = tmp_path / f"{s.line}.s"
        asm.write_text(ablate.ablate(text, s))
        caught = {k: v for k, v in ablate.static_verdicts(asm).items() if v != "ok"}
        assert "lds" in caught, (s, caught)


def test_8c4p_planted_missing_barrier_is_rejected(tmp_path):
    require_tree("gfx950")
    if hip_compiler() is None:
        missing("needs a HIP device compiler (`hktune toolchain install`)")
    res = compile_variant(tmp_path, "gfx950", _seed(), {"HKTUNE_PLANT_PC": 1})
    why = lds.build_check(res.asm)
    assert "unordered LDS access" in why and "barrier lag 0" in why, why
