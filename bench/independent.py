#!/usr/bin/env python3
"""An independent graph-replay measurement of thunderkittens kernels against cuBLAS: the check that
hktune's figures are accurate, not only precise (issue 19).

torch + ctypes + pyyaml only; no hktune import, none of hktune's timing code. For every
(config, shape) asked for:
  1. compile the config with nvcc from kernels/thunderkittens/gemm.cu with family.yaml's flags
     (parallel, into --build-dir), and check the library's hktune_config() says the same config;
  2. draw random bf16 inputs (never zeros) in rotated sets, ceil(2 x L2 / (A + Bt + C)) of them, at
     least 3 (the measurement regime's rule, so both harnesses time the same cache state: with 2.5 x
     L2 over A + Bt + C + the vendor's output, 2048^3 got 4 sets where hktune has 5, and read 1.2%
     lower on an H100, 2026-12-06),
     check one launch per set against an fp32 reference (outputs NaN-poisoned first);
  3. capture each arm as one CUDA graph of --launches (32) back-to-back launches walking the sets:
     the kernel, and torch.mm(A, Bt.t(), out=C) (the vendor starts half a rotation behind);
  4. after --heat-s (5) of the vendor back to back before the first row (the card in its power-capped
     steady state) and --warm-s (2) of back-to-back replays of both per row, --rounds (10) rounds of A B B A replays, each
     replay between two events, no host synchronisation inside a round; the paired ratio is the
     median over rounds of (b1 + b2) / (a1 + a2) (vendor time / kernel time). Each round is read
     before the next is queued (the device idles for that read, before A's replay); --gapless queues
     the next round first, as hktune's own timer does (check-model's A/A run of 2026-12-05 read 1.02x
     with idle time between rounds: bench/results/h100-2026-12-05).
fp8_e4m3 entries (a table keyed by that dtype, or --dtype fp8_e4m3) are built with the family's fp8
flags (-DHKT_FP8); their inputs are e4m3 with per-tensor float32 scales (amax / 448, not powers of two),
the kernel takes the two scale pointers after C, the reference is the fp32 product of the dequantised
inputs, and the vendor is torch._scaled_mm with the same scales (cuBLASLt), bf16 out.
Writes one JSON row per pair and prints a table last. Inputs:
    --table T.yaml        every entry of an hktune table (its config and shape; its ratio kept for comparison)
    --landscape L.json    every verified config of an exported landscape (bench/export_landscape.py)
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
FAMILY_DIR = ROOT / "kernels/thunderkittens"
REPRODUCED = 0.01   # a product figure an independent harness cannot reproduce within 1% counts as wrong


def nvcc() -> str:
    return os.environ.get("HKTUNE_NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"


FP8 = "fp8_e4m3"
E4M3_MAX = 448.0


def build(cfg: dict[str, int], tk_root: Path, out_dir: Path, dtype: str = "bf16") -> Path:
    fam = yaml.safe_load((FAMILY_DIR / "family.yaml").read_text())
    arch = fam["archs"]["sm_90"]
    flags = list(fam.get("flags", [])) + list(arch.get("flags", []))
    if dtype != "bf16":
        flags += list(arch["dtypes"][dtype].get("flags", []))
    tag = hashlib.sha1(json.dumps([dtype, sorted(cfg.items())]).encode()).hexdigest()[:12]
    out = out_dir / f"tk_{tag}.so"
    if out.exists():
        return out
    cmd = ([nvcc()] + flags + ["-shared", "-o", str(out), str(FAMILY_DIR / "gemm.cu"),
                              f"-I{tk_root}/include", f"-I{tk_root}/prototype"] + [f"-D{k}={v}" for k, v in cfg.items()])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"nvcc failed for {cfg}: {p.stderr[-800:]}")
    Path(str(out) + ".cmd").write_text(" ".join(cmd) + "\n")     # what it was built as (lib_dtype)
    return out


class Kernel:
    def __init__(self, path: Path, dtype: str = "bf16") -> None:
        self.lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
        self.fn = self.lib.hktune_gemm
        self.scaled = dtype == FP8        # two scale pointers after C
        self.fn.argtypes = [ctypes.c_void_p] * (5 if self.scaled else 3) + [ctypes.c_int] * 3 + [ctypes.c_void_p]
        self.fn.restype = ctypes.c_int
        self.lib.hktune_config.restype = ctypes.c_char_p

    def config(self) -> dict[str, int]:
        return {k: int(v) for k, v in (p.split("=") for p in self.lib.hktune_config().decode().split(",") if p)}

    def launch(self, A: torch.Tensor, Bt: torch.Tensor, C: torch.Tensor, scales: tuple = ()) -> None:
        ptrs = [A.data_ptr(), Bt.data_ptr(), C.data_ptr()] + ([s.data_ptr() for s in scales] if self.scaled else [])
        rc = self.fn(*ptrs, A.shape[0], Bt.shape[0], A.shape[1], torch.cuda.current_stream().cuda_stream)
        if rc != 0:
            raise RuntimeError(f"hktune_gemm returned {rc}")


def operand(rows: int, k: int, g: torch.Generator, dtype: str) -> tuple[torch.Tensor, tuple]:
    """Random normal values (never zeros); fp8: quantised with a per-tensor scale amax / 448."""
    x = torch.randn(rows, k, device="cuda", generator=g)
    if dtype != FP8:
        return x.to(torch.bfloat16), ()
    scale = (x.abs().amax() / E4M3_MAX).reshape(1)
    return (x / scale).to(torch.float8_e4m3fn), (scale,)


def inputs(m: int, n: int, k: int, seed: int, dtype: str = "bf16") -> tuple[list, list, list, list, list]:
    """Rotated sets, ceil(2 x L2 / (A + Bt + C)) and at least 3: A, Bt, the kernel's outputs C, the
    vendor's V, and per set the scales (scale_a, scale_b) of an fp8 pair (empty for bf16)."""
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    size = 1 if dtype == FP8 else 2
    per = size * (m * k + n * k) + 2 * m * n
    count = max(3, -(-2 * l2 // per))
    g = torch.Generator(device="cuda").manual_seed(seed)
    A, B, S = [], [], []
    for _ in range(count):
        (a, sa), (b, sb) = operand(m, k, g, dtype), operand(n, k, g, dtype)
        A.append(a); B.append(b); S.append(sa + sb)
    C = [torch.full((m, n), float("nan"), device="cuda", dtype=torch.bfloat16) for _ in range(count)]
    V = [torch.empty(m, n, device="cuda", dtype=torch.bfloat16) for _ in range(count)]
    return A, B, C, V, S


def vendor(a: torch.Tensor, b: torch.Tensor, v: torch.Tensor, s: tuple):
    """The vendor call into v: torch.mm for bf16, torch._scaled_mm with the same scales for fp8."""
    if not s:
        return lambda: torch.mm(a, b.t(), out=v)
    sa, sb = (x.reshape(()) for x in s)
    return lambda: torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16, out=v)


def check(kern: Kernel, A: list, B: list, C: list, S: list) -> float:
    worst = 0.0
    for a, b, c, s in zip(A, B, C, S):
        c.fill_(float("nan"))
        kern.launch(a, b, c, s)
        torch.cuda.synchronize()
        ref = (a.float() * s[0]) @ (b.float() * s[1]).t() if s else a.float() @ b.float().t()
        if not torch.isfinite(c).all():
            raise RuntimeError("unwritten or non-finite outputs")
        err = ((c.float() - ref).norm() / ref.norm()).item()
        if err > 1e-2:
            raise RuntimeError(f"wrong result: relative error {err:.3g}")
        worst = max(worst, err)
    return worst


def capture(fns: list, launches: int, start: int) -> torch.cuda.CUDAGraph:
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for j in range(3):
            fns[(start + j) % len(fns)]()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, stream=s):
        for j in range(launches):
            fns[(start + j) % len(fns)]()
    return g


