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
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:   # also when loaded by path (tests/test_device_scripts.py)
    sys.path.insert(0, str(HERE))

from tk_kernel_compile import compile_one, nvcc_path  # noqa: E402
from tk_kernel_configs import CONFIGS, DEFAULT, SHAPES  # noqa: E402
from tk_kernel_space import ROOT, load_yaml, resolve  # noqa: E402
from tk_kernel_table import print_table  # noqa: E402
from tk_kernel_worker import worker  # noqa: E402


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


if __name__ == "__main__":
    sys.exit(main())
