"""The fp8_e4m3 dtype: its inputs, reference, vendor and bounds (CPU torch), the families' fp8
kernels selected by dtype, the command line's --dtype, and the fp8 templates compiled (gfx950 with
the portable HIP toolchain and HipKittens main; sm_90a with nvcc and ThunderKittens) and, for gfx950,
run in the ISA emulator."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from hktune.dtypes import DTYPES, Inputs, get
from hktune.emulator import abi
from hktune.family.family import FamilyError, load_family, resolve
from hktune.run.verify import check

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
FP8 = DTYPES["fp8_e4m3"]


def _inputs(m: int = 128, n: int = 192, k: int = 512, seed: int = 0) -> Inputs:
    return FP8.random_inputs(m, n, k, "cpu", torch.Generator().manual_seed(seed))


def test_inputs_are_e4m3_with_per_tensor_scales_that_are_not_powers_of_two():
    x = _inputs()
    assert x.A.dtype == torch.float8_e4m3fn and x.Bt.dtype == torch.float8_e4m3fn
    assert x.A.shape == (128, 512) and x.Bt.shape == (192, 512)
    sa, sb = x.extra
    assert sa.dtype == torch.float32 and sa.numel() == 1 and sb.numel() == 1
    for s in (float(sa), float(sb)):
        assert s > 0 and torch.log2(torch.tensor(s)).frac() != 0   # a dropped scale cannot hide
    # quantised to the whole e4m3 range (amax -> 448), never all zero
    assert float(x.A.float().abs().max()) == 448.0 and float((x.A.float() != 0).float().mean()) > 0.99


def test_reference_is_the_dequantised_fp32_product():
    x = _inputs(64, 64, 256)
    sa, sb = (float(t) for t in x.extra)
    want = (x.A.double() * sa) @ (x.Bt.double() * sb).t()
    got = FP8.reference(x)
    assert got.dtype == torch.float32
    assert float((got.double() - want).norm() / want.norm()) < 1e-6


def test_vendor_passes_the_bounds_and_a_misapplied_scale_fails_them():
    x = _inputs(256, 256, 1024, seed=3)
    ref = FP8.reference(x)
    out = FP8.nan_out(256, 256, "cpu")
    FP8.vendor(x, out)                              # torch._scaled_mm (CPU here, cuBLASLt on a GPU)
    err, why = check(out, ref, FP8)
    assert why is None and 5e-4 < err < 4e-3       # bf16 output rounding: ~1.7e-3 measured
    bad, why = check((out.float() * 1.02).to(torch.bfloat16), ref, FP8)
    assert why is not None                          # a 2% scale error is caught
    forgot = (x.A.float() @ x.Bt.float().t()).to(torch.bfloat16)   # scales never applied
    assert check(forgot, ref, FP8)[1] is not None
    nan = FP8.nan_out(256, 256, "cpu")
    assert "NaN" in check(nan, ref, FP8)[1]          # an unwritten output never passes


def test_fp8_kernels_are_selected_by_dtype():
    hk8, hk16 = resolve("gfx950", "hipkittens", "fp8_e4m3"), resolve("gfx950", "hipkittens", "bf16")
    # one gfx950 template for both element types: fp8 is the same source with -DHKT_FP8 and its own space
    assert hk8.arch("gfx950").source == hk16.arch("gfx950").source
    assert "-DHKT_FP8" in hk8.flags_for("gfx950") and "-DHKT_FP8" not in hk16.flags_for("gfx950")
    assert hk8.space("gfx950").path.name == "hipkittens-gfx950-fp8_e4m3.yaml"
    tk, tk16 = resolve("sm_90", "thunderkittens", "fp8_e4m3"), resolve("sm_90", "thunderkittens", "bf16")
    # so is sm_90's: gemm.cu (and its schedule kernel sched.cuh) with -DHKT_FP8
    assert tk.arch("sm_90").source == tk16.arch("sm_90").source and tk.arch("sm_90").source.name == "gemm.cu"
    assert "-DHKT_FP8" in tk.flags_for("sm_90") and "-DHKT_FP8" not in tk16.flags_for("sm_90")
    assert tk.space("sm_90").path.name == "thunderkittens-sm_90-fp8_e4m3.yaml"
    assert tk.template_hash("sm_90") != resolve("sm_90", "thunderkittens").template_hash("sm_90")
    with pytest.raises(FamilyError, match="serves dtype fp8_e4m3 on gfx950, not on gfx942"):
        resolve("gfx942", "hipkittens", "fp8_e4m3")
    with pytest.raises(FamilyError, match="does not serve dtype fp8_e4m3"):
        resolve("sm_90", "cuda", "fp8_e4m3")


def test_family_schema_refuses_a_dtype_kernel_the_family_does_not_list(tmp_path: Path):
    doc = yaml.safe_load((ROOT / "kernels" / "host" / "family.yaml").read_text())
    arch = next(iter(doc["archs"]))
    doc["archs"][arch]["dtypes"] = {"fp8_e4m3": {"source": "x.cpp", "space": "x.yaml"}}
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "family.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(FamilyError, match="not one of the family's other dtypes"):
        load_family(tmp_path / "fam")


def test_spaces_load_and_seeds_are_valid():
    for fam, arch in (("hipkittens", "gfx950"), ("thunderkittens", "sm_90")):
        space = resolve(arch, fam, "fp8_e4m3").space(arch)
        assert space.seeds
        for s in space.seeds:
            cfg = {k: s[k] for k in space.names}
            assert space.violations(cfg) == [], (fam, cfg)
        assert space.enumerate((4096, 4096, 4096))


def test_hk_globals_carry_the_scale_pointers_before_the_xcd_count():
    blob = abi.hk_globals(0x1000, 0x2000, 0x3000, 256, 256, 512, 8, extra=(0xAAAA, 0xBBBB))
    assert len(blob) == 168
    assert int.from_bytes(blob[144:152], "little") == 0xAAAA and int.from_bytes(blob[152:160], "little") == 0xBBBB
    assert int.from_bytes(blob[160:164], "little") == 8
    assert len(abi.hk_globals(0x1000, 0x2000, 0x3000, 256, 256, 512)) == 152   # bf16 unchanged


@pytest.mark.parametrize("cmd", [["search", "--arch", "sm_90", "--m", "64", "--n", "64", "--k", "64"],
                                 ["compile", "--arch", "gfx950", "--all"], ["verify", "--arch", "gfx950", "--seeds"]])
def test_unknown_dtype_is_one_line_exit_2(cmd, tmp_path: Path):
    env = {**os.environ, "HKTUNE_CACHE_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "hktune", *cmd, "--dtype", "fp16"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("hktune: error:") and "fp16" in r.stderr
    assert r.stdout == ""


# -- compiled kernels ------------------------------------------------------------------------------
HK = os.environ.get("HKTUNE_TEST_HK_MAIN")
TK = os.environ.get("HKTUNE_TEST_TK")


def _hip_ok() -> bool:
    from hktune.build.compilers.hip import HipCompiler

    return HipCompiler().available()


@pytest.mark.skipif(not HK, reason="needs HKTUNE_TEST_HK_MAIN (HipKittens main)")
def test_gfx950_fp8_seeds_compile_to_f8f6f4_mfma_and_pass_the_static_checks(tmp_path: Path):
    if not _hip_ok():
        pytest.skip("needs a HIP device compiler (`hktune toolchain install`)")
    from hktune.build.builder import Builder
    from hktune.target import resolve_target

    target = resolve_target("gfx950", "hipkittens", "fp8_e4m3", {"hipkittens": HK})
    seeds = [{k: s[k] for k in target.space.names} for s in target.space.seeds]
    with Builder(target, jobs=2, cache=tmp_path / "cache") as b:
        outcomes = {tuple(o.config.values()): o for o in b.build_many(seeds)}
    why = {}
    for o in outcomes.values():
        assert o.ok, o.log_tail()                       # every seed compiles
        why[(o.config["BLOCK_M"], o.config["BLOCK_N"], o.config["SCHEDULE"])] = o.reason
        if o.reason is None:
            asm = o.asm.read_text()
            assert "v_mfma_f32_16x16x128_f8f6f4" in asm and "v_mfma_f32_16x16x32_bf16" not in asm
    # HK FP8_4wave's 256x256 4-wave config and the halves of both HK kernels pass the checks (HK
    # FP8_8wave's 256x256 spills and is not a seed: the space file says why)
    assert why == {(256, 256, 1): None, (256, 128, 0): None, (128, 128, 1): None}
    # the fp8 build is the bf16 template's code: the ping-pong declares its lag-1 barrier model to the
    # LDS checker, and every buffer_load ... lds gets its M0 from the asm block that issues it
    for o in outcomes.values():
        asm = o.asm.read_text()
        assert (";hkt.barrier_lag 1" in asm) == (o.config["SCHEDULE"] == 0)
        assert "s_mov_b32 m0, -1" not in asm


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_sm90_fp8_seed_compiles_with_e4m3_wgmma_and_no_spills(tmp_path: Path):
    from hktune.build.builder import Builder
    from hktune.target import resolve_target

    target = resolve_target("sm_90", "thunderkittens", "fp8_e4m3", {"thunderkittens": TK})
    seed = {k: target.space.seeds[0][k] for k in target.space.names}
    with Builder(target, jobs=1, cache=tmp_path / "cache") as b:
        o = b.build(seed)
    assert o.ok and o.reason is None, (o.reason, o.log_tail())
    assert int(o.resources.get("registers") or 0) > 0
    ptx = list(o.artifact.parent.glob("*.ptx"))
    if ptx:
        assert "e4m3.e4m3" in ptx[0].read_text()


def test_emulator_decodes_back_to_back_f8f6f4_mfmas_as_two_instructions():
    """tinygrad 0.14.0 decodes two consecutive unscaled 16x16x128 f8f6f4 MFMAs as one scaled MFMA;
    hktune's launcher narrows that match (hktune.emulator.launch.fix_scaled_mfma_decoding)."""
    from emu_env import emulator_missing

    if emulator_missing():
        pytest.skip(f"needs the emulator: {emulator_missing()}")
    from hktune.emulator.launch import fix_scaled_mfma_decoding
    from hktune.emulator.locate import find

    sys.path.insert(0, str(find().root))
    from tinygrad.renderer.amd import decode_inst

    # llvm-mc (clang 22, -mcpu=gfx950): v_mfma_scale_f32_16x16x128_f8f6f4 v[0:3], v[4:11], v[12:19],
    # v[0:3], v20, v21; then v_mfma_f32_16x16x128_f8f6f4 v[126:129], v[170:177], v[154:161], v[126:129]
    # and the same into v[130:133] with v[162:169]
    scaled = bytes.fromhex("0000acd3142b02000008add304190204")
    pair = bytes.fromhex("7e00add3aa35fb058200add3aa450b06")
    fix_scaled_mfma_decoding()
    first = decode_inst(pair, "cdna")
    assert type(first).__name__ == "VOP3P_MFMA" and first.size() == 8
    assert "v_mfma_f32_16x16x128_f8f6f4" in repr(first) and "v[126:129]" in repr(first)
    assert "v[130:133]" in repr(decode_inst(pair[8:] + bytes(8), "cdna"))
    real = decode_inst(scaled, "cdna")
    assert type(real).__name__ == "VOP3PX2" and real.size() == 16
    # clang 22 for gfx950: v_lshlrev_b32_e32 v22, 4, v0 (a VOP2 whose bits 22..16 read 44, the
    # scale prefix's op); s_waitcnt vmcnt(0); v_mfma_f32_16x16x128_f8f6f4 v[18:21], v[2:9], v[10:17], v[18:21]
    before = bytes.fromhex("84002c24700f8cbf1200add302154a04")
    shl = decode_inst(before, "cdna")
    assert shl.size() == 4 and "v_lshlrev_b32" in repr(shl)
    assert type(decode_inst(before[8:] + bytes(8), "cdna")).__name__ == "VOP3P_MFMA"


