"""Benchmark: enumerating a search space of >= 100k raw combinations (target: under 1 s).

    python bench/enumerate_space.py

Times the vectorised enumeration of every space in configs/ and of a synthetic 10-parameter
space of ~300k combinations (median of 5 runs, CPU only).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hktune.family.family import discover
from hktune.space.space import load_space

SYNTHETIC = """
family: synthetic
params:
  BLOCK_M: [16, 32, 64, 128, 256]
  BLOCK_N: [16, 32, 64, 128, 256]
  K_STEP: [16, 32, 64, 128]
  WARPS_M: [1, 2, 4, 8]
  WARPS_N: [1, 2, 4, 8]
  PREFETCH: [1, 2, 3, 4]
  WAIT: [0, 1, 2, 3]
  OCCUPANCY: [1, 2]
  GROUP_M: [1, 4, 8]
derived:
  THREADS: WARPS_M * WARPS_N * 32
  SMEM: (PREFETCH + 1) * (BLOCK_M + BLOCK_N) * K_STEP * 2
constraints:
  - THREADS <= 1024
  - SMEM <= 232448
  - BLOCK_M % (WARPS_M * 16) == 0 and BLOCK_N % (WARPS_N * 16) == 0
  - WAIT <= PREFETCH - 1
  - OCCUPANCY * SMEM <= 233472
shape_constraints:
  - M % BLOCK_M == 0 and N % BLOCK_N == 0 and K % K_STEP == 0
"""


def bench(space, shape=None) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(5):
        t = time.perf_counter()
        n = len(space.enumerate(shape))
        times.append(time.perf_counter() - t)
    return statistics.median(times), n


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "synthetic.yaml"
        p.write_text(SYNTHETIC)
        s = load_space(p, "any")
        rows.append(("synthetic", "any", s.raw_size(), *bench(s, (8192, 8192, 8192))))
    for fam in discover().values():
        for arch in fam.archs:
            s = fam.space(arch)
            rows.append((fam.name, arch, s.raw_size(), *bench(s, (8192, 8192, 8192))))
    print("| space | arch | raw combinations | valid for 8192^3 | median seconds |")
    print("|---|---|---|---|---|")
    for name, arch, raw, secs, n in rows:
        print(f"| {name} | {arch} | {raw} | {n} | {secs:.3f} |")


if __name__ == "__main__":
    main()
