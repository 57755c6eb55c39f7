"""A fixed subset of the barrier / wait ablation (bench/barrier_ablation.py; issue 23): one site
removed from a compiled template, judged by the build's static checks and the emulator.

* gfx950 ping-pong: the s_barrier right after phase 4's vmcnt wait (the removal every stage
  missed while the vmcnt check ran with barrier lag 0) is caught by the vmcnt check at the
  schedule's lag 1; removing the stagger barrier is caught by the barrier-model check.
* gfx942 ping-pong: the lgkmcnt(0) that retires the register->LDS writes before the barrier
  (the other wave group reads them one barrier later) is caught by the LDS ordering check.
* a loop barrier the static checks accept (it paces the ping-pong; every LDS access stays
  lag+1 barriers from its conflicting one) passes the emulator with the resulting code.

Needs HKTUNE_TEST_HK_MAIN / HKTUNE_TEST_HK_CDNA3, the HIP device compiler and (last test) the
emulator; CI sets HKTUNE_REQUIRE_EMULATOR so a missing piece fails.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from emu_env import compile_variant, hip_compiler, missing, require_tree, seed, skip_unless, space  # noqa: E402
from hktune.build.amd import ablate, lds  # noqa: E402


def _base(tmp: Path, arch: str):  # noqa: ANN202
    require_tree(arch)
    if hip_compiler() is None:
        missing("needs a HIP device compiler (`hktune toolchain install`)")
    res = compile_variant(tmp, arch, seed(arch, 1024))
    text = res.asm.read_text()
    assert all(v == "ok" for v in ablate.static_verdicts(res.asm).values())
    return res, text


def _judge(tmp: Path, text: str, site: ablate.Site) -> dict[str, str]:
    asm = tmp / f"{site.id.replace('@', '-')}.s"
    asm.write_text(ablate.ablate(text, site))
    return {k: v for k, v in ablate.static_verdicts(asm).items() if v != "ok"}


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _after(text: str, site: ablate.Site, pattern: str, within: int = 3) -> bool:
    """Is there a line containing `pattern` among the `within` instruction lines before the site?"""
    prev = [ln.strip() for ln in _lines(text)[: site.line - 1] if ln.strip() and not ln.strip().startswith(";")]
    return any(pattern in ln for ln in prev[-within:])


def test_gfx950_phase4_barrier_and_stagger_removals_are_caught(tmp_path):
    res, text = _base(tmp_path, "gfx950")
    assert lds.barrier_model(text).lag == 1
    sites = ablate.sites(text)
    phase4 = [s for s in sites if s.what == "barrier" and s.region == "loop" and _after(text, s, "s_waitcnt vmcnt(", 2)]
    assert len(phase4) == 2  # one per unrolled tile (PREFETCH 1: two stages)
    for s in phase4:
        caught = _judge(tmp_path, text, s)
        assert "vmcnt" in caught and "barrier lag 1" in caught["vmcnt"], (s, caught)
    lines = _lines(text)
    mark = next(i for i, ln in enumerate(lines, 1) if ";hkt.stagger" in ln)
    stagger = next(s for s in sites if s.what == "barrier" and s.line > mark)
    caught = _judge(tmp_path, text, stagger)
    assert caught["lds"].startswith("barrier model: ") and "stagger" in caught["lds"], caught


def test_gfx942_lds_write_retire_before_the_barrier_is_needed(tmp_path):
    res, text = _base(tmp_path, "gfx942")
    sites = ablate.sites(text)
    retire = [s for s in sites if s.what == "lgkmcnt" and s.region == "loop" and _after(text, s, "ds_write", 1)]
    assert retire, "the ping-pong store's lgkmcnt(0) after the ds_writes"
    for s in retire:
        caught = _judge(tmp_path, text, s)
        assert "lds" in caught and "read at line" in caught["lds"] and "lag 1 needs 2" in caught["lds"], (s, caught)


def test_a_pacing_barrier_the_checks_accept_passes_the_emulator(tmp_path):
    skip_unless("gfx950")
    from hktune.emulator import emulate
    from hktune.emulator.verify import default_shape

    res, text = _base(tmp_path, "gfx950")
    cfg = seed("gfx950", 1024)
    # the first main-loop barrier the static checks accept
    site = next(s for s in ablate.sites(text) if s.what == "barrier" and s.region == "loop"
                and not _judge(tmp_path, text, s))
    asm = tmp_path / "harmless.s"
    asm.write_text(ablate.ablate(text, site))
    arg = ablate.argument(asm)
    assert arg.startswith("barrier lag 1: ") and " WAR, " in arg
    co = ablate.assemble("gfx950", ablate.ablate(text, site), tmp_path / "harmless")
    r = emulate(co, cfg, space("gfx950"), *default_shape(space("gfx950"), cfg), timeout_s=900)
    assert r["ok"] and r["bad_elements"] == 0, (site, r)
