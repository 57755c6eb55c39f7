#!/usr/bin/env python3
"""Standalone check of the hktune "thunderkittens" family (kernels/thunderkittens/gemm.cu) on an
H100/H200.

torch + ctypes + pyyaml only; no hktune import. Steps:
  1. compile every config in parallel with nvcc, using exactly the flags of
     kernels/thunderkittens/family.yaml (+ the arch's flags, -shared -Xcompiler=-fPIC
     -Xptxas=-v as hktune's nvcc plug-in adds them) and -I<tk>/include -I<tk>/prototype;
     ptxas registers / spills and compile seconds are recorded;
  2. for each compiled config, in its own subprocess (a hang or a sticky CUDA error in one
     config cannot take the run down; --config-timeout kills it): check hktune_config(),
     check illegal shapes are refused (non-zero return, C untouched), check correctness
     against a float32 reference of the upcast bf16 inputs (C poisoned with NaN first;
     relative Frobenius error < 1e-2 and an element-wise bound) on a single tile, on a
     multi-block shape with a ragged SUPER_M group and more tiles than SMs (persistent blocks
     loop), and on every timed shape; then time the kernel and torch.matmul(A, Bt.t())
     alternating in ABBA rounds on inputs rotated over > 2x L2, CUDA events per launch,
     median + p10/p90;
  3. print a compact table last and write <out>/tk_kernel_check.json (+ compile logs).

    python3 bench/tk_kernel_check.py --tk-root shared_tk --out $OUT
        [--configs name1,name2|all] [--shapes 4096x4096x4096,...] [--jobs 16]
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILY_DIR = ROOT / "kernels/thunderkittens"
FAMILY = FAMILY_DIR / "family.yaml"
PARAMS = ["M_BLOCK", "N_BLOCK", "STAGES", "SUPER_M", "PERSISTENT", "PRODUCER_REGS",
          "CONSUMER_REGS", "EPILOGUE", "SCHED", "WG_M", "CLUSTER_M", "CLUSTER_N", "ORDER", "MMA_LAG", "SPLIT_K",
          "PROMOTE"]


def cfg(mb, nb, st, sm, pers=1, pr=40, cr=232, epi=1, sched=0, wgm=64, cm=1, cn=1, order=0, lag=0, sk=1, promote=0):
    return dict(zip(PARAMS, (mb, nb, st, sm, pers, pr, cr, epi, sched, wgm, cm, cn, order, lag, sk, promote)))


def tile(params):
    """(rows, cols) of the smallest legal M and N step: one tile (or cluster pair of tiles)."""
    rows = params["WG_M"] * (1 if params["SCHED"] == 2 else params["M_BLOCK"])
    return rows * params["CLUSTER_M"], 64 * params["N_BLOCK"] * params["CLUSTER_N"]


# name -> params. The first three are the seeds of configs/thunderkittens-sm_90.yaml
# (ThunderKittens' shipped <M_BLOCK, N_BLOCK, SUPER_M> choices).
CONFIGS = {
    "s2x4g8": cfg(2, 4, 4, 8),
    "s2x4g12": cfg(2, 4, 4, 12),
    "s2x4g1": cfg(2, 4, 4, 1),
    "2x4g8e0": cfg(2, 4, 4, 8, epi=0),
    "2x4g8np": cfg(2, 4, 4, 8, pers=0),
    "2x4g8np_e0": cfg(2, 4, 4, 8, pers=0, epi=0),
    "2x4g8s3": cfg(2, 4, 3, 8),
    "2x4g8s2": cfg(2, 4, 2, 8),
    "2x4g8r24": cfg(2, 4, 4, 8, pr=24, cr=240),
    "2x4g16": cfg(2, 4, 4, 16),
    "2x4g4": cfg(2, 4, 4, 4),
    "2x2g8s6": cfg(2, 2, 6, 8),
    "1x4g8s5": cfg(1, 4, 5, 8, pr=24, cr=256),
    "3x3g8s4": cfg(3, 3, 4, 8, pr=24, cr=160),   # 192x192 tiles: only legal at some shapes
}
DEFAULT = list(CONFIGS)
# the schedule knobs (SCHED >= 1, kernels/thunderkittens/sched.cuh): asked for by name
# (bench/device/hopper.sh); not in the default list
CONFIGS.update({
    "k1e1": cfg(2, 4, 4, 8, sched=1),                           # cooperative, no cluster
    "k1e2": cfg(2, 4, 4, 8, epi=2, sched=1),                    # + stores drain under the next tile
    "k1e0": cfg(2, 4, 4, 8, epi=0, sched=1),
    "k1cm2e2": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2),           # cluster pair along M, Bt multicast
    "k1cm2e2s3": cfg(2, 4, 3, 8, epi=2, sched=1, cm=2),
    "k1cm2e1g16": cfg(2, 4, 4, 16, epi=1, sched=1, cm=2),
    "k1cn2e2": cfg(2, 4, 4, 8, epi=2, sched=1, cn=2),           # cluster pair along N, A multicast
    "k1cn2e1": cfg(2, 4, 4, 8, epi=1, sched=1, cn=2),
    "k1cm2o1": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, order=1),  # column-group tile order
    "k1o1": cfg(2, 4, 4, 4, epi=2, sched=1, order=1),
    "k1cm2lag": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, lag=1),     # a k step's wgmma kept in flight
    "pp64x256cm2lag": cfg(2, 4, 4, 8, epi=2, sched=2, cm=2, lag=1),
    "pp128x128lag": cfg(2, 2, 6, 8, epi=2, sched=2, wgm=128, lag=1),
    "t256x128cn2lag": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128, cn=2, lag=1),
    "k1cm2o2": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, order=2),  # serpentine groups
    "t256x128cn2": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128, cn=2),
    "t256x128": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128),
    "t128x128cm2": cfg(1, 2, 6, 8, cr=256, epi=2, sched=1, wgm=128, cm=2),
    "t128x128": cfg(2, 2, 6, 8, epi=2, sched=1),
    "pp64x256": cfg(2, 4, 4, 8, epi=2, sched=2),                # ping-pong, 64x256 per consumer
    "pp64x256cm2": cfg(2, 4, 4, 8, epi=2, sched=2, cm=2),
    "pp128x128": cfg(2, 2, 6, 8, epi=2, sched=2, wgm=128),
    "pp128x128cm2e1": cfg(2, 2, 6, 8, epi=1, sched=2, wgm=128, cm=2),
    # split-K (SPLIT_K > 1: (tile, K slice) work units, in-order fixup in an fp32 workspace;
    # bench/device/splitk.sh), each next to its SPLIT_K=1 config above
    "k1cm2e2sk2": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, sk=2),
    "k1cm2e2sk4": cfg(2, 4, 4, 8, epi=2, sched=1, cm=2, sk=4),
    "pp64x256sk2": cfg(2, 4, 4, 8, epi=2, sched=2, sk=2),
    "pp64x256sk4": cfg(2, 4, 4, 8, epi=2, sched=2, sk=4),
    "t256x128sk2": cfg(2, 2, 4, 8, epi=2, sched=1, wgm=128, sk=2),     # two m64 halves per consumer
    "k1e0sk4": cfg(2, 4, 4, 8, epi=0, sched=1, sk=4),                   # registers -> global epilogue
    "k1cn2lagsk2": cfg(2, 4, 4, 8, epi=1, sched=1, cn=2, lag=1, sk=2),
})
SHAPES = "4096x4096x4096,8192x8192x8192,4096x14336x4096,16384x8192x1024,2048x2048x2048"


# ------------------------------------------------------------------ space formulas
def _ceil_div(a, b):
    return -(-a // b)


SAFE = {"min": min, "max": max, "abs": abs, "ceil_div": _ceil_div,
        "log2": lambda x: int(math.log2(x)), "is_pow2": lambda x: x > 0 and x & (x - 1) == 0}


def load_yaml():
    import yaml
    fam = yaml.safe_load(FAMILY.read_text())
    space = yaml.safe_load((ROOT / fam["archs"]["sm_90"]["space"]).read_text())
    return fam, space


def resolve(params, space, arch="sm_90"):
    """params -> (defines incl. derived, violated constraints)."""
    env = dict(params)
    env.update(space["limits"][arch])
    for name, expr in space["derived"].items():
        env[name] = eval(str(expr), {"__builtins__": {}, **SAFE}, env)
    bad = [c for c in space["constraints"] if not eval(str(c), {"__builtins__": {}, **SAFE}, env)]
    return {k: env[k] for k in list(params) + list(space["derived"])}, bad


def shape_ok(params, space, M, N, K):
    env = dict(resolve(params, space)[0], M=M, N=N, K=K)   # shape constraints may use derived values
    return all(eval(str(c), {"__builtins__": {}, **SAFE}, env) for c in space["shape_constraints"])


# ------------------------------------------------------------------ compile
def nvcc_path():
    return os.environ.get("HKTUNE_NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"


def compile_one(name, defines, fam, tk_root, outdir, timeout):
    # the same argv as hktune/compilers/nvcc.py builds
    flags = list(fam.get("flags", [])) + list(fam["archs"]["sm_90"].get("flags", []))
    so = Path(outdir) / f"{name}.so"
    src = FAMILY_DIR / fam["archs"]["sm_90"]["source"]
    cmd = ([nvcc_path()] + flags + ["-shared", "-Xcompiler=-fPIC", "-Xptxas=-v"]
           + [f"-D{k}={v}" for k, v in defines.items()]
           + [f"-I{tk_root / 'include'}", f"-I{tk_root / 'prototype'}"]
           + ["-o", str(so), str(src)])
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        ok, out = p.returncode == 0, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        ok, out = False, f"TIMEOUT after {timeout}s"
    except OSError as e:
        ok, out = False, f"could not run nvcc: {e}"
    secs = time.time() - t0
    log = " ".join(cmd) + "\n" + out
    regs = re.search(r"Used (\d+) registers", log)
    sp = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return dict(name=name, ok=ok, so=str(so), secs=round(secs, 1), log=log,
                regs=int(regs.group(1)) if regs else None,
                spills=int(sp.group(2)) + int(sp.group(3)) if sp else None)


# ------------------------------------------------------------------ worker (one config)
def worker(a):
    import torch
    params = json.loads(a.params)
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    _, space = load_yaml()
    res = dict(checks=[], perf={}, notes=[])

    def dump():
        Path(a.result).write_text(json.dumps(res, indent=1, default=str))

    lib = ctypes.CDLL(a.so)
    lib.hktune_gemm.restype = ctypes.c_int
    lib.hktune_gemm.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 3 + [ctypes.c_void_p]
    lib.hktune_config.restype = ctypes.c_char_p
    stream = torch.cuda.current_stream().cuda_stream

    def gemm(A, Bt, C, M=None, N=None, K=None):
        M = A.shape[0] if M is None else M
        K = A.shape[1] if K is None else K
        N = Bt.shape[0] if N is None else N
        return lib.hktune_gemm(A.data_ptr(), Bt.data_ptr(), C.data_ptr(), M, N, K, stream)

    want = ",".join(f"{k}={params[k]}" for k in PARAMS)
    got = lib.hktune_config().decode()
    res["config_string"] = got
    res["config_ok"] = got == want
    dump()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    torch.manual_seed(0)
    dev = torch.device("cuda")
    BM, BN = tile(params)

    def rand(*shape):
        return torch.randn(*shape, device=dev, dtype=torch.float32).to(torch.bfloat16)

    # ---- illegal shapes: refused, C untouched (big enough buffers so a launch would write)
    A = rand(2 * BM + 64, 192)
    Bt = rand(2 * BN + 64, 192)
    C = torch.full((2 * BM + 64, 2 * BN + 64), 7.0, device=dev, dtype=torch.bfloat16)
    rcs = [gemm(A, Bt, C, BM + 32, BN, 64), gemm(A, Bt, C, BM, BN + 32, 64),
           gemm(A, Bt, C, BM, BN, 96), gemm(A, Bt, C, BM, BN, 0), gemm(A, Bt, C, 0, BN, 64)]
    if params["CLUSTER_M"] > 1:     # half a cluster pair of tile rows / columns
        rcs.append(gemm(A, Bt, C, BM // 2, BN, 64))
    if params["CLUSTER_N"] > 1:
        rcs.append(gemm(A, Bt, C, BM, BN // 2, 64))
    if params["SPLIT_K"] > 1:       # K not a whole number of k steps per slice
        rcs.append(gemm(A, Bt, C, BM, BN, 64 * (params["SPLIT_K"] - 1)))
    torch.cuda.synchronize()
    res["illegal_rcs"] = rcs
    res["illegal_refused"] = bool(all(rc != 0 for rc in rcs) and (C == 7).all().item())
    dump()

    def verify(A, Bt, C, ref=None):
        if ref is None:
            ref = torch.matmul(A.float(), Bt.float().t())
        Cf = C.float()
        rel = (torch.linalg.norm(Cf - ref) / torch.linalg.norm(ref)).item()
        rms = (torch.linalg.norm(ref) / math.sqrt(ref.numel())).item()
        # bf16 output rounding is <= 2^-9 relative; allow 4x that plus 1% of the RMS value
        bound = ref.abs() * (1 / 128) + 1e-2 * rms
        bad = int(((Cf - ref).abs() > bound).sum().item()) + int(torch.isnan(Cf).sum().item())
        return rel, bad

    def check(M, N, K, tag):
        A, Bt = rand(M, K), rand(N, K)
        C = torch.full((M, N), float("nan"), device=dev, dtype=torch.bfloat16)
        rc = gemm(A, Bt, C)
        torch.cuda.synchronize()
        r = dict(tag=tag, M=M, N=N, K=K, rc=rc)
        if rc != 0:
            r.update(err=None, bad=None, ok=False)
        else:
            rel, bad = verify(A, Bt, C)
            # deterministic: a second launch on the same inputs gives the same bits (split-K sums
            # its slices in one fixed order)
            C2 = torch.full_like(C, float("nan"))
            rc2 = gemm(A, Bt, C2)
            torch.cuda.synchronize()
            same = bool(rc2 == 0 and torch.equal(C.view(torch.int16), C2.view(torch.int16)))
            r.update(err=rel, bad=bad, deterministic=same, ok=bool(rel < 1e-2 and bad == 0 and same))
        res["checks"].append(r)
        dump()
        return r

    sms = torch.cuda.get_device_properties(0).multi_processor_count
    S, st, sk = params["SUPER_M"], params["STAGES"], params["SPLIT_K"]
    check(BM, BN, 64 * sk, "one tile, one k step" + (" per K slice" if sk > 1 else ""))
    # 2 full SUPER_M groups + a ragged group of 3 block-rows; enough block-columns that
    # tiles > SMs (persistent blocks take several tiles); K wraps the ring several times
    # (split-K: within every slice)
    rows = 2 * S + 3
    cols = max(5, _ceil_div(sms + 13, rows))
    check(rows * BM, cols * BN, (2 * st + 3) * 64 * sk, "multi-block, ragged SUPER_M, tiles > SMs")
    # several tiles per block (ping-pong alternation, the ring's phase carried across tiles)
    check(16 * BM, _ceil_div(4 * sms, 16) * BN, (st + 1) * 64 * sk, "tiles > 4x SMs, ring wraps across tiles")

    # ---- timing: ABBA rounds against torch.matmul, inputs rotated over > 2x L2
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 50 << 20)
    for (M, N, K) in shapes:
        key = f"{M}x{N}x{K}"
        if not shape_ok(params, space, M, N, K):
            res["perf"][key] = dict(skipped="shape not legal for this config")
            dump()
            continue
        per = (M * K + N * K + M * N) * 2
        nsets = max(2, min(32, math.ceil(2.5 * l2 / per)))
        sets = [(rand(M, K), rand(N, K), torch.empty(M, N, device=dev, dtype=torch.bfloat16))
                for _ in range(nsets)]
        flop = 2.0 * M * N * K
        rc = gemm(*sets[0])
        torch.cuda.synchronize()
        if rc != 0:
            res["perf"][key] = dict(rc=rc, error="launch refused/failed", ok=False)
            dump()
            continue

        def ours(A, Bt, C):
            gemm(A, Bt, C)

        def theirs(A, Bt, C):
            torch.matmul(A, Bt.t(), out=C)

        est_ms = flop / 500e12 * 1e3  # ~500 TFLOP/s guess -> launches per segment
        per_seg = int(min(40, max(5, 15.0 / max(est_ms, 1e-3))))
        rounds = a.rounds
        for _ in range(3):  # warm-up both
            for i in range(nsets):
                ours(*sets[i]); theirs(*sets[i])
        torch.cuda.synchronize()
        times = {"ours": [], "torch": []}
        idx = 0
        for r in range(rounds):
            order = ["ours", "torch", "torch", "ours"] if r % 2 == 0 else ["torch", "ours", "ours", "torch"]
            for who in order:
                fn = ours if who == "ours" else theirs
                ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                      for _ in range(per_seg)]
                for e0, e1 in ev:
                    s = sets[idx % nsets]
                    idx += 1
                    e0.record(); fn(*s); e1.record()
                torch.cuda.synchronize()
                times[who] += [e0.elapsed_time(e1) for e0, e1 in ev]

        def stats(xs):
            xs = sorted(xs)
            q = lambda p: xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]
            return dict(n=len(xs), ms=q(0.5), p10_ms=q(0.1), p90_ms=q(0.9))

        so, st_ = stats(times["ours"]), stats(times["torch"])
        so["tflops"] = flop / so["ms"] / 1e9
        st_["tflops"] = flop / st_["ms"] / 1e9
        # correctness on a timed buffer, after all those launches (NaN-poisoned)
        A, Bt, C = sets[0]
        C.fill_(float("nan"))
        rc2 = gemm(A, Bt, C)
        torch.cuda.synchronize()
        rel, bad = verify(A, Bt, C) if rc2 == 0 else (None, None)
        res["perf"][key] = dict(ours=so, torch=st_, ratio=st_["ms"] / so["ms"], err=rel, bad=bad,
                                ok=bool(rc2 == 0 and rel is not None and rel < 1e-2 and bad == 0),
                                sets=nsets, per_segment=per_seg, rounds=rounds)
        dump()
        del sets
        torch.cuda.empty_cache()
    res["ok"] = bool(res["config_ok"] and res["illegal_refused"]
                     and all(c["ok"] for c in res["checks"])
                     and all(v.get("ok", True) for v in res["perf"].values()))
    res["done"] = True
    dump()
    return 0


# ------------------------------------------------------------------ driver
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tk-root", default=os.environ.get("THUNDERKITTENS_ROOT", ""),
                    help="ThunderKittens checkout (has include/kittens.cuh and prototype/)")
    ap.add_argument("--out", default=str(ROOT / "bench/results"))
    ap.add_argument("--configs", default=",".join(DEFAULT), help="comma list of CONFIGS names, or 'all'")
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--rounds", type=int, default=4, help="ABBA rounds per config and shape")
    ap.add_argument("--compile-timeout", type=int, default=300)
    ap.add_argument("--config-timeout", type=int, default=90)
    ap.add_argument("--budget", type=int, default=450, help="seconds; later configs are skipped")
    # internal: run one config
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--so", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    t_start = time.time()
    tk = Path(a.tk_root).resolve() if a.tk_root else None
    if not tk or not (tk / "include/kittens.cuh").is_file() or not (tk / "prototype/prototype.cuh").is_file():
        ap.error(f"--tk-root {a.tk_root!r}: no include/kittens.cuh + prototype/prototype.cuh there")
    names = list(CONFIGS) if a.configs == "all" else a.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; known: {', '.join(CONFIGS)}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    fam, space = load_yaml()

    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), tk_root=str(tk),
                shapes=a.shapes)
    try:
        tk_src = (tk / "SOURCE").read_text().strip() if (tk / "SOURCE").is_file() else None
        meta["tk_source"] = tk_src
    except OSError:
        pass
    try:
        v = subprocess.run([nvcc_path(), "--version"], capture_output=True, text=True).stdout
        meta["nvcc"] = v.strip().splitlines()[-1]
    except OSError as e:
        meta["nvcc"] = f"missing: {e}"
    try:
        import torch
        meta.update(gpu=torch.cuda.get_device_name(0), torch=torch.__version__,
                    sms=torch.cuda.get_device_properties(0).multi_processor_count)
    except Exception as e:  # noqa: BLE001
        meta["gpu"] = f"unavailable: {e}"
    print(json.dumps(meta), flush=True)

    # ---- compile in parallel
    todo = []
    results = dict(meta=meta, configs=[])
    for n in names:
        defines, bad = resolve(CONFIGS[n], space)
        if bad:
            print(f"{n}: violates {bad}, skipped", flush=True)
            results["configs"].append(dict(name=n, params=CONFIGS[n], skipped=f"violates {bad}"))
            continue
        todo.append((n, defines))
    tmp = tempfile.mkdtemp(prefix="hk_tk_")
    t0 = time.time()
    with ThreadPoolExecutor(max(1, a.jobs)) as ex:
        comps = list(ex.map(lambda nd: compile_one(nd[0], nd[1], fam, tk, tmp, a.compile_timeout), todo))
    print(f"compiled {sum(c['ok'] for c in comps)}/{len(comps)} configs in {time.time() - t0:.1f}s wall",
          flush=True)
    (out / "tk_kernel_check_compile.log").write_text("\n\n".join(c["log"] for c in comps))

    # ---- run each config in its own process
    for (n, defines), c in zip(todo, comps):
        r = dict(name=n, params=CONFIGS[n], smem=defines["SMEM_BYTES"], regs=c["regs"],
                 spills=c["spills"], compile_s=c["secs"], compiled=c["ok"])
        results["configs"].append(r)
        if not c["ok"]:
            r["ok"] = False
            print(f"{n}: COMPILE FAILED\n{c['log'][-1500:]}", flush=True)
            continue
        if time.time() - t_start > a.budget:
            r["skipped"] = "time budget spent"
            print(f"{n}: skipped (budget)", flush=True)
            continue
        rf = Path(tmp) / f"{n}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--so", c["so"],
               "--params", json.dumps(CONFIGS[n]), "--result", str(rf), "--shapes", a.shapes,
               "--rounds", str(a.rounds)]
        t1 = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.config_timeout)
            r["worker_rc"] = p.returncode
            tail = (p.stdout + p.stderr)[-1500:]
        except subprocess.TimeoutExpired:
            r["worker_rc"] = "timeout"
            tail = f"TIMEOUT after {a.config_timeout}s (hang?)"
        r["worker_s"] = round(time.time() - t1, 1)
        try:
            r.update(json.loads(rf.read_text()))
        except (OSError, ValueError):
            r["ok"] = False
        if not r.get("done"):
            r["ok"] = False
            r["worker_tail"] = tail
        print(f"{n}: ok={r.get('ok')} regs={c['regs']} spills={c['spills']} compile={c['secs']}s "
              f"run={r['worker_s']}s " + " ".join(
                  f"{k}:{v['ours']['tflops']:.0f}TF/x{v['ratio']:.2f}"
                  for k, v in r.get("perf", {}).items() if "ours" in v)
              + ("" if r.get("done") else f"\n  worker failed: {tail}"), flush=True)
        (out / "tk_kernel_check.json").write_text(json.dumps(results, indent=1, default=str))

    (out / "tk_kernel_check.json").write_text(json.dumps(results, indent=1, default=str))

    print_table(results, meta, time.time() - t_start)
    return 0 if all(r.get("ok") for r in results["configs"] if r.get("compiled")) else 1


def print_table(results, meta, total_s):
    # ---- compact table (last)
    print(f"\n{meta.get('gpu')}  {meta['date']}  torch {meta.get('torch')}  {meta.get('nvcc')}  "
          f"total {total_s:.0f}s")
    print("TF = median of per-launch CUDA-event times (ABBA rounds vs torch.matmul, inputs rotated "
          "over >2x L2); xcublas = torch median / ours median; err = rel. Frobenius vs fp32")
    print(f"{'config':12s} {'regs':>4s} {'spl':>3s} {'cmp_s':>5s} {'ok':>2s} {'shape':>17s} "
          f"{'TF':>6s} {'p10-p90 TF':>11s} {'cublasTF':>8s} {'xcublas':>7s} {'err':>8s}")
    for r in results["configs"]:
        head = (f"{r['name']:12s} {r.get('regs') or 0:4d} {r.get('spills') or 0:3d} "
                f"{r.get('compile_s') or 0:5.0f} {'y' if r.get('ok') else 'N':>2s}")
        if not r.get("compiled", False) or "skipped" in r and "perf" not in r:
            print(f"{head} {r.get('skipped', 'COMPILE FAILED')}")
            continue
        if not r.get("perf"):
            print(f"{head} no timings ({r.get('worker_rc')})")
            continue
        for k, v in r["perf"].items():
            if "ours" not in v:
                print(f"{head} {k:>17s} {v.get('skipped') or v.get('error')}")
                continue
            o, t = v["ours"], v["torch"]
            lo, hi = 2e-9 * _flop(k) / o["p90_ms"], 2e-9 * _flop(k) / o["p10_ms"]
            err = f"{v['err']:.1e}" if v.get("err") is not None else "-"
            print(f"{head} {k:>17s} {o['tflops']:6.0f} {lo:5.0f}-{hi:<5.0f} {t['tflops']:8.0f} "
                  f"{v['ratio']:7.3f} {err:>8s}")
            head = " " * len(head)
        if not r.get("ok"):
            why = [f"config string {r.get('config_string')!r}"] if r.get("config_ok") is False else []
            why += ["illegal shape not refused"] if r.get("illegal_refused") is False else []
            why += [f"{c['tag']} {c['M']}x{c['N']}x{c['K']}: rc={c['rc']} err={c.get('err')} bad={c.get('bad')}"
                    for c in r.get("checks", []) if not c.get("ok")]
            why += [f"{k}: rc/err {v.get('rc')}/{v.get('err')} bad={v.get('bad')}"
                    for k, v in r.get("perf", {}).items() if v.get("ok") is False]
            if not r.get("done"):
                why.append(f"worker did not finish (rc {r.get('worker_rc')})")
            print(f"{'':12s}   FAILED: " + "; ".join(why))


def _flop(key):
    M, N, K = (int(x) for x in key.split("x"))
    return M * N * K  # x2 applied by the caller (2e-9 * flop / ms = TFLOP/s)


if __name__ == "__main__":
    sys.exit(main())
