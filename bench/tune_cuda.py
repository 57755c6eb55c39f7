"""Benchmark: tune the cuda family on an NVIDIA GPU for the issue's shapes and report tuned
TFLOP/s against torch.matmul (cuBLAS) measured in the same run, with trials and wall time.

    python bench/tune_cuda.py --out DIR [--shapes 8192x8192x8192,...] [--trials 120] [--timeout 150]

Runs the real product (`python -m hktune.commands.cli search`) once per shape, then writes
DIR/summary.md and DIR/summary.json. Shapes are M x N x K.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

SHAPES = "8192x8192x8192,4096x4096x4096,2048x2048x2048,16384x8192x1024,1024x8192x8192"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--trials", type=int, default=120)
    ap.add_argument("--timeout", type=float, default=150.0, help="seconds per shape")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--sampler", default="tpe")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / f"{args.arch}.yaml"
    storage = str((args.out / "studies.journal").resolve())
    rows = []
    for shape in args.shapes.split(","):
        m, n, k = (int(x) for x in shape.split("x"))
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "hktune.commands.cli", "search", "--arch", args.arch, "--m", str(m), "--n", str(n), "--k", str(k),
               "--trials", str(args.trials), "--timeout", str(args.timeout), "--table", str(table), "--storage", storage,
               "--sampler", args.sampler, "--quiet"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        (args.out / f"search-{shape}.log").write_text(proc.stderr + proc.stdout)
        print(proc.stdout[-1500:], proc.stderr[-600:], flush=True)
        entry = None
        if table.exists():
            for e in yaml.safe_load(table.read_text())["entries"]:
                if (e["key"]["m"], e["key"]["n"], e["key"]["k"]) == (m, n, k):
                    entry = e
        study = json.loads(subprocess.run(
            [sys.executable, "-m", "hktune.commands.cli", "show", "--studies", "--storage", storage, "--json"],
            capture_output=True, text=True).stdout or "[]")
        s = next((x for x in study if x["study"].endswith(f"{m}x{n}x{k}")), {})
        rows.append({
            "shape": shape, "rc": proc.returncode, "wall_s": round(wall, 1),
            "tflops": entry and round(entry["tflops"], 1), "cublas_tflops": entry and round(entry["vendor"]["tflops"], 1),
            "ratio": entry and round(entry["ratio"], 3), "spread": entry and round(entry["spread"], 4),
            "error": entry and entry["error"], "verified": s.get("verified"), "failed": s.get("failed"),
            "pruned": s.get("pruned/skipped"), "config": entry and entry["config"], "device": entry and entry["device"],
        })
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (args.out / "summary.json").write_text(json.dumps({"date": date, "rows": rows}, indent=1))
    lines = [f"# cuda family tuned vs cuBLAS ({date})", "",
             f"device: {next((r['device'] for r in rows if r['device']), {})}", "",
             "| M x N x K | tuned TFLOP/s | cuBLAS TFLOP/s | ratio | spread | verified / failed / pruned trials | wall s | config |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cfg = " ".join(f"{k}={v}" for k, v in (r["config"] or {}).items())
        lines.append(f"| {r['shape']} | {r['tflops']} | {r['cublas_tflops']} | {r['ratio']} | {r['spread']} | "
                     f"{r['verified']} / {r['failed']} / {r['pruned']} | {r['wall_s']} | {cfg} |")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
