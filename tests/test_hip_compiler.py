"""HipCompiler: command lines (pure), resource parsing, and real device-only compiles for gfx942 / gfx950.

The real compiles need the portable toolchain (`hktune toolchain install`). Without it they are
skipped, unless HKTUNE_REQUIRE_AMD_TOOLCHAIN is set (CI), where a missing toolchain is a failure.
"""
from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from hktune.build import toolchain as T
from hktune.build.compilers import get_compiler
from hktune.build.compilers.base import CompileJob, CompilerMissing
from hktune.build.compilers.hip import MISSING, REMARKS, HipCompiler, collect_resources, plan

DATA = Path(__file__).parent / "data" / "hip"
KERNEL = DATA / "tiny_gemm.hip"
ARCH_DEFINE = {"gfx942": "-DKITTENS_CDNA3", "gfx950": "-DKITTENS_CDNA4"}


@pytest.fixture(scope="module")
def portable() -> T.Toolchain:
    tc = T.find()
    if tc is None:
        where = T.default_prefix()
        if os.environ.get("HKTUNE_REQUIRE_AMD_TOOLCHAIN"):
            pytest.fail(f"HKTUNE_REQUIRE_AMD_TOOLCHAIN is set but no portable AMD toolchain is installed in {where}; "
                        "run `hktune toolchain install`")
        pytest.skip(f"portable AMD toolchain not installed in {where} (run `hktune toolchain install`; "
                    "set HKTUNE_REQUIRE_AMD_TOOLCHAIN=1 to make this a failure)")
    return tc


def _job(tmp_path, arch, defines=None, flags=None, source=KERNEL, includes=()):
    return CompileJob(source=source, out=tmp_path / arch / "lib.so", arch=arch,
                      defines=defines if defines is not None else {"BLOCK_M": 32, "BLOCK_N": 64, "BLOCK_K": 32},
                      flags=tuple(flags if flags is not None else ("-O3", "-std=c++17", ARCH_DEFINE[arch])),
                      include_dirs=tuple(includes))


# ---- real compiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["gfx942", "gfx950"])
def test_compile_tiny_gemm(portable, tmp_path, arch):
    cc = HipCompiler(portable)
    assert cc.available() and cc.version() == portable.version
    r = cc.compile(_job(tmp_path, arch, flags=("-O3", "-std=c++17", ARCH_DEFINE[arch], f"--offload-arch={arch}"),
                        includes=(DATA,)))
    assert r.ok, r.log
    print(f"{arch}: {r.seconds:.2f} s per compile, resources {r.resources}")
    assert not r.runnable
    assert r.artifact == tmp_path / arch / "lib.hsaco"
    elf = r.artifact.read_bytes()
    assert elf[:4] == b"\x7fELF" and struct.unpack_from("<H", elf, 0x12)[0] == 0xE0  # EM_AMDGPU
    asm = r.asm.read_text()
    assert f'.amdgcn_target "amdgcn-amd-amdhsa--{arch}"' in asm
    assert "tiny_gemm" in asm
    res = r.resources
    assert res["vgprs"] > 0 and res["sgprs"] > 0 and res["occupancy"] > 0
    assert res["vgpr_spills"] == 0 and res["sgpr_spills"] == 0 and res["scratch_bytes"] == 0
    assert res["lds_bytes"] == (32 + 64) * 32 * 2  # static __shared__ A and Bt tiles
    assert res["code_bytes"] > 0 and res["mfma_count"] > 0 and res["kernels"] == 1
    assert "resource mismatch" not in r.log  # remarks agree with the code object's metadata
    assert not (tmp_path / arch / "lib.o").exists()


def test_offload_arch_added_from_job_arch(portable, tmp_path):
    r = HipCompiler(portable).compile(_job(tmp_path, "gfx950", flags=("-O2",)))
    assert r.ok, r.log
    assert "--offload-arch=gfx950" in r.log and "amdgcn-amd-amdhsa--gfx950" in r.asm.read_text()


