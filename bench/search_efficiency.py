"""Search-efficiency and throughput benchmark for the cuda family.

    # on the GPU machine: time a random sample of >= 300 valid configs at 4096^3 and keep it
    python bench/search_efficiency.py collect --out DIR [--trials 400]
    # anywhere (CPU): replay TPE, random and warm-started TPE over the kept data
    python bench/search_efficiency.py replay --data DIR/sample.json [--warm DIR2/sample.json] [--seeds 5]

`collect` runs the real product (`python -m hktune search --sampler exhaustive --space
bench/cuda-subspace.yaml`: all 448 valid configs of a representative subspace) and records
the throughput figures: the share of wall time the GPU spent timing candidates, and seconds per
evaluated config. It then runs the same search again on a fresh study, with the compile cache
warm. `replay` drives hktune.search.driver.Search itself: the real sampler, seeds and warm start, with
a builder and a worker that return the recorded measurements. It reports how many evaluations
each strategy needed to reach 98% of the sample's best (median of the seeds).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

SHAPE = (4096, 4096, 4096)


def _summary_numbers(stdout: str) -> dict[str, float]:
    out = {}
    for key, pat in {"wall_s": r"wall time\s+([\d.]+) s", "run_s": r"run time\s+([\d.]+) s",
                     "compile_s": r"compile time \(sum\)\s+([\d.]+) s", "evaluated": r"evaluated\s+(\d+)"}.items():
        m = re.search(pat, stdout)
        out[key] = float(m.group(1)) if m else float("nan")
    return out


SUBSPACE = Path(__file__).with_name("cuda-subspace.yaml")


def search(out: Path, tag: str, sampler: str, trials: int, shape: tuple[int, int, int], seed: int = 0,
           space: Path | None = None) -> dict[str, Any]:
    storage = out / f"{tag}.journal"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "hktune", "search", "--arch", "sm_90", "--m", str(shape[0]), "--n", str(shape[1]),
                        "--k", str(shape[2]), "--trials", str(trials), "--sampler", sampler, "--seed", str(seed),
                        "--storage", str(storage), "--table", str(out / f"{tag}.yaml"), "--quiet",
                        *(["--space", str(space)] if space else [])], capture_output=True, text=True)
    nums = _summary_numbers(r.stdout)
    nums.update(tag=tag, rc=r.returncode, process_wall_s=round(time.perf_counter() - t0, 1),
                gpu_share=nums["run_s"] / nums["wall_s"], s_per_config=nums["wall_s"] / max(nums["evaluated"], 1))
    (out / f"{tag}.log").write_text(r.stderr[-4000:] + r.stdout)
    print(json.dumps(nums), flush=True)
    return nums


def dump_sample(storage: Path, shape: tuple[int, int, int], path: Path) -> int:
    import optuna

    from hktune.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.load_study(study_name="cuda-sm_90-bf16-" + "x".join(map(str, shape)), storage=open_storage(str(storage)))
    rows = [{"config": t.user_attrs["config"], "tflops": t.value, "vendor_tflops": t.user_attrs.get("vendor_tflops")}
            for t in st.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and "duplicate_of" not in t.user_attrs]
    path.write_text(json.dumps({"shape": shape, "rows": rows}))
    return len(rows)


def collect(args: argparse.Namespace) -> None:
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    # Every valid config of the subspace, timed once (the "exhaustive" ground truth).
    first = search(out, "sample", "exhaustive", args.trials, SHAPE, space=SUBSPACE)
    n = dump_sample(out / "sample.journal", SHAPE, out / "sample.json")
    again = search(out, "sample-cached", "exhaustive", args.trials, SHAPE, space=SUBSPACE)  # same configs, cache warm
    live = search(out, "tpe-live", "tpe", args.live_trials, SHAPE, seed=1)
    big = search(out, "tpe-8192", "tpe", args.live_trials, (8192, 8192, 8192), seed=1)
    dump_sample(out / "tpe-8192.journal", (8192, 8192, 8192), out / "sample-8192.json")
    (out / "throughput.json").write_text(json.dumps({"sample_configs": n, "first": first, "cached": again,
                                                     "tpe_live_4096": live, "tpe_8192": big}, indent=1))


# -- replay -----------------------------------------------------------------------------------------
class ReplayBuilder:
    """Hands back 'compiled' candidates at once; Search only needs submit/build/jobs."""

    jobs = 8
    compiler_version = "replay"
    include_dirs: tuple = ()

    def submit(self, cfg: dict[str, int]) -> Future:
        from hktune.build.builder import BuildOutcome

        f: Future = Future()
        f.set_result(BuildOutcome(config=cfg, key="replay", ok=True, seconds=0.0, cached=True, artifact=Path("replay"), log_path=None))
        return f

    def build(self, cfg: dict[str, int]):  # noqa: ANN201
        return self.submit(cfg).result()


class ReplayWorker:
    info = {"name": "replay", "units": 0, "arch": "sm_90"}

    def __init__(self, values: dict[str, tuple[float, float]]) -> None:
        self.values = values

    def evaluate(self, lib: Any, expected: str, m: int, n: int, k: int, **kw: Any) -> dict[str, Any]:
        cfg = dict(part.split("=") for part in expected.split(","))
        tflops, vendor = self.values[json.dumps(sorted((a, int(b)) for a, b in cfg.items()))]
        return {"ok": True, "tflops": tflops, "vendor_tflops": vendor, "median_us": 1.0, "spread": 0.0, "error": 1e-3}


def replay_once(rows: list[dict], warm_rows: list[dict] | None, sampler: str, seed: int, target: float) -> int:
    """Evaluations until a config within `target` of the best is found."""
    import optuna

    from hktune.family.family import resolve
    from hktune.search.driver import Search, SearchOptions

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fam = resolve("sm_90", "cuda")
    space = fam.space("sm_90")
    space.seeds = []  # measure the sampler, not the hand-picked seeds
    values = {json.dumps(sorted(r["config"].items())): (r["tflops"], r["vendor_tflops"] or 0.0) for r in rows}
    best = max(v[0] for v in values.values())
    opts = SearchOptions(*SHAPE, trials=len(rows), sampler=sampler, seed=seed, storage=f"journal:/tmp/replay-{sampler}-{seed}-{time.time_ns()}.journal",
                         table=None, candidates=[r["config"] for r in rows], finalists=0, warm_start=0, lookahead=1)
    s = Search(fam, "sm_90", space, ReplayBuilder(), ReplayWorker(values), opts)
    if warm_rows:
        for r in sorted(warm_rows, key=lambda r: -r["tflops"])[:8]:
            cfg = {k: int(v) for k, v in r["config"].items()}
            if json.dumps(sorted(cfg.items())) in values:
                s.study.enqueue_trial(cfg, user_attrs={"warm_from": "8192"})
    hit: list[int] = []

    def on_trial(summary, res) -> None:  # noqa: ANN001
        if not hit and res and res.get("tflops", 0) >= target * best:
            hit.append(summary.evaluated)
            s.stop()

    s.run(on_trial)
    return hit[0] if hit else len(rows)


def replay(args: argparse.Namespace) -> None:
    data = json.loads(args.data.read_text())
    rows = data["rows"]
    warm = json.loads(args.warm.read_text())["rows"] if args.warm else None
    results = {}
    for name, sampler, w in (("random", "random", None), ("tpe", "tpe", None), ("tpe+warm", "tpe", warm)):
        if name == "tpe+warm" and not warm:
            continue
        evals = [replay_once(rows, w, sampler, seed, args.target) for seed in range(args.seeds)]
        results[name] = {"evaluations": evals, "median": statistics.median(evals), "share_of_space": statistics.median(evals) / len(rows)}
        print(name, results[name], flush=True)
    best = max(r["tflops"] for r in rows)
    lines = [f"Replay over {len(rows)} timed configs at {'x'.join(map(str, data['shape']))} (best {best:.1f} TFLOP/s); "
             f"evaluations to reach {args.target:.0%} of it, {args.seeds} seeds:", "",
             "| strategy | evaluations per seed | median | share of the sample |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['evaluations']} | {r['median']} | {r['share_of_space']:.1%} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.md:
        args.md.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--trials", type=int, default=1000)
    c.add_argument("--live-trials", type=int, default=120)
    r = sub.add_parser("replay")
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--warm", type=Path, default=None)
    r.add_argument("--seeds", type=int, default=5)
    r.add_argument("--target", type=float, default=0.98)
    r.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    collect(args) if args.cmd == "collect" else replay(args)


if __name__ == "__main__":
    main()
