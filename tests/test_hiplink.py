"""hiplink: the host + device HipKittens library linked without ROCm, and its dlopen check.

Pure tests (bundle format, command lines, verdicts) run everywhere. The real ones link the seeds
of gfx950 and gfx942 against the Debian HIP runtime and load them in a child process; they need
HKTUNE_TEST_HK_MAIN / HKTUNE_TEST_HK_CDNA3, the portable toolchain and `hktune toolchain install
--runtime`. With HKTUNE_REQUIRE_AMD_TOOLCHAIN set (CI) a missing toolchain or runtime fails.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from emu_env import hk_root, seed
from hktune.build import toolchain as T
from hktune.build.amd.resources import code_objects
from hktune.build.compilers.base import CompileJob
from hktune.build.hiplink import link as L
from hktune.build.hiplink import load as LD
from hktune.build.hiplink import runtime as RT

ELF_AMDGPU = b"\x7fELF" + b"\0" * 14 + struct.pack("<H", 0xE0) + b"payload" * 10


def test_offload_bundle_layout_matches_clang_offload_bundler():
    data = L.offload_bundle([("host-x86_64-unknown-linux-gnu-", b""), ("hipv4-amdgcn-amd-amdhsa--gfx950", ELF_AMDGPU)])
    assert data.startswith(b"__CLANG_OFFLOAD_BUNDLE__")
    assert struct.unpack_from("<Q", data, 24)[0] == 2
    off0, size0, tl0 = struct.unpack_from("<QQQ", data, 32)
    assert size0 == 0 and data[56:56 + tl0] == b"host-x86_64-unknown-linux-gnu-"
    off1, size1, tl1 = struct.unpack_from("<QQQ", data, 56 + tl0)
    assert off1 % 4096 == 0 and size1 == len(ELF_AMDGPU) and data[off1:off1 + size1] == ELF_AMDGPU
    assert list(code_objects(b"prefix" + data)) == [ELF_AMDGPU]  # what the HIP runtime / our parser read back


def _fake(tmp_path):
    tc = T.Toolchain(kind="portable", clang=("/tc/zig", "clang"), rocm_path=Path("/tc/rocm"), version="v",
                     flags=("--target=x86_64-unknown-linux-gnu",), bin_dir=Path("/tc/bin"))
    rt = RT.Runtime(Path("/rt"))
    hsaco = tmp_path / "k.hsaco"
    hsaco.write_bytes(ELF_AMDGPU)
    job = CompileJob(source=Path("/src/gemm.cpp"), out=hsaco, arch="gfx950", defines={"BLOCK_M": 128},
                     flags=("-O3", "--offload-arch=gfx950", "--offload-arch=gfx942"), include_dirs=(Path("/hk/include"),))
    return tc, rt, job, hsaco


def test_plan_is_hipccs_host_compile_and_link(tmp_path):
    tc, rt, job, hsaco = _fake(tmp_path)
    fatbin, (host, link) = L.plan(tc, rt, job, hsaco, tmp_path / "out.so")
    assert list(code_objects(fatbin)) == [ELF_AMDGPU]
    assert b"hipv4-amdgcn-amd-amdhsa--gfx950" in fatbin
    assert host[:2] == ("/tc/zig", "clang") and "--cuda-host-only" in host and "-fPIC" in host
    assert "--offload-arch=gfx950" in host and "--offload-arch=gfx942" not in host  # one arch per library
    i = host.index("-fcuda-include-gpubinary")
    assert host[i - 1] == "-Xclang" and host[i + 2] == str(tmp_path / "out.hipfb")
    assert "-DBLOCK_M=128" in host and "-I/hk/include" in host and host[-1] == "/src/gemm.cpp"
    assert "-shared" in link and "-lamdhip64" in link and "-L/rt/link" in link and "--ld-path=/tc/bin/lld" in link
    assert link[link.index("-o") + 1] == str(tmp_path / "out.so")


def test_rocm_toolchain_keeps_its_own_library(tmp_path):
    tc = T.Toolchain(kind="rocm", clang=("/opt/rocm/bin/hipcc",), rocm_path=Path("/opt/rocm"), version="ROCm 7")
    so = tmp_path / "lib.so"
    so.write_bytes(b"x")
    got = L.link(tc, None, _fake(tmp_path)[2], so, tmp_path / "other.so")
    assert got.ok and got.library == so and not (tmp_path / "other.so").exists()


def test_portable_link_without_runtime_says_how_to_get_it(tmp_path):
    tc, _, job, hsaco = _fake(tmp_path)
    got = L.link(tc, None, job, hsaco, tmp_path / "o.so")
    assert not got.ok and "hktune toolchain install --runtime" in got.log[-1]


CLEAN = {"config": "A=1", "devices": 0, "hipGetDeviceCount": "100 (no device)", "bad_args": 1, "no_device": 2,
         "hipGetLastError": "100 (no device)"}


@pytest.mark.parametrize("change,ok,words", [
    ({}, True, "dlopen ok"),
    ({"config": "A=2"}, False, "expected 'A=1'"),
    ({"bad_args": 0}, False, "NULL"),
    ({"no_device": 0}, False, "no device returned 0"),   # a launcher that pretends to have launched
    ({"devices": 1, "no_device": None}, True, "not called with host buffers"),
])
def test_verdict(change, ok, words):
    got, line = LD.verdict({**CLEAN, **change}, "A=1")
    assert got is ok and words in line


def test_loader_command_uses_the_runtime_sysroot(tmp_path):
    argv, env = LD.argv_env(tmp_path / "x.so", (256, 256, 448), RT.Runtime(Path("/rt")), None)
    assert argv[:3] == ["/rt/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--library-path", "/rt/usr/lib/x86_64-linux-gnu"]
    assert argv[-4:] == [str(tmp_path / "x.so"), "256", "256", "448"] and "LD_LIBRARY_PATH" not in env
    argv, env = LD.argv_env(tmp_path / "x.so", (1, 2, 3), None, Path("/opt/rocm"))
    assert env["LD_LIBRARY_PATH"] == "/opt/rocm/lib" and argv[1] == str(LD.CHILD)


# ---- real: link both archs' seeds and load them -------------------------------------------------


@pytest.fixture(scope="module")
def installed():
    tc = T.find()
    rt = RT.find(tc.prefix) if tc else None
    if tc is None or rt is None:
        msg = "needs `hktune toolchain install --runtime` (portable toolchain + Debian HIP runtime)"
        if os.environ.get("HKTUNE_REQUIRE_AMD_TOOLCHAIN"):
            pytest.fail("HKTUNE_REQUIRE_AMD_TOOLCHAIN is set: " + msg)
        pytest.skip(msg)
    return tc, rt


@pytest.mark.parametrize("arch", ["gfx950", "gfx942"])
def test_seed_library_links_loads_and_reports_no_device(arch, installed, tmp_path):
    from hktune.build.builder import Builder
    from hktune.build.compilers.hip import HipCompiler
    from hktune.build.hiplink import link_and_load
    from hktune.emulator.verify import default_shape
    from hktune.family.family import resolve
    from hktune.target import make_target

    root = hk_root(arch)
    if root is None:
        pytest.skip(f"needs the HipKittens tree for {arch}")
    tc, rt = installed
    fam = resolve(arch, "hipkittens")
    space = fam.space(arch)
    cfg = seed(arch)
    with Builder(make_target(fam, arch, space, include_dirs=[root / "include"]), jobs=1, compiler=HipCompiler(tc)) as b:
        o = b.build(cfg)
        assert o.ok, o.reason
        rep = link_and_load(b, o, tmp_path, default_shape(space, cfg))
    assert rep.ok, rep.line + "\n" + "\n".join(rep.log[-10:])
    data = rep.library.read_bytes()
    assert data[:4] == b"\x7fELF" and b"libamdhip64.so.7" in data and b".hip_fatbin" in data
    assert list(code_objects(data)) == [Path(o.artifact).read_bytes()]
    assert "host registers 1/1 kernel(s)" in rep.line
    # a "library" holding the code object but no host half registering its kernel is caught
    from hktune.build.hiplink import code_object_note

    fake = tmp_path / "fake.so"
    fake.write_bytes(b"\x7fELF host without registration" + L.offload_bundle([("hipv4-amdgcn-amd-amdhsa--" + arch, Path(o.artifact).read_bytes())]))
    agree, note = code_object_note(fake, Path(o.artifact))
    assert not agree and "host registers 0/1" in note
    assert rep.result["no_device"] == LD.EXPECT_NO_DEVICE and rep.result["devices"] == 0
    assert rep.result["config"] == ",".join(f"{k}={v}" for k, v in cfg.items())
    # the same child, told to expect another config, says so (the check can fail)
    ok, line, _ = LD.dlopen_check(rep.library, default_shape(space, cfg), "NOT=1", rt)
    assert not ok and "expected 'NOT=1'" in line
    # and a file that is no library is a clean failure, not a crash of hktune
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF")
    ok, line, _ = LD.dlopen_check(junk, (1, 1, 1), "x", rt)
    assert not ok and "failed" in line


def test_link_refuses_a_family_that_is_not_hip(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "libs"
    p = subprocess.run([sys.executable, "-m", "hktune", "compile", "--arch", "host", "--all", "--limit", "1",
                        "--link", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and p.stderr.strip() == "hktune: error: --link links HIP libraries; family host uses gcc"
    assert not out.exists()  # nothing created


def test_runtime_install_names_a_pin_the_registry_no_longer_has(tmp_path):
    calls = []

    def runner(argv, *, cwd=None, env=None, timeout=None):
        calls.append(argv)
        if argv[0] == "apt-cache":
            return T.RunResult(0, f" {argv[-1]} | 9.9-1 | http://deb.debian.org/debian experimental/main amd64 Packages\n")
        return T.RunResult(0)

    with pytest.raises(T.ToolchainError, match=r"libamdhip64-7 pinned to 7\.2\.4-1~exp2 .*available: 9\.9-1 \(experimental\)"):
        RT.install(tmp_path, runner=runner)
    assert not any(a[0] == "apt-get" and "download" in a for a in calls)  # nothing fetched
    assert RT.find(tmp_path) is None
