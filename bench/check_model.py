#!/usr/bin/env python3
"""Model-level figures for hktune.torch: a Llama MLP block (gate/up/down + SiLU) run with torch's
nn.Linear and with hktune's, on the same weights and input. Writes check_model.json and
check_model.md (error, end-to-end speed ratio, tuned/padded/fallback GEMM counts) to --out.

Needs only torch and this repository on PYTHONPATH (plus hktune's own dependencies for
--tune-trials, which runs `python -m hktune search` for each distinct GEMM shape first):

    PYTHONPATH=. python bench/check_model.py --out bench/results/check-model-h200 \\
        --tune-trials 200 --tune-timeout 1500
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import hktune.torch as ht  # noqa: E402
from hktune.torch.check import CPU_DEFAULTS, GPU_DEFAULTS, gemm_shapes, markdown, run_check  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None, help="output folder (default bench/results/check-model-<date>)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available)")
    p.add_argument("--hidden", type=int, default=None, help="H (default 4096 on GPU)")
    p.add_argument("--intermediate", type=int, default=None, help="I (default 14336 on GPU)")
    p.add_argument("--tokens", type=int, default=None, help="T (default 4096 on GPU)")
    p.add_argument("--iters", type=int, default=None, help="timed forwards per model (default 20 on GPU, 5 on CPU)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--table", action="append", default=[], help="results table (repeatable); default: the tuning "
                   "table when --tune-trials is given, else HKTUNE_TABLE / results/*.yaml")
    p.add_argument("--arch", default=None, help="arch to tune for (default: the device's, e.g. sm_90)")
    p.add_argument("--tune-trials", type=int, default=0, help="first run `hktune search` with this many trials per shape")
    p.add_argument("--tune-timeout", type=float, default=None, help="seconds per search (hktune search --timeout)")
    p.add_argument("--tune-jobs", type=int, default=None, help="parallel compiles per search (hktune search --jobs)")
    return p.parse_args(argv)


def tune(shapes: list[tuple[int, int, int]], arch: str, table: Path, args: argparse.Namespace, out: Path) -> list[dict]:
    """One `hktune search` per distinct shape, into ``table``; logs next to the results."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    runs = []
    for m, n, k in shapes:
        cmd = [sys.executable, "-m", "hktune", "search", "--arch", arch, "--m", str(m), "--n", str(n), "--k", str(k),
               "--trials", str(args.tune_trials), "--table", str(table), "--quiet"]
        if args.tune_timeout:
            cmd += ["--timeout", str(args.tune_timeout)]
        if args.tune_jobs:
            cmd += ["--jobs", str(args.tune_jobs)]
        log = out / f"search-{m}x{n}x{k}.log"
        print(f"tuning {m}x{n}x{k} on {arch} ({args.tune_trials} trials) -> {log}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        with log.open("w") as f:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT).returncode
        runs.append({"shape": [m, n, k], "rc": rc, "seconds": round(time.perf_counter() - t0, 1), "log": log.name})
        if rc != 0:
            print(f"  search exited {rc}: see {log}", file=sys.stderr)
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = GPU_DEFAULTS if device.type == "cuda" else CPU_DEFAULTS
    H = args.hidden or sizes["hidden"]
    I = args.intermediate or sizes["intermediate"]  # noqa: E741 - the usual name
    T = args.tokens or sizes["tokens"]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d-%H%M")
    out = args.out or ROOT / "bench" / "results" / f"check-model-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    arch = args.arch or ht.arch_of(device)

    tables = [Path(t) for t in args.table]
    runs: list[dict] = []
    if args.tune_trials > 0:
        table = tables[0] if tables else out / f"{arch}.yaml"
        shapes = list(dict.fromkeys(gemm_shapes(H, I, T).values()))  # gate and up share a shape
        runs = tune(shapes, arch, table, args, out)
        tables = tables or [table]
    if tables:
        ht.use_table(tables)

    r = run_check(H, I, T, device, iters=args.iters or (20 if device.type == "cuda" else 5), warmup=args.warmup, seed=args.seed)
    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda, "hip": getattr(torch.version, "hip", None),
        "argv": sys.argv[1:] if argv is None else argv, "searches": runs,
    }
    (out / "check_model.json").write_text(json.dumps({**r.to_dict(), **info}, indent=1) + "\n")
    md = markdown(r) + f"\n{info['device_name']}, torch {info['torch']}, {info['date']}\n"
    if runs:
        md += "\nsearches: " + "; ".join(f"{'x'.join(map(str, x['shape']))} rc={x['rc']} {x['seconds']} s" for x in runs) + "\n"
    (out / "check_model.md").write_text(md)
    print(md)
    print(f"wrote {out / 'check_model.json'} and {out / 'check_model.md'}", file=sys.stderr)
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
