"""SCHEDULE 2 (producer/consumer, 8 MMA + 4 producer waves) of the gfx950 template next to
HipKittens' own 8c4p micro kernels (issue 23, item 7): resources and MFMA counts of both,
compiled by the same portable toolchain.

HK's micros (kernels/gemm/bf16fp32/mi350x/micros/producer_consumer/<layout>/micro_0{2,3}_*_8c4p.cpp)
are compiled unmodified from the user's HipKittens checkout with their Makefile's device flags
(-DKITTENS_CDNA4 --offload-arch=gfx950 -DHIP_ENABLE_WARP_SYNC_BUILTINS -ffast-math -std=c++20,
-O3, device only); their pybind11 glue needs pybind11's headers (torch ships them) and Python.h, and
they call kittens::warpgroupid(), which HK main no longer has: a forced include defines it (shim()).
The template is compiled at the space's SCHEDULE 2 seeds twice: with the runtime shape the search
uses, and with HK's fixed shape (-DHKT_FIXED_M/N/K=7680/8192/8192, as HK's kernels hard-code it).

    HKTUNE_TEST_HK_MAIN=... PYTHONPATH=. python bench/hk_micro_8c4p.py --md bench/results/8c4p-gfx950-DATE.md
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from hktune.build import toolchain
from hktune.build.amd import resources as R
from hktune.family.family import load_family

ROOT = Path(__file__).resolve().parents[1]
MICROS = "kernels/gemm/bf16fp32/mi350x/micros/producer_consumer"
HK_FLAGS = ["-DKITTENS_CDNA4", "--offload-arch=gfx950", "-DHIP_ENABLE_WARP_SYNC_BUILTINS", "-ffast-math",
            "-std=c++20", "-O3", "-w"]
FIXED = ["-DHKT_FIXED_M=7680", "-DHKT_FIXED_N=8192", "-DHKT_FIXED_K=8192"]
KEYS = ("vgprs", "agprs", "sgprs", "vgpr_spills", "sgpr_spills", "scratch_bytes", "occupancy", "code_bytes")


def device_cc() -> list[str]:
    tc = toolchain.best()
    if tc is None:
        sys.exit("hk_micro_8c4p: error: no portable AMD toolchain (hktune toolchain install)")
    return [*tc.clang, *tc.flags, "-x", "hip", "--cuda-device-only", "--no-gpu-bundle-output"]


def pybind_includes() -> list[str]:
    try:
        import torch  # noqa: F401  (only for the location of the pybind11 headers it ships)
        from torch.utils.cpp_extension import include_paths
    except ImportError:
        sys.exit("hk_micro_8c4p: error: HK's micros include pybind11: install torch (it ships the headers)")
    return [f"-I{p}" for p in include_paths()] + [f"-I{sysconfig.get_paths()['include']}"]


def shim(tmp: Path, hk: Path) -> Path:
    """HK's micros call kittens::warpgroupid(), which HK main's include/ no longer defines: a
    forced include (our two lines) includes kittens.cuh first and defines it as HK did, the four
    waves of a warpgroup (threadIdx.x / 256)."""
    p = tmp / "hkt_warpgroupid.h"
    p.write_text('#include "kittens.cuh"\nnamespace kittens { __device__ __forceinline__ int warpgroupid() '
                 '{ return threadIdx.x >> 8; } }\n')
    return p


def loop_body(text: str) -> dict:
    """Per K tile of the main loop (the blocks LLVM marks as in a loop; one s_barrier per K tile in
    both kernels): MFMAs, buffer_load ... lds, ds_read_b128 and s_barriers per loop trip / barriers."""
    counts = {"v_mfma": 0, "buffer_load": 0, "ds_read": 0, "s_barrier": 0}
    inside = False
    for ln in text.splitlines():
        m = re.match(r"^(\.LBB[\w]+):(.*)$", ln)
        if m:
            inside = "Loop" in m.group(2)
            continue
        op = ln.strip().split(None, 1)[0] if ln.strip() and not ln.strip().startswith(";") else ""
        if inside:
            for k in counts:
                if op.startswith(k):
                    counts[k] += 1
    n = counts["s_barrier"]
    return {"loop_tiles": n, **({f"{k}_per_tile": round(v / n, 2) for k, v in counts.items() if k != "s_barrier"} if n else {})}


def build(argv: list[str], asm: Path) -> dict:
    t0 = time.perf_counter()
    p = subprocess.run([*argv, "-Rpass-analysis=kernel-resource-usage", "-S", "-o", str(asm)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {"ok": False, "log": p.stderr[-1500:]}
    text = asm.read_text(errors="replace")
    row = R.collect(p.stderr, asm)
    return {"ok": True, **{k: row.get(k) for k in KEYS}, "mfma": R.count_mfma(text),
            "mfma_in_loops": R.mfma_in_loops(text), "s_barrier": text.count("\ts_barrier"), **loop_body(text),
            "compile_s": round(time.perf_counter() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--md", default=None)
    ap.add_argument("--jsonl", default=None)
    a = ap.parse_args()
    hk = os.environ.get("HKTUNE_TEST_HK_MAIN") or os.environ.get("HIPKITTENS_ROOT")
    if not hk:
        sys.exit("hk_micro_8c4p: error: set HKTUNE_TEST_HK_MAIN to a HipKittens checkout (branch main)")
    hk = Path(hk)
    cc = device_cc()
    fam = load_family(ROOT / "kernels" / "hipkittens")
    space = fam.space("gfx950")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hkt-8c4p-") as tmp:
        for layout in ("16x32", "32x16"):
            for name in ("micro_02_2stage_8c4p", "micro_03_3stage_8c4p"):
                src = hk / MICROS / layout / f"{name}.cpp"
                argv = [*cc, *HK_FLAGS, f"-I{hk / 'include'}", f"-I{hk / 'prototype'}", *pybind_includes(),
                        "-include", str(shim(Path(tmp), hk)), str(src)]
                rows.append({"kernel": f"HK {layout}/{name}", **build(argv, Path(tmp) / f"{layout}-{name}.s")})
                print(json.dumps(rows[-1]), flush=True)
        for seed in (s for s in space.seeds if s.get("SCHEDULE") == 2):
            cfg = {k: v for k, v in seed.items() if k in space.names}
            for fixed in (False, True):
                argv = [*cc, *fam.flags_for("gfx950"), *(f"-D{k}={v}" for k, v in space.defines(cfg).items()),
                        *(FIXED if fixed else []), f"-I{hk / 'include'}", str(fam.arch("gfx950").source)]
                label = f"hktune SCHEDULE=2 PREFETCH={cfg['PREFETCH']} VMCNT_0={cfg['VMCNT_0']}" + \
                    (" (HK's fixed shape)" if fixed else " (runtime shape)")
                rows.append({"kernel": label, "config": cfg,
                             **build(argv, Path(tmp) / f"t-{cfg['PREFETCH']}-{int(fixed)}.s")})
                print(json.dumps(rows[-1]), flush=True)
    if a.jsonl:
        Path(a.jsonl).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if a.md:
        Path(a.md).write_text(table(rows))
    return 0


def table(rows: list[dict]) -> str:
    head = ("| kernel | VGPR | AGPR | SGPR | spills (V/S) | scratch | occupancy | MFMA (in loops) | s_barrier | code bytes "
            "| main loop: K tiles per trip | per K tile: MFMA / buffer_load lds / ds_read_b128 |")
    out = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        if not r["ok"]:
            out.append(f"| {r['kernel']} | compile failed: {r['log'][-200:]!r} |||||||||")
            continue
        out.append(f"| {r['kernel']} | {r['vgprs']} | {r['agprs']} | {r['sgprs']} | {r['vgpr_spills']}/{r['sgpr_spills']} | "
                   f"{r['scratch_bytes']} | {r['occupancy']} | {r['mfma']} ({r['mfma_in_loops']}) | {r['s_barrier']} | "
                   f"{r['code_bytes']} | {r['loop_tiles']} | {r.get('v_mfma_per_tile')} / {r.get('buffer_load_per_tile')} / "
                   f"{r.get('ds_read_per_tile')} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
