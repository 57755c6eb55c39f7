"""The exported header keyed by dtype (issue 22): an fp8_e4m3 group has its own space's struct and
lookup beside the bf16 one, and ``gemm_fn_fp8_e4m3_ABt`` is the scaled C ABI: g++ checks it is the
very type of a real fp8 kernel's ``hktune_gemm`` (tests/families/fp8host) and calls the kernel
through it; bf16's ``gemm_fn`` is checked against the host family's kernel the same way."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hktune.export.header import ExportError, export_header
from hktune.space.space import load_space
from hktune.family.family import resolve

from test_export import CXXFLAGS, SPACE, compile_and_run, entry

ROOT = Path(__file__).resolve().parent.parent
FP8HOST = ROOT / "tests" / "families" / "fp8host" / "gemm.cpp"
HOST = ROOT / "kernels" / "host" / "gemm.cpp"
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")

FP8_SPACE = """\
family: cuda
params:
  M_BLOCK: [64, 128]
  STAGES: [2, 4]
shape_constraints:
  - M % M_BLOCK == 0
"""


@pytest.fixture
def space_for(tmp_path: Path):
    (tmp_path / "bf16.yaml").write_text(SPACE)
    (tmp_path / "fp8.yaml").write_text(FP8_SPACE)
    return lambda family, arch, dtype: load_space(tmp_path / ("fp8.yaml" if dtype == "fp8_e4m3" else "bf16.yaml"), arch)


def fp8(m: int, n: int, k: int, mb: int, stages: int, tflops: float):  # noqa: ANN201
    return dataclasses.replace(entry(m, n, k, 64, 64, 32, tflops, dtype="fp8_e4m3"), config={"M_BLOCK": mb, "STAGES": stages})


@needs_gxx
def test_each_dtype_gets_its_space_struct_lookup_and_launch_signature(tmp_path: Path, space_for) -> None:
    text = export_header([entry(1024, 1024, 1024, 64, 64, 32, 300.0), fp8(1024, 1024, 1024, 128, 4, 600.0),
                          fp8(256, 256, 256, 64, 2, 90.0)], space_for)
    main = """
#include <type_traits>
using namespace hktune;
static_assert(lookup_cuda_sm_90(1024, 1024, 1024)->BLOCK_M == 64, "bf16: the plain names, unchanged");
static_assert(lookup_cuda_sm_90_fp8_e4m3_ABt(1024, 1024, 1024)->STAGES == 4, "fp8: its own space's knobs");
static_assert(lookup_cuda_sm_90_fp8_e4m3_ABt(192, 256, 256)->M_BLOCK == 64, "fp8 nearest legal entry");
static_assert(sm_90::cuda_fp8_e4m3_ABt_count == 2 && sm_90::cuda_count == 1, "");
static_assert(sizeof(sm_90::CudaFp8E4m3ABtConfig) == 2 * sizeof(int) && sizeof(sm_90::CudaConfig) == 4 * sizeof(int), "");
static_assert(std::is_same<gemm_fn, int (*)(const void*, const void*, void*, int, int, int, void*)>::value, "");
static_assert(std::is_same<gemm_fn_fp8_e4m3_ABt,
              int (*)(const void*, const void*, void*, const void*, const void*, int, int, int, void*)>::value, "");