def measure(kern: Kernel, m: int, n: int, k: int, args: argparse.Namespace, seed: int, dtype: str = "bf16") -> dict:
    A, B, C, V, S = inputs(m, n, k, seed, dtype)
    err = check(kern, A, B, C, S)
    cand = [lambda a=a, b=b, c=c, s=s: kern.launch(a, b, c, s) for a, b, c, s in zip(A, B, C, S)]
    vend = [vendor(a, b, v, s) for a, b, v, s in zip(A, B, V, S)]
    launches = args.launches
    if args.replay_ms:
        t0 = time.perf_counter()
        for f in cand[:3] * 3:
            f()
        torch.cuda.synchronize()
        launches = max(3, int(args.replay_ms / 1e3 / ((time.perf_counter() - t0) / 9)) + 1)
    ga = capture(cand, launches, 0)
    gb = capture(vend, launches, len(vend) // 2)
    t_end = time.perf_counter() + args.warm_s
    while time.perf_counter() < t_end:
        ga.replay(); gb.replay()
        torch.cuda.synchronize()
    def enqueue() -> list:
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(5)]
        ev[0].record()
        for i, g in enumerate((ga, gb, gb, ga)):
            g.replay()
            ev[i + 1].record()
        return ev

    # rounds on the device before the oldest is read: 1 by default (the device idles for the host's
    # read, tens of us, before A's replay); 2 with --gapless (the next round is queued first)
    depth = 2 if args.gapless else 1
    ratios, ta, tb, pending, queued = [], [], [], [], 0
    for _ in range(args.rounds):
        while len(pending) < depth and queued < args.rounds:
            pending.append(enqueue())
            queued += 1
        ev = pending.pop(0)
        ev[4].synchronize()
        a1, b1, b2, a2 = (ev[i].elapsed_time(ev[i + 1]) for i in range(4))
        ratios.append((b1 + b2) / (a1 + a2))
        ta.append((a1 + a2) / 2 / launches)
        tb.append((b1 + b2) / 2 / launches)
    torch.cuda.synchronize()
    flop = 2.0 * m * n * k
    med_a, med_b = statistics.median(ta), statistics.median(tb)
    del ga, gb
    return {"ratio": statistics.median(ratios), "rounds": ratios, "kernel_ms": med_a, "vendor_ms": med_b,
            "kernel_tflops": flop / med_a / 1e9, "vendor_tflops": flop / med_b / 1e9, "error": err, "sets": len(A),
            "launches": launches}


