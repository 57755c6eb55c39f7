"""The emulator against planted bugs in the hipkittens template (the HK-variant plants).

* WAR plant (-DHKTUNE_PLANT_WAR, both templates): one barrier dropped, so a wave can write a
  tile into LDS while other waves still read the previous one. The vmcnt checker passes it
  (it is not a wait-count bug); the emulator catches it: waves run barrier to barrier one after
  another, so the early wave's write lands before the late waves' reads.
* vmcnt plant (gfx950: VMCNT_0 above the safe bound with -DHKT_ALLOW_UNSAFE_VMCNT, so nobody
  waits for the second A half): the checker rejects it; the emulator passes it, because its
  loads complete at issue - a race the emulator cannot see, which is why both checks exist.

Needs HKTUNE_TEST_HK_MAIN / HKTUNE_TEST_HK_CDNA3 (HipKittens trees), HKTUNE_EMULATOR_DIR (or the
emulator installed by `hktune toolchain install --emulator`) and a HIP device compiler.
Each emulated run takes 5-20 s on a 2-core CPU.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from emu_env import compile_variant, hk_root, seed, skip_unless, space  # noqa: E402

ARCHS = ["gfx950", "gfx942"]


def _unsafe(asm: Path) -> list:
    from hktune.build.amd import vmcnt

    return vmcnt.unsafe(vmcnt.check_file(asm))


def _emulate(res, cfg: dict, arch: str, **kw) -> dict:
    from hktune.emulator import emulate
    from hktune.emulator.verify import default_shape

    return emulate(res.artifact, cfg, space(arch), *default_shape(space(arch), cfg), timeout_s=900, **kw)


@pytest.mark.parametrize("arch", ARCHS)
def test_seed_passes_both_checks(arch, tmp_path):
    skip_unless(arch)
    cfg = seed(arch, 1024)
    res = compile_variant(tmp_path, arch, cfg)
    assert _unsafe(res.asm) == []
    r = _emulate(res, cfg, arch)
    assert r["ok"], r
    assert r["bad_elements"] == 0 and r["error"] < 1e-2 and r["blocks"] == 4


@pytest.mark.parametrize("arch", ARCHS)
def test_war_plant_is_caught_by_the_emulator_not_by_the_vmcnt_check(arch, tmp_path):
    skip_unless(arch)
    cfg = seed(arch, 1024)
    res = compile_variant(tmp_path, arch, cfg, {"HKTUNE_PLANT_WAR": 1})
    assert _unsafe(res.asm) == []  # not a wait-count bug: the vmcnt check cannot see it
    from hktune.build.amd import lds

    # ... but the LDS ordering check (barrier model, issue 23) does, before any emulation
    assert "unordered LDS access(es) (barrier lag " in lds.build_check(res.asm)
    r = _emulate(res, cfg, arch)
    assert not r["ok"] and r["bad_elements"] > 1000, r
    assert "outputs wrong" in r["reason"]


def test_vmcnt_plant_is_caught_by_the_check_not_by_the_emulator(tmp_path):
    arch = "gfx950"  # gfx942's LDS writes are guarded by the compiler's own register waits
    skip_unless(arch)
    cfg = seed(arch, 1024, VMCNT_0=4)  # > V0ALL (3) with VMCNT_1 = -1: A1 is never waited for
    assert any("VMCNT_1 >= 0 or VMCNT_0 <= HKT_V0ALL" in v for v in space(arch).violations(cfg))
    res = compile_variant(tmp_path, arch, cfg, {"HKT_ALLOW_UNSAFE_VMCNT": 1})
    bad = _unsafe(res.asm)
    assert bad and all(f.kind == "tile" and "vmcnt(4)" in f.message for f in bad)
    r = _emulate(res, cfg, arch)
    assert r["ok"], r  # loads complete at issue in the emulator: this race is invisible there


def test_too_small_lds_is_a_failed_result_not_a_crash_of_the_caller(tmp_path):
    arch = "gfx950"
    skip_unless(arch)
    cfg = seed(arch, 1024)
    res = compile_variant(tmp_path, arch, cfg)
    r = _emulate(res, cfg, arch, lds_bytes=1024)
    assert r["ok"] is False and r["reason"].startswith(("emulator crashed", "emulator exited", "emulator error")), r


def test_verify_cli_runs_one_config(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hktune.commands import main

    arch = "gfx942"
    skip_unless(arch)
    monkeypatch.setenv("HKTUNE_CACHE_DIR", str(tmp_path / "build"))
    cfg = seed(arch, 1024)
    text = ",".join(f"{k}={v}" for k, v in cfg.items())
    r = CliRunner().invoke(main, ["verify", "--arch", arch, "--config", text, "--hk-root", str(hk_root(arch)), "--json"])
    assert r.exit_code == 0, r.output
    import json

    rows = json.loads(r.output[r.output.index("["):r.output.rindex("]") + 1])
    assert len(rows) == 1 and rows[0]["ok"] and rows[0]["shape"] == [256, 256, 320] and len(rows[0]["body"]) == 64


@pytest.mark.parametrize("xcds", [6])
def test_xcd_remap_with_the_devices_xcd_count_stays_a_permutation(xcds, tmp_path):
    """CHUNK > 0 remaps workgroups across XCDs with the count the host reads once per device
    (MI300A: 6). 6 x 4 = 24 blocks of 128 x 128 with CHUNK 4 fill one whole 6 x 4 remap block, so
    every workgroup is remapped: each output tile is still written exactly once, correctly."""
    arch = "gfx950"
    skip_unless(arch)
    cfg = seed(arch, 1024)
    assert cfg["CHUNK"] == 4 and cfg["BLOCK_M"] == cfg["BLOCK_N"] == 128
    res = compile_variant(tmp_path, arch, cfg)
    from hktune.emulator import emulate

    r = emulate(res.artifact, cfg, space(arch), 768, 512, 320, timeout_s=900, num_xcds=xcds)
    assert r["ok"], r
    assert r["blocks"] == 24 and r["bad_elements"] == 0 and r["nan_elements"] == 0


@pytest.mark.parametrize("k", [14336, 11008])
def test_gfx942_k_above_8192_correct_with_the_descriptor_as_built(k, tmp_path):
    """K = 14336 (Llama-3-8B down_proj) and 11008: HK's make_srsrc would mask the row stride to 14
    bits and set the swizzle bits; the template's resources carry no stride and no swizzle bit,
    and the emulator (hktune/emulator/strict.py) refuses any V# that does, so this pass is for the
    descriptor exactly as built. One 128 x 128 block, K/64 tiles."""
    arch = "gfx942"
    skip_unless(arch)
    cfg = seed(arch, 1024)
    res = compile_variant(tmp_path, arch, cfg)
    from hktune.emulator import emulate

    r = emulate(res.artifact, cfg, space(arch), 128, 128, k, timeout_s=900)
    assert r["ok"] and r["bad_elements"] == 0 and r["error"] < 1e-2, r


def test_a_swizzled_buffer_resource_reads_nothing_in_the_emulator(tmp_path):
    """HK's own register-staged loads (test-only HKT_HK_SWIZZLED_LOADS) build a V# with the row
    stride and the swizzle bits: the strict emulator makes those loads read nothing, so C is wrong
    - the guard is live, and the template's pass above is not the emulator ignoring the bits."""
    arch = "gfx942"
    skip_unless(arch)
    cfg = seed(arch, 1024)
    res = compile_variant(tmp_path, arch, cfg, {"HKT_HK_SWIZZLED_LOADS": 1})
    r = _emulate(res, cfg, arch)
    assert not r["ok"] and r["bad_elements"] > 60000 and "outputs wrong" in r["reason"], r
