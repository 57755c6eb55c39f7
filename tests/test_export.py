"""The exported C++ header: it compiles, its lookup matches Python's, it never returns an illegal config."""
from __future__ import annotations

import dataclasses
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from hktune.export.header import ExportError, export_header, ident, legal, log2_q, ordered, pick
from hktune.space.space import load_space
from hktune.record.table import Entry, Key

GXX = shutil.which("g++")
needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ is not installed")
CXXFLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]

SPACE = """\
family: cuda
params:
  BLOCK_M: [32, 64, 128]
  BLOCK_N: [32, 64, 128, 256]
  K_STEP: [16, 32, 64]
derived:
  TILE: BLOCK_M * BLOCK_N
constraints:
  - TILE <= 16384
shape_constraints:
  - M % BLOCK_M == 0
  - N % BLOCK_N == 0
  - K % K_STEP == 0
"""


def entry(m: int, n: int, k: int, bm: int, bn: int, ks: int, tflops: float, ratio: float = 1.2,
          family: str = "cuda", arch: str = "sm_90", dtype: str = "bf16") -> Entry:
    return Entry(
        key=Key(family, arch, dtype, "ABt", m, n, k),
        config={"BLOCK_M": bm, "BLOCK_N": bn, "K_STEP": ks},
        tflops=tflops, time_us=1.0, spread=0.01,
        vendor={"name": "torch.matmul", "tflops": tflops / ratio}, ratio=ratio,
        error=0.003, trials=50, date="2026-11-21T10:00:00+00:00",
        device={"name": "test", "units": 1, "arch": arch}, toolchain={}, template_hash="0" * 16,
    )


ENTRIES = [
    entry(256, 256, 256, 32, 32, 16, 100.0, ratio=0.5),
    entry(1024, 1024, 1024, 64, 64, 32, 300.0),
    entry(2048, 2048, 2048, 128, 64, 32, 400.0),
    entry(4096, 4096, 4096, 64, 256, 64, 450.0),
    entry(8192, 8192, 8192, 128, 128, 64, 500.0),
    entry(8192, 8192, 8192, 32, 32, 16, 90.0),  # a slower duplicate of a key: the faster one is kept
]