int main() {}
"""
    compile_and_run(tmp_path, text, main)
    assert "scale_a, scale_b: device pointers to one float32 each" in text
    assert "A [M,K] and Bt [N,K] float8_e4m3fn, C [M,N] bfloat16" in text


def test_an_unknown_dtype_or_an_unserved_one_is_refused(space_for) -> None:
    with pytest.raises(ExportError, match="unknown dtype 'fp16'"):
        export_header([entry(64, 64, 64, 32, 32, 16, 1.0, dtype="fp16")], space_for)
    bf16_only = lambda family, arch, dtype: resolve("host", "host", dtype).space("host")  # noqa: E731
    with pytest.raises(Exception, match="does not serve dtype fp8_e4m3"):
        export_header([fp8(64, 64, 64, 64, 2, 1.0)], bf16_only)


def _table(path: Path) -> Path:
    base = {"tflops": 0.02, "time_us": 25.0, "spread": 0.04, "ratio": 2.0, "ratio_lo": 1.5, "ratio_hi": 2.5,
            "error": 0.0017, "trials": 4, "date": "2026-12-04T00:00:00+00:00",
            "device": {"name": "CPU", "units": 2, "arch": "host"}, "toolchain": {"compiler": "g++"},
            "template_hash": "0" * 16}
    e8 = {"key": {"family": "fp8host", "arch": "host", "dtype": "fp8_e4m3", "layout": "ABt", "m": 32, "n": 32, "k": 64},
          "config": {"BLOCK_M": 16, "DROP_SCALE": 0}, "vendor": {"name": "torch._scaled_mm", "tflops": 0.01}, **base}
    e16 = {"key": {"family": "host", "arch": "host", "dtype": "bf16", "layout": "ABt", "m": 32, "n": 32, "k": 64},
           "config": {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 64, "MICRO_M": 4, "SCHEDULE": 0},
           "vendor": {"name": "torch.matmul", "tflops": 0.01}, **base}
    path.write_text(yaml.safe_dump({"schema": 1, "entries": [e8, e16]}, sort_keys=False))
    return path


# The header's structs carry the space's param names, so the kernel's -D'd knobs come after the
# lookup is used (docs: do not include the header where those names are macros).
CALL = r"""
#include <cstdint>
#include <cstring>
#include <type_traits>
static bool lookup_ok() {
  const hktune::host::Fp8hostFp8E4m3ABtConfig* c = hktune::lookup_fp8host_host_fp8_e4m3_ABt(32, 32, 64);
  return c != nullptr && c->BLOCK_M == 16 && c->DROP_SCALE == 0;
}
#define BLOCK_M 16
#define DROP_SCALE 0
#include "KERNEL"
static_assert(std::is_same<decltype(&hktune_gemm), hktune::gemm_fn_fp8_e4m3_ABt>::value,
              "the exported signature is the kernel's own");
int main() {
  if (!lookup_ok()) return 3;
  static std::uint8_t A[32 * 64], Bt[32 * 64];
  static std::uint16_t C[32 * 32];
  std::memset(A, 0x38, sizeof A);   // e4m3 1.0
  std::memset(Bt, 0x40, sizeof Bt); // e4m3 2.0
  const float sa = 0.5f, sb = 0.25f;
  hktune::gemm_fn_fp8_e4m3_ABt f = &hktune_gemm;
  if (f(A, Bt, C, &sa, &sb, 32, 32, 64, nullptr) != 0) return 4;
  float out;
  const std::uint32_t bits = std::uint32_t(C[5]) << 16;
  std::memcpy(&out, &bits, 4);
  std::printf("%g\n", out);   // 64 * 1 * 2 * 0.5 * 0.25 = 16
}
"""


@needs_gxx
def test_hktune_export_writes_an_fp8_header_a_real_kernel_links_against(tmp_path: Path) -> None:
    table = _table(tmp_path / "host.yaml")
    env = {**os.environ, "HKTUNE_FAMILY_PATH": str(ROOT / "tests" / "families")}
    out = tmp_path / "hktune_configs.h"
    r = subprocess.run([sys.executable, "-m", "hktune", "export", "--table", str(table), "--out", str(out), "--json"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert set(yaml.safe_load(r.stdout)["lookups"]) == {"lookup_fp8host_host_fp8_e4m3_ABt", "lookup_host_host"}
    text = out.read_text()
    assert "fp8host on host, fp8_e4m3 ABt: 1 entries" in text and "host on host, bf16 ABt: 1 entries" in text
    src = tmp_path / "call.cpp"
    src.write_text(f'#include "{out}"\n#include <cstdio>\n' + CALL.replace("KERNEL", str(FP8HOST)))
    exe = tmp_path / "call"
    cc = subprocess.run(["g++", *CXXFLAGS, "-fopenmp", str(src), "-o", str(exe)],
                        capture_output=True, text=True, timeout=120)
    assert cc.returncode == 0, cc.stderr[:3000]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "16", (run.returncode, run.stdout, run.stderr)
    # bf16's gemm_fn is the host kernel's own type too
    host = tmp_path / "host.cpp"
    defs = "".join(f"#define {k} {v}\n" for k, v in {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 64, "MICRO_M": 4, "SCHEDULE": 0}.items())
    host.write_text(f'#include "{out}"\n{defs}#include "{HOST}"\n#include <type_traits>\n'
                    "static_assert(std::is_same<decltype(&hktune_gemm), hktune::gemm_fn>::value, \"\");\n")
    cc = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", str(host)], capture_output=True, text=True, timeout=120)
    assert cc.returncode == 0, cc.stderr[:3000]
    # --dtype: only that dtype's entries
    r = subprocess.run([sys.executable, "-m", "hktune", "export", "--table", str(table), "--out", str(out),
                        "--dtype", "fp8_e4m3"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and "wrote" in r.stderr and "1 entries" in r.stderr, r.stderr
    assert "host on host, bf16" not in out.read_text()
