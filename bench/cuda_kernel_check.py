#!/usr/bin/env python3
"""Standalone check of the hktune "cuda" family (kernels/cuda/gemm.cu) on a CUDA GPU.

torch + ctypes (+ pyyaml to read the space's derived formulas); no hktune import.
For each config: compile with nvcc (ptxas registers / spills / seconds), load the library,
compare hktune_config() with what was asked, check illegal shapes are refused, check small
odd shapes (short K, ragged GROUP_M groups) and the big shapes against torch.matmul of
float32-upcast inputs (C poisoned with NaN first, relative Frobenius error < 1e-2), then
time with CUDA events (warm-up, median of --iters launches, inputs rotated over > 4x L2)
next to torch.matmul on the same bf16 inputs. A short table is printed last; full
results go to <out>/cuda_kernel_check.json and the compile logs next to it.

    python3 bench/cuda_kernel_check.py [--configs seed1,seed2,...] [--sizes 8192,4096]
                                       [--out bench/results] [--arch sm_90]
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "kernels/cuda/gemm.cu"
SPACE = ROOT / "configs/cuda.yaml"
FAMILY = ROOT / "kernels/cuda/family.yaml"
PARAMS = ["BLOCK_M", "BLOCK_N", "K_STEP", "WARPS_M", "WARPS_N", "PREFETCH", "WAIT",
          "OCCUPANCY", "GROUP_M"]


def cfg(bm, bn, ks, wm, wn, p, w, occ, g):
    return dict(zip(PARAMS, (bm, bn, ks, wm, wn, p, w, occ, g)))


# name -> params. The first four are the seeds of configs/cuda.yaml.
CONFIGS = {
    "s128x256k32p3": cfg(128, 256, 32, 2, 4, 3, 2, 1, 8),
    "s256x128k32p3": cfg(256, 128, 32, 4, 2, 3, 2, 1, 8),
    "s128x256k64p2": cfg(128, 256, 64, 2, 4, 2, 1, 1, 8),
    "s128x128k32p3o2": cfg(128, 128, 32, 2, 2, 3, 2, 2, 8),
    "128x256k32p4": cfg(128, 256, 32, 2, 4, 4, 3, 1, 8),
    "128x256k64p3": cfg(128, 256, 64, 2, 4, 3, 2, 1, 8),
    "128x256k32p3g1": cfg(128, 256, 32, 2, 4, 3, 2, 1, 1),
    "128x256k32p3w0": cfg(128, 256, 32, 2, 4, 3, 0, 1, 8),
    "256x128k64p2": cfg(256, 128, 64, 4, 2, 2, 1, 1, 8),
    "128x128k64p2o2": cfg(128, 128, 64, 2, 2, 2, 1, 2, 8),
    "128x256k32p3g16": cfg(128, 256, 32, 2, 4, 3, 2, 1, 16),
    "64x64k32p3": cfg(64, 64, 32, 2, 2, 3, 2, 2, 8),
    "256x128k64p3": cfg(256, 128, 64, 4, 2, 3, 2, 1, 8),
    "256x128k32p4": cfg(256, 128, 32, 4, 2, 4, 3, 1, 8),
    "256x128k64p3g16": cfg(256, 128, 64, 4, 2, 3, 2, 1, 16),
    "128x256k64p3g4": cfg(128, 256, 64, 2, 4, 3, 2, 1, 4),
    "128x256k64p3g16": cfg(128, 256, 64, 2, 4, 3, 2, 1, 16),
    "128x256k32p2": cfg(128, 256, 32, 2, 4, 2, 1, 1, 8),
    "64x256k32p3o2": cfg(64, 256, 32, 1, 4, 3, 2, 2, 8),
    "256x64k32p3o2": cfg(256, 64, 32, 4, 1, 3, 2, 2, 8),
    "128x256k64p3rep": cfg(128, 256, 64, 2, 4, 3, 2, 1, 8),  # repeat: run-to-run spread
}
DEFAULT = ["128x256k64p3", "256x128k64p3", "256x128k64p2", "s256x128k32p3", "256x128k32p4",
           "128x256k64p3g4", "128x256k64p3g16", "256x128k64p3g16", "128x256k32p2",
           "s128x256k32p3", "s128x256k64p2", "64x256k32p3o2", "256x64k32p3o2",
           "128x256k64p3rep"]


# ------------------------------------------------------------------ space formulas
def _ceil_div(a, b):
    return -(-a // b)


def _log2(x):
    return int(math.log2(x))


def _is_pow2(x):
    return x > 0 and x & (x - 1) == 0


SAFE = {"min": min, "max": max, "abs": abs, "ceil_div": _ceil_div, "log2": _log2,
        "is_pow2": _is_pow2}


def load_space(arch):
    import yaml  # only for reading the space / family files
    space = yaml.safe_load(SPACE.read_text())
    fam = yaml.safe_load(FAMILY.read_text())
    return space, fam


def resolve(params, space, arch):
    """params -> (all defines incl. derived, list of violated constraints)."""
    env = dict(params)
    env.update(space["limits"][arch])
    for name, expr in space["derived"].items():
        env[name] = eval(str(expr), {"__builtins__": {}, **SAFE}, env)
    bad = [c for c in space["constraints"]
           if not eval(str(c), {"__builtins__": {}, **SAFE}, env)]
    defines = {k: env[k] for k in list(params) + list(space["derived"])}
    return defines, bad


# ------------------------------------------------------------------ compile
def compile_one(name, defines, arch, fam, outdir):
    flags = list(fam.get("flags", [])) + list(fam["archs"][arch].get("flags", []))
    so = Path(outdir) / f"{name}.so"
    cmd = (["nvcc"] + flags + ["-Xptxas", "-v", "-shared"]
           + [f"-D{k}={v}" for k, v in defines.items()] + ["-o", str(so), str(SOURCE)])
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.time() - t0
    log = " ".join(cmd) + "\n" + p.stdout + p.stderr
    regs = re.search(r"Used (\d+) registers", log)
    sp = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                   log)
    return dict(name=name, ok=p.returncode == 0, so=str(so), secs=round(secs, 2), log=log,
                regs=int(regs.group(1)) if regs else None,
                stack=int(sp.group(1)) if sp else None,
                spills=int(sp.group(2)) + int(sp.group(3)) if sp else None)


# ------------------------------------------------------------------ run
class Lib:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.hktune_gemm.restype = ctypes.c_int
        self.lib.hktune_gemm.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 3 + [
            ctypes.c_void_p]
        self.lib.hktune_config.restype = ctypes.c_char_p
        self.lib.hktune_config.argtypes = []

    def config(self):
        return self.lib.hktune_config().decode()

    def gemm(self, A, Bt, C):
        M, K = A.shape
        N = Bt.shape[0]
        return self.lib.hktune_gemm(A.data_ptr(), Bt.data_ptr(), C.data_ptr(), M, N, K,
                                    torch.cuda.current_stream().cuda_stream)


def rand(*shape):
    return torch.randn(*shape, device="cuda", dtype=torch.float32).to(torch.bfloat16)


def rel_err(A, Bt, C):
    ref = torch.matmul(A.float(), Bt.float().t())
    return (torch.linalg.norm(C.float() - ref) / torch.linalg.norm(ref)).item()


def check(lib, M, N, K):
    A, Bt = rand(M, K), rand(N, K)
    C = torch.full((M, N), float("nan"), device="cuda", dtype=torch.bfloat16)
    rc = lib.gemm(A, Bt, C)
    torch.cuda.synchronize()
    if rc != 0:
        return dict(M=M, N=N, K=K, rc=rc, err=float("nan"), ok=False)
    err = rel_err(A, Bt, C)
    return dict(M=M, N=N, K=K, rc=rc, err=err, ok=bool(err < 1e-2))  # NaN fails


def time_fn(fn, sets, iters, warmup):
    for i in range(warmup):
        fn(*sets[i % len(sets)])
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for i in range(iters):
        s = sets[i % len(sets)]
        starts[i].record()
        fn(*s)
        ends[i].record()
    torch.cuda.synchronize()
    ms = [a.elapsed_time(b) for a, b in zip(starts, ends)]
    return statistics.median(ms), min(ms), max(ms)


def time_loop(fn, args, iters, warmup):
    """KINDS.md-style: one buffer set, events around a back-to-back loop, mean."""
    for _ in range(warmup):
        fn(*args)
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(iters):
        fn(*args)
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / iters


def sm_clock():
    try:
        return int(torch.cuda.clock_rate())  # MHz, through NVML
    except Exception:  # noqa: BLE001 - NVML may be missing
        return -1


def make_sets(M, N, K, l2_bytes):
    per = (M * K + N * K + M * N) * 2
    n = max(2, min(16, math.ceil(4 * l2_bytes / per)))
    return [(rand(M, K), rand(N, K), torch.empty(M, N, device="cuda", dtype=torch.bfloat16))
            for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(DEFAULT),
                    help="comma list of names from CONFIGS, or 'all'")
    ap.add_argument("--sizes", default="8192,4096")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "bench/results"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--profile", action="store_true",
                    help="only compile and launch each config 3 times at the first size "
                         "(run under ncu -k regex:hktune_gemm_kernel)")
    a = ap.parse_args()

    names = list(CONFIGS) if a.configs == "all" else a.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; known: {', '.join(CONFIGS)}")
    sizes = [int(s) for s in a.sizes.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    space, fam = load_space(a.arch)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 reference must be real fp32
    torch.manual_seed(0)
    prop = torch.cuda.get_device_properties(0)
    l2 = getattr(prop, "L2_cache_size", 50 << 20)
    nvcc_v = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout
    meta = dict(gpu=torch.cuda.get_device_name(0), sms=prop.multi_processor_count, l2=l2,
                torch=torch.__version__, nvcc=nvcc_v.strip().splitlines()[-1],
                date=datetime.datetime.now().isoformat(timespec="seconds"), arch=a.arch)
    print(json.dumps(meta), flush=True)

    # ---- compile all in parallel
    todo = []
    for n in names:
        defines, bad = resolve(CONFIGS[n], space, a.arch)
        if bad:
            print(f"{n}: violates {bad}, skipped", flush=True)
            continue
        todo.append((n, defines))
    tmp = tempfile.mkdtemp(prefix="hk_cuda_")
    t0 = time.time()
    with ThreadPoolExecutor(a.jobs) as ex:
        comps = list(ex.map(lambda nd: compile_one(nd[0], nd[1], a.arch, fam, tmp), todo))
    print(f"compiled {len(comps)} configs in {time.time() - t0:.1f}s wall", flush=True)
    (out / "cuda_kernel_check_compile.log").write_text(
        "\n\n".join(c["log"] for c in comps))

    if a.profile:
        S = sizes[0]
        A, Bt = rand(S, S), rand(S, S)
        C = torch.empty(S, S, device="cuda", dtype=torch.bfloat16)
        for (n, _), c in zip(todo, comps):
            lib = Lib(c["so"])
            for _ in range(3):
                assert lib.gemm(A, Bt, C) == 0
            torch.cuda.synchronize()
            print(f"{n}: profiled launches done, err {rel_err(A, Bt, C):.2e}", flush=True)
        return 0

    # ---- torch reference timings
    results = dict(meta=meta, torch={}, configs=[])
    sets = {S: make_sets(S, S, S, l2) for S in sizes}
    def tm(A, Bt, C):
        torch.mm(A, Bt.t(), out=C)

    def time_torch(tag):
        for S in sizes:
            med, lo, hi = time_fn(tm, sets[S], a.iters, a.warmup)
            clk = sm_clock()
            loop = time_loop(lambda A, Bt: torch.matmul(A, Bt.t()), sets[S][0][:2], 50, 10)
            r = results["torch"].setdefault(S, {})
            r[tag] = dict(ms=med, tflops=2 * S**3 / med / 1e9, min_ms=lo, max_ms=hi,
                          clock_mhz=clk, loop_ms=loop, loop_tflops=2 * S**3 / loop / 1e9)
            print(f"torch.mm {S} ({tag}): median {med:.3f} ms {2 * S**3 / med / 1e9:.1f} TF "
                  f"(min {2 * S**3 / lo / 1e9:.1f}), loop {2 * S**3 / loop / 1e9:.1f} TF, "
                  f"clock {clk} MHz", flush=True)
        for S in sizes:  # the comparison uses the better of before/after
            rr = results["torch"][S]
            best = min((v for v in rr.values() if isinstance(v, dict)), key=lambda v: v["ms"])
            rr.update(ms=best["ms"], tflops=best["tflops"])

    time_torch("before")

    for (n, defines), c in zip(todo, comps):
        r = dict(name=n, params=CONFIGS[n], smem=defines["SMEM_BYTES"],
                 regs=c["regs"], spills=c["spills"], stack=c["stack"],
                 compile_s=c["secs"], compiled=c["ok"], checks=[], perf={})
        results["configs"].append(r)
        if not c["ok"]:
            print(f"{n}: COMPILE FAILED\n{c['log'][-2000:]}", flush=True)
            continue
        lib = Lib(c["so"])
        want = ",".join(f"{k}={CONFIGS[n][k]}" for k in PARAMS)
        r["config_ok"] = lib.config() == want
        # illegal shapes must be refused without launching
        p = CONFIGS[n]
        A, Bt = rand(p["BLOCK_M"] + 16, p["K_STEP"]), rand(p["BLOCK_N"], p["K_STEP"])
        C = torch.full((A.shape[0], Bt.shape[0]), 7.0, device="cuda", dtype=torch.bfloat16)
        rc1 = lib.gemm(A, Bt, C)
        A2, Bt2 = rand(p["BLOCK_M"], p["K_STEP"] + 8), rand(p["BLOCK_N"], p["K_STEP"] + 8)
        C2 = torch.full((p["BLOCK_M"], p["BLOCK_N"]), 7.0, device="cuda", dtype=torch.bfloat16)
        rc2 = lib.gemm(A2, Bt2, C2)
        torch.cuda.synchronize()
        r["illegal_refused"] = bool(rc1 != 0 and rc2 != 0 and (C == 7).all().item()
                                    and (C2 == 7).all().item())
        # small odd shapes: short K (fewer tiles than PREFETCH), ragged GROUP_M groups
        bm, bn, bk = p["BLOCK_M"], p["BLOCK_N"], p["K_STEP"]
        for (M, N, K) in [(bm, bn, bk), (3 * bm, 5 * bn, 2 * bk),
                          (5 * bm, 3 * bn, (p["PREFETCH"] + 3) * bk), (17 * bm, 2 * bn, 1024)]:
            r["checks"].append(check(lib, M, N, K))
        for S in sizes:
            r["checks"].append(check(lib, S, S, S))
            med, lo, hi = time_fn(lib.gemm, sets[S], a.iters,
                                  a.warmup)
            clk = sm_clock()
            loop = time_loop(lib.gemm, sets[S][0], 50, 10)
            rc = lib.gemm(*sets[S][0])
            torch.cuda.synchronize()
            # correctness of a timed buffer too (after many launches)
            A, Bt, C = sets[S][0]
            C.fill_(float("nan"))
            lib.gemm(A, Bt, C)
            torch.cuda.synchronize()
            e2 = rel_err(A, Bt, C)
            r["perf"][S] = dict(ms=med, tflops=2 * S**3 / med / 1e9, min_ms=lo, max_ms=hi,
                                rc=rc, err_timed_buf=e2, clock_mhz=clk, loop_ms=loop,
                                loop_tflops=2 * S**3 / loop / 1e9)
        r["ok"] = bool(r["config_ok"] and r["illegal_refused"]
                       and all(x["ok"] for x in r["checks"])
                       and all(v["err_timed_buf"] < 1e-2 for v in r["perf"].values()))
        print(f"{n}: ok={r['ok']} regs={c['regs']} spills={c['spills']} "
              + " ".join(f"{S}:{v['tflops']:.0f}TF(min-time {2 * S**3 / v['min_ms'] / 1e9:.0f},"
                         f" loop {v['loop_tflops']:.0f}, {v['clock_mhz']}MHz)"
                         for S, v in r["perf"].items()), flush=True)
        del lib

    time_torch("after")
    for r in results["configs"]:
        for S, v in r["perf"].items():
            v["vs_torch"] = results["torch"][S]["ms"] / v["ms"]

    (out / "cuda_kernel_check.json").write_text(json.dumps(results, indent=1, default=str))

    # ---- table (last)
    print(f"\n{meta['gpu']}  {meta['date']}  torch {meta['torch']}  {meta['nvcc']}")
    print("TF = median of per-launch event times over rotating inputs; xtorch = torch.mm "
          "median time (better of before/after) / ours")
    hdr = f"{'config':18s} {'regs':>4s} {'spl':>3s} {'smemKB':>6s} {'cmp_s':>5s} {'ok':>3s} {'maxerr':>8s}"
    for S in sizes:
        hdr += f" {str(S) + ' TF':>9s} {'xtorch':>6s}"
    print(hdr)
    line = f"{'torch.mm':18s} {'':>4s} {'':>3s} {'':>6s} {'':>5s} {'':>3s} {'':>8s}"
    for S in sizes:
        line += f" {results['torch'][S]['tflops']:9.1f} {1.0:6.2f}"
    print(line)
    for r in results["configs"]:
        if not r["compiled"]:
            print(f"{r['name']:18s} COMPILE FAILED")
            continue
        maxerr = max([x["err"] for x in r["checks"]]
                     + [v["err_timed_buf"] for v in r["perf"].values()])
        line = (f"{r['name']:18s} {r['regs']:4d} {r['spills']:3d} {r['smem'] / 1024:6.1f} "
                f"{r['compile_s']:5.1f} {'y' if r['ok'] else 'N':>3s} {maxerr:8.2e}")
        for S in sizes:
            v = r["perf"][S]
            line += f" {v['tflops']:9.1f} {v['vs_torch']:6.2f}"
        print(line)
    return 0 if all(r.get("ok") for r in results["configs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