@pytest.fixture
def space_for(tmp_path: Path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return lambda family, arch, dtype="bf16": load_space(path, arch)


def compile_and_run(tmp_path: Path, header: str, main: str, stdin: str = "", name: str = "t") -> str:
    (tmp_path / "hktune_configs.h").write_text(header)
    src = tmp_path / f"{name}.cpp"
    src.write_text('#include "hktune_configs.h"\n#include <cstdio>\n' + main)
    exe = tmp_path / name
    cc = subprocess.run([GXX, *CXXFLAGS, str(src), "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[:4000]
    run = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def index_of(entries: list[Entry], m: int, n: int, k: int) -> int:
    return next(i for i, e in enumerate(ordered(entries)) if (e.key.m, e.key.n, e.key.k) == (m, n, k))


@needs_gxx
def test_header_lookup_matches_python_and_is_always_legal(tmp_path: Path, space_for) -> None:
    out = tmp_path / "include" / "hktune_configs.h"
    text = export_header(ENTRIES, space_for, out, table="results/sm_90.yaml")
    assert out.read_text() == text and "results/sm_90.yaml" in text
    exact = index_of(ENTRIES, 8192, 8192, 8192)
    main = f"""
using namespace hktune;
// A hand-written copy of the space's shape constraints: an independent check of the header.
constexpr bool fits(const sm_90::CudaConfig* c, int M, int N, int K) {{
  return M % c->BLOCK_M == 0 && N % c->BLOCK_N == 0 && K % c->K_STEP == 0;
}}
static_assert(lookup_cuda_sm_90(8192, 8192, 8192) == &sm_90::cuda_entries[{exact}].config, "exact match");
static_assert(lookup_cuda_sm_90(8192, 8192, 8192)->BLOCK_M == 128, "the faster duplicate wins");
static_assert(lookup_cuda_sm_90(8192, 8192, 8192)->TILE == 128 * 128, "derived values are there");
static_assert(has_cuda_sm_90(8064, 8192, 8192), "a near shape finds a config");
static_assert(fits(lookup_cuda_sm_90(8064, 8192, 8192), 8064, 8192, 8192), "and it is legal");
static_assert(lookup_cuda_sm_90(100, 64, 64) == nullptr, "no config divides M=100");
static_assert(lookup_cuda_sm_90(0, 64, 64) == nullptr && lookup_cuda_sm_90(-64, 64, 64) == nullptr, "M > 0");
static_assert(sm_90::cuda_count == 5, "one entry per key");
static_assert(lookup_cuda_sm_90_entry(256, 256, 256)->ratio < 1.0, "ratio is exposed");
int main() {{
  int M, N, K;
  while (std::scanf("%d %d %d", &M, &N, &K) == 3) {{
    const sm_90::CudaEntry* e = lookup_cuda_sm_90_entry(M, N, K);
    if (e != nullptr && !fits(&e->config, M, N, K)) return 1;
    std::printf("%d %d %d %ld", M, N, K, e ? static_cast<long>(e - sm_90::cuda_entries) : -1L);
    for (std::size_t i = 0; i < sm_90::cuda_count; ++i) std::printf(" %d", int(cuda_sm_90_legal(i, M, N, K)));
    std::printf(" %lld %lld %lld\\n", (long long)detail::log2_q(M), (long long)detail::log2_q(N), (long long)detail::log2_q(K));
  }}
}}
"""
    shapes = list(itertools.product([64, 100, 256, 768, 4096, 8192], [32, 128, 257, 2048, 8192, 12288], [16, 64, 999, 1024, 4096, 8192]))
    shapes += [(e.key.m, e.key.n, e.key.k) for e in ENTRIES] + [(0, 64, 64), (-64, 64, 64), (1, 1, 1), (8191, 8192, 8192)]
    stdout = compile_and_run(tmp_path, text, main, "".join(f"{m} {n} {k}\n" for m, n, k in shapes))

    space = space_for("cuda", "sm_90")
    table = ordered(ENTRIES)
    lines = stdout.splitlines()
    assert len(lines) == len(shapes)
    found = 0
    for line in lines:
        m, n, k, idx, *rest = map(int, line.split())
        legal_cpp, logs = rest[: len(table)], rest[len(table):]
        assert logs == [log2_q(m), log2_q(n), log2_q(k)], line
        # Each entry's C++ predicate agrees with Python's space.shape_violations.
        assert legal_cpp == [int(legal(space, e, m, n, k)) for e in table], line
        want = pick(ENTRIES, space, m, n, k)
        assert idx == (table.index(want) if want is not None else -1), line
        if idx >= 0:
            found += 1
            assert space.shape_violations(table[idx].config, m, n, k) == [], line
    assert 20 < found < len(shapes)  # the grid exercises both outcomes


def test_pick_rules(space_for) -> None:
    space = space_for("cuda", "sm_90")
    assert pick(ENTRIES, space, 8192, 8192, 8192).tflops == 500.0
    # An exact match wins even where other entries are legal too.
    assert pick(ENTRIES, space, 4096, 4096, 4096).key.m == 4096
    # Nearest in log space among the legal ones (BLOCK_N=256 and 128 do not divide 2112).
    assert pick(ENTRIES, space, 2048, 2112, 2048).key.m == 2048
    assert pick(ENTRIES, space, 100, 64, 64) is None
    assert log2_q(1024) == 10 << 16 and log2_q(3) == 103872  # floor(log2(3) * 65536)


@needs_gxx
def test_empty_table(tmp_path: Path, space_for) -> None:
    text = export_header([], space_for, families=[("cuda", "sm_90")])
    main = """
static_assert(hktune::lookup_cuda_sm_90(64, 64, 64) == nullptr, "empty: use the vendor BLAS");
static_assert(!hktune::has_cuda_sm_90(8192, 8192, 8192), "");
static_assert(hktune::sm_90::cuda_count == 0, "");
int main() { std::printf("%d\\n", hktune::lookup_cuda_sm_90(128, 128, 128) == nullptr); }
"""
    assert compile_and_run(tmp_path, text, main).strip() == "1"
    bare = export_header([], space_for)  # nothing to name at all: still a valid header
    assert compile_and_run(tmp_path, bare, "int main() { return hktune::detail::shape_ok(1, 1, 1) ? 0 : 1; }\n", name="b") == ""


@needs_gxx
def test_min_ratio_and_slower_note(tmp_path: Path, space_for) -> None:
    text = export_header(ENTRIES, space_for)
    assert text.count("SLOWER than the vendor BLAS") == 1  # the 256^3 entry, ratio 0.5
    compile_and_run(tmp_path, text, 'static_assert(hktune::has_cuda_sm_90(96, 96, 48), "");\nint main() {}\n', name="all")
    kept = export_header(ENTRIES, space_for, min_ratio=1.0)
    assert "SLOWER" not in kept and "1 below it left out" in kept
    main = """
static_assert(hktune::sm_90::cuda_count == 4, "");
static_assert(!hktune::has_cuda_sm_90(96, 96, 48), "only the slow entry (BLOCK_M=32) was legal there");
int main() {}
"""
    compile_and_run(tmp_path, kept, main)


@needs_gxx
def test_odd_names_several_archs_and_headers(tmp_path: Path, space_for) -> None:
    assert ident("gfx90a:xnack-") == "gfx90a_xnack" and ident("hip-kittens") == "hip_kittens" and ident("90a") == "x90a"
    a = export_header([entry(1024, 1024, 1024, 64, 64, 32, 1.0, family="hip-kittens", arch="gfx90a:xnack-"),
                       entry(1024, 1024, 1024, 64, 64, 32, 1.0, family="cuda", arch="sm_90"),
                       entry(1024, 1024, 1024, 64, 64, 32, 1.0, dtype="fp8_e4m3")], space_for)
    b = export_header([entry(512, 512, 512, 32, 32, 16, 1.0, family="host", arch="x86_64")], space_for)
    (tmp_path / "b.h").write_text(b)
    main = """
#include "b.h"  // a second generated header in the same translation unit
static_assert(hktune::lookup_hip_kittens_gfx90a_xnack(1024, 1024, 1024)->BLOCK_M == 64, "");
static_assert(hktune::has_cuda_sm_90(1024, 1024, 1024), "");
static_assert(hktune::has_cuda_sm_90_fp8_e4m3_ABt(1024, 1024, 1024), "other dtypes get a suffix");
static_assert(hktune::lookup_cuda_sm_90_fp8_e4m3_ABt(1024, 1024, 1024)->BLOCK_M == 64, "and their own struct");
static_assert(sizeof(hktune::sm_90::CudaFp8E4m3ABtConfig) == 4 * sizeof(int), "");
static_assert(hktune::lookup_host_x86_64(512, 512, 512)->K_STEP == 16, "");
static_assert(sizeof(hktune::gfx90a_xnack::HipKittensConfig) == 4 * sizeof(int), "3 params + 1 derived");
int main() {}
"""
    compile_and_run(tmp_path, a, main)


def test_name_clash_is_refused(space_for) -> None:
    with pytest.raises(ExportError, match="same C\\+\\+ name a_b_c"):
        export_header([], space_for, families=[("a_b", "c"), ("a", "b-c")])


def test_stale_config_is_refused(space_for) -> None:
    stale = dataclasses.replace(ENTRIES[0], config={"BLOCK_M": 32, "BLOCK_N": 32})  # K_STEP missing
    with pytest.raises(ExportError, match="not valid in this space"):
        export_header([stale], space_for)
    invalid = dataclasses.replace(ENTRIES[0], config={"BLOCK_M": 128, "BLOCK_N": 256, "K_STEP": 16})  # TILE too big
    with pytest.raises(ExportError, match="TILE <= 16384"):
        export_header([invalid], space_for)