def test_target_features_reach_the_code_object(portable, tmp_path):
    r = HipCompiler(portable).compile(_job(tmp_path, "gfx942", flags=("-O3", "--offload-arch=gfx942:xnack-")))
    assert r.ok, r.log
    assert '.amdgcn_target "amdgcn-amd-amdhsa--gfx942:xnack-"' in r.asm.read_text()


def test_compile_error_is_a_failed_result(portable, tmp_path):
    bad = tmp_path / "bad.hip"
    bad.write_text("#include <hip/hip_runtime.h>\n__global__ void k(float* x) { x[0] = undeclared; }\n")
    r = HipCompiler(portable).compile(_job(tmp_path, "gfx950", source=bad))
    assert not r.ok and r.artifact is None
    assert "undeclared" in r.log and "error: asm step failed" in r.log


# ---- no compiler needed --------------------------------------------------------------------


def _fake_tc(tmp_path, clang) -> T.Toolchain:
    return T.Toolchain(kind="portable", clang=tuple(clang), rocm_path=tmp_path, version="fake")


def test_timeout_is_a_failed_result_not_a_hang(tmp_path):
    cc = HipCompiler(_fake_tc(tmp_path, ["/bin/sh", "-c", "sleep 30"]), timeout=0.5)
    r = cc.compile(_job(tmp_path, "gfx950"))
    assert not r.ok and r.seconds < 10
    assert "timed out after 0.5 s" in r.log


def test_missing_toolchain(monkeypatch):
    monkeypatch.setattr(T, "best", lambda: None)
    cc = HipCompiler()
    assert not cc.available()
    with pytest.raises(CompilerMissing) as e:
        cc.compile(CompileJob(KERNEL, Path("/tmp/x.so"), "gfx950", {}))
    assert str(e.value) == MISSING == "no HIP compiler: install ROCm (set ROCM_PATH) or run `hktune toolchain install`"
    with pytest.raises(CompilerMissing):
        cc.version()


def test_registry_gives_hip_compiler():
    cc = get_compiler("hip")
    assert isinstance(cc, HipCompiler) and cc.name == "hip"


