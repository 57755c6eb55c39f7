"""Replay search strategies over recorded landscapes (CPU only, no GPU, no compiler).

    python bench/replay.py [--landscape bench/results/search-efficiency-h200-2026-11-21/sample.json ...]
                           [--seeds 30] [--strategies tpe,random,model] [--kt bayes_opt,diff_evo,...]
                           [--md bench/results/replay-DATE.md] [--json out.json]

A landscape is a JSON file: either ``{"shape": [M, N, K], "rows": [...], "family": "cuda", "arch":
"sm_90"}`` or a bare list of rows; a row is ``{"config": {...}, "tflops": float or null,
"vendor_tflops": float or null}`` (null tflops: the config failed). Family and arch default to
cuda/sm_90 and are used only for the space's derived values; when the family's space does not
hold every recorded config, a plain space made from the recorded knob values is used instead.

hktune's strategies run through the REAL search loop (hktune.search.driver.Search: strategy,
preferred configs, executor, study recording in a temporary journal) with a builder and a worker
that answer from the landscape. Kernel Tuner's strategies run through its own simulation mode over
a cache file written from the landscape, with the knob values listed in ascending order and in a
seeded random order (ordering artifacts show up as a difference between the two).

Measures, per strategy (median and IQR over the seeds):
* evaluations until one of the top 1% configs (the ceil(1%) best, at least 1) is found;
* evaluations until 95% and 98% of the landscape's best;
* best found / landscape best after 10, 20, 45 and 90 evaluations.
"Warm" rows give the strategy the other landscape's 5 best configs (those in this landscape) as
preferred configs, as the driver's warm start does for a nearby shape.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import types
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from replay_kernel_tuner import KT_CRASHES, KT_DEFAULT, replay_kt
from replay_landscape import Landscape, key, load_landscape, nearest, plain_space
from replay_measures import CHECKPOINTS, COLUMNS, markdown, measures, summarise  # noqa: F401 - COLUMNS: tests/test_replay.py

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "results" / "search-efficiency-h200-2026-11-21"
TK = ROOT / "bench" / "results" / "landscapes-h200-2026-12-01"
LANDSCAPES = [DATA / "sample.json", DATA / "sample-8192.json",
              ROOT / "bench" / "results" / "trust-h200-2026-12-01" / "tk-landscape-4096.json"] + [
              TK / f"tk-landscape-{s}.json" for s in ("8192x8192x8192", "2048x2048x2048", "4096x14336x4096", "1024x8192x8192")]


# -- the landscape's family, space and target ---------------------------------------------------------
def replay_target(fam, arch: str, space):  # noqa: ANN001, ANN201
    """The Target a replay searches: the family's when it is one on disk, else a bare one around the
    landscape's plain space (no trees, no build: the ReplayBuilder answers)."""
    from hktune.dtypes import DTYPES
    from hktune.family.family import Family
    from hktune.target import Target, make_target

    if isinstance(fam, Family):
        return make_target(fam, arch, space, include_dirs=())
    return Target(family=fam, arch=arch, spec=None, space=space, dtype=DTYPES["bf16"], layout="ABt", flags=(),
                  include_dirs=(), template_hash=fam.template_hash(arch), checks=(), run="host")


def family_and_space(land: Landscape):  # noqa: ANN201
    """The landscape's family and space (seeds off: the replay measures the strategy alone)."""
    try:
        from hktune.family.family import resolve

        fam = resolve(land.arch, land.family)
        space = fam.space(land.arch)
        valid = {key(c) for c in space.enumerate(land.shape)}
        if all(key(c) in valid for c in land.configs):
            space.seeds = []
            return fam, space
    except Exception:  # noqa: BLE001 - an unknown family: fall back to a plain space
        pass
    fam = types.SimpleNamespace(name=land.family, template_hash=lambda arch: "replay")
    return fam, plain_space(land)


# -- the fake build and run side ------------------------------------------------------------------------
class ReplayBuilder:
    """Hands back 'compiled' candidates at once (Search needs submit, build, jobs)."""

    jobs = 1
    compiler_version = "replay"
    include_dirs: tuple = ()

    def submit(self, cfg: dict[str, int]) -> Future:
        from hktune.build.builder import BuildOutcome

        f: Future = Future()
        f.set_result(BuildOutcome(config=cfg, key="replay", ok=True, seconds=0.0, cached=True, artifact=Path("replay"),
                                  log_path=None))
        return f

    def build(self, cfg: dict[str, int]):  # noqa: ANN201
        return self.submit(cfg).result()


class ReplayWorker:
    """Answers from the landscape (Search needs prepare, info, evaluate). Keeps the order of the
    timed evaluations in ``trace``."""

    info = {"name": "replay", "units": 0, "arch": "replay"}

    def __init__(self, land: Landscape) -> None:
        self.land = land
        self.trace: list[tuple[str, float | None]] = []

    def prepare(self, m: int, n: int, k: int) -> dict[str, Any]:
        return {"ok": True}

    def evaluate(self, lib: Any, expected: str, m: int, n: int, k: int, time: bool = True, **kw: Any) -> dict[str, Any]:
        cfg = {a: int(b) for a, b in (part.split("=") for part in expected.split(","))}
        k_ = key(cfg)
        value = self.land.values[k_]
        if time:
            self.trace.append((k_, value))
        if value is None:
            return {"ok": False, "reason": "recorded as failed"}
        out = {"ok": True, "tflops": value, "vendor_tflops": self.land.vendor[k_], "median_us": 1.0, "spread": 0.0,
               "error": 1e-3}
        if self.land.metric == "ratio":
            out["ratio"] = value
        return out