def lib_key(p: dict) -> str:
    """One library per (dtype, config): the config string does not say the dtype."""
    return json.dumps([p.get("dtype", "bf16"), {k: int(v) for k, v in p["config"].items()}], sort_keys=True)


def lib_dtype(so: Path) -> str:
    """fp8 when the nvcc command beside it had -DHKT_FP8: build()'s <lib>.cmd, or the first line of an
    hktune cache entry's build.log (one library per entry)."""
    for log in (Path(str(so) + ".cmd"), so.parent / "build.log"):
        if log.exists():
            return FP8 if "-DHKT_FP8" in log.read_text(errors="replace").split("\n", 1)[0].split() else "bf16"
    return "bf16"


def found(folder: Path, wanted: set[str]) -> dict[str, Path]:
    """Libraries under ``folder`` whose own hktune_config() (and dtype, lib_dtype) is one of the wanted
    (each loaded in a child process, so that a broken one cannot take this one down)."""
    out: dict[str, Path] = {}
    for so in sorted(folder.rglob("*.so")):
        p = subprocess.run([sys.executable, "-c", "import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); "
                            "l.hktune_config.restype=ctypes.c_char_p; print(l.hktune_config().decode())", str(so)],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or "=" not in p.stdout:
            continue
        cfg = {k: int(v) for k, v in (x.split("=") for x in p.stdout.strip().split(",") if x)}
        key = lib_key({"config": cfg, "dtype": lib_dtype(so)})
        if key in wanted:
            out[key] = so
    return out


def pairs_from(args: argparse.Namespace) -> list[dict]:
    out = []
    if args.table:
        for e in yaml.safe_load(Path(args.table).read_text())["entries"]:
            key = e["key"]
            out.append({"config": e["config"], "dtype": key.get("dtype", "bf16"),
                        "m": key["m"], "n": key["n"], "k": key["k"], "hktune_ratio": e.get("ratio"),
                        "hktune_lo": (e.get("extra") or {}).get("ratio_lo"), "hktune_hi": (e.get("extra") or {}).get("ratio_hi")})
    if args.landscape:
        d = json.loads(Path(args.landscape).read_text())
        m, n, k = d["shape"]
        for r in d["rows"]:
            if r.get("ratio"):
                out.append({"config": r["config"], "dtype": args.dtype, "m": m, "n": n, "k": k, "hktune_ratio": r["ratio"],
                            "hktune_lo": r.get("ratio_lo"), "hktune_hi": r.get("ratio_hi")})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table")
    ap.add_argument("--landscape")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", FP8], help="of a --landscape's configs (a table's entries say theirs)")
    ap.add_argument("--tk-root", default=os.environ.get("THUNDERKITTENS_ROOT"))
    ap.add_argument("--build-dir", default="/tmp/hktune-independent")
    ap.add_argument("--reuse", help="a folder of already built libraries (e.g. hktune's build cache): any .so whose "
                                    "hktune_config() names a wanted config is used instead of compiling it again")
    ap.add_argument("--out", required=True)
    ap.add_argument("--launches", type=int, default=32)
    ap.add_argument("--replay-ms", type=float, default=None,
                    help="size each replay by time instead: launches = ceil(replay_ms / one launch's time)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--gapless", action="store_true",
                    help="queue each round before the previous one is read (the device never idles between rounds)")
    ap.add_argument("--warm-s", type=float, default=2.0, help="back-to-back replays of both arms before each row's rounds")
    ap.add_argument("--heat-s", type=float, default=5.0, help="the vendor back to back before the first row (steady state)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()
    pairs = pairs_from(args)
    bd = Path(args.build_dir); bd.mkdir(parents=True, exist_ok=True)
    cfgs = {lib_key(p): p for p in pairs}
    t0 = time.perf_counter()
    libs = found(Path(args.reuse), set(cfgs)) if args.reuse else {}
    todo = {k: p for k, p in cfgs.items() if k not in libs}
    with ThreadPoolExecutor(args.jobs) as ex:
        libs.update(zip(todo, ex.map(lambda p: build(p["config"], Path(args.tk_root), bd, p["dtype"]), todo.values())))
    print(f"{len(cfgs)} configs: {len(cfgs) - len(todo)} found built, {len(todo)} compiled in {time.perf_counter() - t0:.0f} s",
          flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    # --heat-s of the vendor back to back: the card reaches its power-capped steady state before the
    # first pair (an H100 out of idle, 2026-12-06: 16384x8192x1024 read 1.016-1.038x after 1 s + 0.5 s,
    # its rounds still climbing; 1.045-1.06x in the later rounds of 30)
    a = torch.randn(8192, 8192, device="cuda").to(torch.bfloat16)
    t_end = time.perf_counter() + args.heat_s
    while time.perf_counter() < t_end:
        torch.mm(a, a.t())
        torch.cuda.synchronize()
    del a
    rows = []
    for i, p in enumerate(pairs):
        kern = Kernel(libs[lib_key(p)], p["dtype"])
        got = kern.config()
        # HKT_* keys are build flags beside the knobs (e.g. bench/device/epi3c.yaml's HKT_E3_PEEL), not reported by it
        want = {k: int(v) for k, v in p["config"].items() if not k.startswith("HKT_")}
        if {k: got.get(k) for k in want} != want:
            raise RuntimeError(f"library reports {got}, expected {want}")
        r = measure(kern, p["m"], p["n"], p["k"], args, args.seed + i, p["dtype"])
        row = {**p, **{k: v for k, v in r.items() if k != "rounds"}, "round_ratios": [round(x, 5) for x in r["rounds"]]}
        if p.get("hktune_ratio"):
            row["diff"] = p["hktune_ratio"] / r["ratio"] - 1
            row["reproduced"] = abs(row["diff"]) <= REPRODUCED
        rows.append(row)
        torch.cuda.empty_cache()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "launches": None if args.replay_ms else args.launches, "replay_ms": args.replay_ms, "rounds": args.rounds,
            "gapless": args.gapless}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"{meta['gpu']}  {meta['date']}  graph replays of {f'>= {args.replay_ms:g} ms (launches per row)' if args.replay_ms else f'{args.launches} launches'}, median of {args.rounds} ABBA rounds")
    for r in rows:
        d = f"{r['diff']:+.2%}" if "diff" in r else ""
        print(f"{r['dtype']:<8} {r['m']}x{r['n']}x{r['k']:<6} indep {r['ratio']:.4f}  hktune {r.get('hktune_ratio') or float('nan'):.4f} {d:>8}  "
              f"{r['kernel_tflops']:.0f}/{r['vendor_tflops']:.0f} TFLOP/s  {','.join(f'{k}={v}' for k, v in r['config'].items())}"
              + ("" if r.get("reproduced", True) else f"  NOT REPRODUCED (hktune's figure is more than {REPRODUCED:.0%} off)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