def test_fp8_search_end_to_end_on_the_host_with_the_scaled_abi(tmp_path: Path):
    """The real fp8_e4m3 dtype through search on the CPU (tests/families/fp8host: a naive e4m3 kernel
    with hktune_gemm(A, Bt, C, scale_a, scale_b, M, N, K, stream)): the configs that drop scale_b
    fail verification, the others are verified against the dequantised reference and timed against
    torch._scaled_mm; the table entry is keyed by the dtype."""
    table = tmp_path / "host.yaml"
    r = subprocess.run([sys.executable, "-m", "hktune", "search", "--arch", "host", "--family", "fp8host", "--dtype",
                        "fp8_e4m3", "--m", "32", "--n", "32", "--k", "64", "--trials", "4", "--sampler", "exhaustive",
                        "--table", str(table), "--storage", str(tmp_path / "s.journal"), "--quiet"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"^verified +2$", r.stdout, re.M) and re.search(r"^failed +2$", r.stdout, re.M), r.stdout
    assert "2x wrong result" in r.stdout
    (e,) = yaml.safe_load(table.read_text())["entries"]
    assert e["key"]["dtype"] == "fp8_e4m3" and e["key"]["family"] == "fp8host"
    assert e["config"]["DROP_SCALE"] == 0 and e["vendor"]["name"] == "torch._scaled_mm"
    assert 5e-4 < e["error"] < 4e-3