def _fake_rocm(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    hipcc = root / "bin" / "hipcc"
    hipcc.write_text("#!/bin/sh\nexit 99\n")  # never run by these tests
    hipcc.chmod(hipcc.stat().st_mode | stat.S_IXUSR)
    return root


def test_rocm_argv(monkeypatch, tmp_path):
    rocm = _fake_rocm(tmp_path / "rocm")
    monkeypatch.setenv("ROCM_PATH", str(rocm))
    tc = T.rocm_toolchain(probe=False)
    hipcc = str(rocm / "bin" / "hipcc")
    out = tmp_path / "build" / "lib.so"
    job = CompileJob(source=Path("/src/gemm.cpp"), out=out, arch="gfx950", defines={"BLOCK_M": 256, "NAME": "x"},
                     flags=("--offload-arch=gfx950", "-DKITTENS_CDNA4", "-std=c++20", "-O3", "-w"),
                     include_dirs=(Path("/hk/include"),))
    p = plan(tc, job)
    assert p.runnable and p.artifact == out and p.asm == out.with_suffix(".s")
    lib, asm = p.steps
    assert list(lib.argv) == [hipcc, "-x", "hip", "--offload-arch=gfx950", "-DKITTENS_CDNA4", "-std=c++20", "-O3",
                              "-w", "-DBLOCK_M=256", "-DNAME=x", "-I/hk/include", "-shared", "-fPIC",
                              "-o", str(out), "/src/gemm.cpp"]
    assert list(asm.argv) == [hipcc, "-x", "hip", "--cuda-device-only", "--offload-arch=gfx950", "-DKITTENS_CDNA4",
                              "-std=c++20", "-O3", "-w", "-DBLOCK_M=256", "-DNAME=x", "-I/hk/include", REMARKS,
                              "-S", "-o", str(out.with_suffix(".s")), "/src/gemm.cpp"]
    assert asm.remarks and not lib.remarks
    assert tc.env["ROCM_PATH"] == str(rocm)


def test_rocm_argv_adds_offload_arch_and_drops_other_archs(monkeypatch, tmp_path):
    rocm = _fake_rocm(tmp_path / "rocm")
    tc = T.rocm_toolchain(rocm, probe=False)
    job = CompileJob(Path("k.cpp"), tmp_path / "lib.so", "gfx942", {}, flags=("-O3",))
    assert "--offload-arch=gfx942" in plan(tc, job).steps[0].argv
    job = CompileJob(Path("k.cpp"), tmp_path / "lib.so", "gfx942", {}, flags=("--offload-arch=gfx950", "-O3"))
    argv = plan(tc, job).steps[0].argv
    assert "--offload-arch=gfx942" in argv and "--offload-arch=gfx950" not in argv


def test_portable_argv(tmp_path):
    tc = T.Toolchain(kind="portable", clang=("/tc/zig", "clang"), rocm_path=Path("/tc/rocm"), version="v",
                     flags=("--rocm-path=/tc/rocm",), linker=("/tc/zig", "ld.lld"))
    out = tmp_path / "lib.so"
    p = plan(tc, CompileJob(Path("k.hip"), out, "gfx942", {"A": 1}, ("-O3", "--offload-arch=gfx942:xnack-")))
    assert not p.runnable and p.artifact == out.with_suffix(".hsaco")
    asm, assemble, link = p.steps
    assert list(asm.argv) == ["/tc/zig", "clang", "--rocm-path=/tc/rocm", "-x", "hip", "--cuda-device-only",
                              "--offload-arch=gfx942:xnack-", "-O3", "-DA=1", REMARKS, "-S", "-o", str(p.asm), "k.hip"]
    assert "-mcpu=gfx942:xnack-" in assemble.argv and assemble.argv[-1] == str(p.asm)
    assert list(link.argv[:2]) == ["/tc/zig", "ld.lld"] and link.argv[-3:] == ("-o", str(p.artifact),
                                                                               str(out.with_suffix(".o")))


HIPCC_STYLE = """\
k.cpp:10:1: remark: Function Name: _Z5smallPf [-Rpass-analysis=kernel-resource-usage]
   10 | __global__ void small(float* x) {
      | ^
k.cpp:10:1: remark:     SGPRs: 18 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     VGPRs: 12 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     AGPRs: 0 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     ScratchSize [bytes/lane]: 0 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     Occupancy [waves/SIMD]: 8 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     SGPRs Spill: 0 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     VGPRs Spill: 0 [-Rpass-analysis=kernel-resource-usage]
k.cpp:10:1: remark:     LDS Size [bytes/block]: 0 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark: Function Name: _Z3bigPf [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     TotalSGPRs: 40 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     VGPRs: 256 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     AGPRs: 64 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     ScratchSize [bytes/lane]: 16 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     Dynamic Stack: False [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     Occupancy [waves/SIMD]: 1 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     SGPRs Spill: 0 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     VGPRs Spill: 3 [-Rpass-analysis=kernel-resource-usage]
k.cpp:20:1: remark:     LDS Size [bytes/block]: 65536 [-Rpass-analysis=kernel-resource-usage]
"""


def test_remarks_both_spellings_worst_kernel_wins(tmp_path):
    asm = tmp_path / "k.s"
    asm.write_text('\t.amdgcn_target "amdgcn-amd-amdhsa--gfx942"\n\tv_mfma_f32_16x16x16_bf16 a[0:3], v[0:1], v[2:3], 0\n'
                   "; codeLenInByte = 100\n; Occupancy: 8\n; codeLenInByte = 2000\n; Occupancy: 1\n")
    res, notes = collect_resources(HIPCC_STYLE, asm, None)
    assert res == {"vgprs": 256, "agprs": 64, "sgprs": 40, "scratch_bytes": 16, "vgpr_spills": 3, "sgpr_spills": 0,
                   "occupancy": 1, "lds_bytes": 65536, "code_bytes": 2000, "mfma_count": 1, "kernels": 2}
    assert "target amdgcn-amd-amdhsa--gfx942" in notes
    small, _ = collect_resources(HIPCC_STYLE.split("k.cpp:20:1")[0], None, None)
    assert small["sgprs"] == 18 and small["vgprs"] == 12 and small["occupancy"] == 8
