"""Benchmark: tune a family on a GPU for a set of shapes and report the tuned kernel's paired ratio
to the vendor BLAS (cuBLAS / hipBLASLt, timed in alternating rounds on the same inputs), with the
family's default config timed the same way beside it, trials, wall and compile time.

    python bench/tune.py --family thunderkittens --out DIR [--shapes 4096x4096x4096,...]
        [--trials 30] [--timeout 25] [--tournament-rounds 12] [--baseline K=V,...]

Runs the real product (`python -m hktune search`, then `python -m hktune bench` for the baseline)
and writes DIR/summary.md and DIR/summary.json. Shapes are M x N x K.
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

SHAPES = ("2048x2048x2048,4096x4096x4096,8192x8192x8192,4096x14336x4096,4096x4096x14336,"
          "16384x8192x1024,1024x8192x8192")


def hk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--family", default=None)
    ap.add_argument("--dtype", default="bf16", help="passed to search and to the --baseline bench")
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=25.0, help="seconds of searching per shape (then the tournament)")
    ap.add_argument("--tournament-rounds", type=int, default=12)
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--strategy", default=None)
    ap.add_argument("--no-sanitize", action="store_true", help="pass --no-sanitize to every search")
    ap.add_argument("--space", default=None, help="passed to search: an opt-in space file (e.g. bench/tk-sched.yaml, bench/tk-sched-fp8.yaml)")
    ap.add_argument("--baseline", default=None, help="a config timed beside the tuned one (e.g. the family's default)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / f"{args.arch}.yaml"
    storage = str((args.out / "studies.journal").resolve())
    fam = ["--family", args.family] if args.family else []
    rows = []
    for shape in args.shapes.split(","):
        rows.append(search_row(args, shape, table, storage, fam))
        if args.baseline:   # per shape, so a run stopped by its time limit keeps the shapes it finished
            add_baseline(args, rows[-1], fam)
        write_summary(args, rows)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


def search_row(args: argparse.Namespace, shape: str, table: Path, storage: str, fam: list[str]) -> dict:
    """One `hktune search` of one shape; its row of the summary (the table's entry for the shape)."""
    m, n, k = (int(x) for x in shape.split("x"))
    t0 = time.perf_counter()
    cmd = ["search", "--arch", args.arch, *fam, "--dtype", args.dtype, "--m", str(m), "--n", str(n), "--k", str(k), "--trials", str(args.trials),
           "--timeout", str(args.timeout), "--tournament-rounds", str(args.tournament_rounds), "--table", str(table),
           "--storage", storage, "--quiet", *(["--strategy", args.strategy] if args.strategy else []),
           *(["--no-sanitize"] if args.no_sanitize else []), *(["--space", args.space] if args.space else [])]
    proc = hk(*cmd)
    wall = time.perf_counter() - t0
    (args.out / f"search-{shape}.log").write_text(proc.stderr + proc.stdout)
    print(proc.stdout[-1200:], proc.stderr[-400:], flush=True)
    entry = None
    if table.exists():
        for e in yaml.safe_load(table.read_text())["entries"]:
            if (e["key"]["m"], e["key"]["n"], e["key"]["k"]) == (m, n, k) and e["key"].get("dtype", "bf16") == args.dtype:
                entry = e
    summary = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("  ")
        summary[key.strip()] = value.strip()
    tour = (entry or {}).get("tournament") or {}
    return {
        "shape": shape, "rc": proc.returncode, "wall_s": round(wall, 1), "evaluated": summary.get("evaluated"),
        "compile_s": summary.get("compile time (sum)"), "family": entry and entry["key"]["family"],
        "tflops": entry and round(entry["tflops"], 1), "vendor_tflops": entry and round(entry["vendor"]["tflops"], 1),
        "ratio": entry and round(entry["ratio"], 4), "ratio_lo": entry and entry.get("ratio_lo"),
        "ratio_hi": entry and entry.get("ratio_hi"), "tie": tour.get("tie"), "rounds": tour.get("rounds"),
        "error": entry and entry["error"], "config": entry and entry["config"], "device": entry and entry["device"],
        "sanitizer": (entry or {}).get("sanitizer"),
    }


def add_baseline(args: argparse.Namespace, row: dict, fam: list[str]) -> None:
    """The baseline config timed at the row's shape (`hktune bench`), and the tuner's gain over it."""
    r = hk("bench", "--arch", args.arch, *fam, "--dtype", args.dtype, "--config", args.baseline, "--shapes", row["shape"],
           "--json")
    with open(args.out / "baseline.log", "a") as log:
        log.write(r.stderr + r.stdout)
    try:
        b = next(iter(json.loads(r.stdout)), {}) or {}
    except json.JSONDecodeError:
        b = {}
    row["baseline_ratio"] = b.get("ratio") and round(b["ratio"], 4)
    row["baseline_ci"] = b.get("ratio_lo") and [round(b["ratio_lo"], 4), round(b["ratio_hi"], 4)]
    row["baseline_tflops"] = b.get("tflops") and round(b["tflops"], 1)
    # the tuner's gain over the baseline: tuned ratio / baseline ratio (same vendor, same method)
    row["gain"] = row["ratio"] and row["baseline_ratio"] and round(row["ratio"] / row["baseline_ratio"], 4)


def write_summary(args: argparse.Namespace, rows: list[dict]) -> None:
    """summary.json and summary.md of the rows so far (rewritten after every shape)."""
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (args.out / "summary.json").write_text(json.dumps({"date": date, "args": vars(args) | {"out": str(args.out)}, "rows": rows},
                                                      indent=1, default=str))
    def ci(lo, hi):  # noqa: ANN001, ANN202
        return f"{lo:.3f}-{hi:.3f}" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else ""

    lines = [f"# {args.family or 'default'} family tuned vs the vendor BLAS ({date})", "",
             f"device: {next((r['device'] for r in rows if r['device']), {})}; trials {args.trials}, "
             f"search timeout {args.timeout} s per shape, tournament <= {args.tournament_rounds} rounds", "",
             "| M x N x K | tuned TFLOP/s | vendor TFLOP/s | paired ratio (95% CI) | tournament | baseline TFLOP/s | baseline ratio (95% CI) | gain over baseline | evaluated | compile s | wall s | config |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cfg = " ".join(f"{k}={v}" for k, v in (r["config"] or {}).items())
        tour = "" if r["rounds"] is None else f"{r['rounds']} rounds" + (", tie" if r["tie"] else "")
        lines.append(f"| {r['shape']} | {r['tflops']} | {r['vendor_tflops']} | {r['ratio']} ({ci(r['ratio_lo'], r['ratio_hi'])}) | "
                     f"{tour} | {r.get('baseline_tflops')} | {r.get('baseline_ratio')} ({ci(*(r.get('baseline_ci') or [None, None]))}) | {r.get('gain')} | {r['evaluated']} | "
                     f"{r['compile_s']} | {r['wall_s']} | {cfg} |")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