def stop_rule(land: Landscape, min_evals: int) -> Callable[[list[tuple[str, float | None]]], bool]:
    """Stop once 98% of the best and a top-1% config were found and ``min_evals`` were spent."""
    best, top = land.best, land.top()

    def done(trace: list[tuple[str, float | None]]) -> bool:
        if len(trace) < min_evals:
            return False
        return any(v is not None and v >= 0.98 * best for _, v in trace) and any(k in top for k, _ in trace)

    return done


def replay_hktune(land: Landscape, strategy: str, seed: int, prefer: list[dict[str, int]] | None = None,
                  budget: int | None = None, min_evals: int = max(CHECKPOINTS), lookahead: int = 1,
                  storage_dir: str | None = "/dev/shm" if os.path.isdir("/dev/shm") else None) -> list[tuple[str, float | None]]:
    """One run of the real Search loop; the evaluated configs in order, with their figures."""
    import optuna

    from hktune.search.driver import Search, SearchOptions

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fam, space = family_and_space(land)
    strategy, _, variant = strategy.partition(":")
    if variant == "noprior":   # the same strategy without the space's analytical prior
        space.prior = {}
    worker = ReplayWorker(land)
    with tempfile.TemporaryDirectory(dir=storage_dir) as tmp:
        opts = SearchOptions(*land.shape, trials=budget or len(land.rows), sampler=strategy, seed=seed,
                             storage=str(Path(tmp) / "replay.journal"), table=None, candidates=land.configs,
                             finalists=0, warm_start=0, lookahead=lookahead)
        s = Search(replay_target(fam, land.arch, space), ReplayBuilder(), worker, opts)
        if prefer:
            s.strategy.prefer(prefer)   # before _first(): these come first, as a warm start's configs do
        done = stop_rule(land, min_evals)

        def on_trial(summary, res) -> None:  # noqa: ANN001
            if done(worker.trace):
                s.stop()

        s.run(on_trial)
    return worker.trace


# -- the whole benchmark -------------------------------------------------------------------------------------
def run_landscape(land: Landscape, others: list[Landscape], strategies: list[str], kt: list[str], seeds: int,
                  kt_budget: int, warm_strategies: list[str], log: Callable[[str], None] = print,
                  budget: int | None = None) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}

    def go(name: str, fn: Callable[[int], list[tuple[str, float | None]]]) -> None:
        t0 = time.perf_counter()
        ms = [measures(land, fn(seed)) for seed in range(seeds)]
        results[name] = summarise(ms)
        results[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        results[name]["raw"] = ms
        log(f"{land.name} {name}: top1 {results[name]['top1']} p95 {results[name]['p95'][0]} "
            f"p98 {results[name]['p98'][0]} ({results[name]['wall_s']} s)")

    for st in strategies:
        go(st, lambda seed, st=st: replay_hktune(land, st, seed, budget=budget))
    for other in nearest(land, others):
        warm = [c for c in other.best_configs(5) if key(c) in land.values]
        if not warm:
            continue
        for st in warm_strategies:
            go(f"{st}, warm from {other.name}'s top 5 ({len(warm)} here)",
               lambda seed, st=st, warm=warm: replay_hktune(land, st, seed, prefer=warm, budget=budget))
    for st in kt:
        for permuted in (False, True):
            go(f"Kernel Tuner {st} ({'permuted' if permuted else 'ascending'} knob order, budget {kt_budget})",
               lambda seed, st=st, permuted=permuted: replay_kt(land, st, seed, permuted, kt_budget))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landscape", type=Path, action="append", default=None)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--strategies", default="model,model:noprior,tpe,random",
                    help="hktune strategies (NAME:noprior = without the space's prior)")
    ap.add_argument("--warm", default="model,tpe", help="strategies to replay warm-started ('' for none)")
    ap.add_argument("--kt", default=",".join(KT_DEFAULT), help="Kernel Tuner strategies ('' for none)")
    ap.add_argument("--kt-budget", type=int, default=150)
    ap.add_argument("--budget", type=int, default=150, help="evaluations per hktune run at most (0: the whole landscape)")
    ap.add_argument("--only", default=None, help="replay only the landscape of this name (the others still warm-start it)")
    ap.add_argument("--md", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    lands = [load_landscape(p) for p in (args.landscape or LANDSCAPES)]
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    out: dict[str, Any] = {}
    md = []
    for land in lands:
        if args.only and land.name != args.only:
            continue
        others = [o for o in lands if o is not land]
        res = run_landscape(land, others, split(args.strategies), split(args.kt), args.seeds, args.kt_budget,
                            split(args.warm), log=lambda s: print(s, flush=True), budget=args.budget or None)
        out[land.name] = {"shape": land.shape, "configs": len(land.rows), "best": land.best,
                          "top1": len(land.top()), "results": res}
        if KT_CRASHES:
            out[land.name]["kt_crashes"] = list(KT_CRASHES)
        md.append(f"### {land.name}: {len(land.rows)} configs at {'x'.join(map(str, land.shape))}, best "
                  + (f"{land.best:.3f}x cuBLAS (paired ratio, the objective)" if land.metric == "ratio" else f"{land.best:.1f} TFLOP/s")
                  + f", top 1% = the {len(land.top())} best; {args.seeds} seeds, "
                  f"budget {args.budget or len(land.rows)} evaluations (hktune) / {args.kt_budget} (Kernel Tuner)\n\n" + markdown(res)
                  + (f"\n\nKernel Tuner raised on {len(KT_CRASHES)} runs (counted as missed): " + "; ".join(KT_CRASHES[:3])
                     if KT_CRASHES else ""))
        KT_CRASHES.clear()
        print(md[-1], flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    if args.md:
        args.md.write_text("\n\n".join(md) + "\n")


if __name__ == "__main__":
    main()
