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
import math
import os
import random
import sys
import tempfile
import time
import types
import warnings
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "results" / "search-efficiency-h200-2026-11-21"
TK = ROOT / "bench" / "results" / "landscapes-h200-2026-12-01"
LANDSCAPES = [DATA / "sample.json", DATA / "sample-8192.json",
              ROOT / "bench" / "results" / "trust-h200-2026-12-01" / "tk-landscape-4096.json"] + [
              TK / f"tk-landscape-{s}.json" for s in ("8192x8192x8192", "2048x2048x2048", "4096x14336x4096", "1024x8192x8192")]
CHECKPOINTS = (10, 20, 45, 90)
KT_CRASHES: list[str] = []   # Kernel Tuner runs that raised (counted as never reaching a target)
KT_DEFAULT = ("bayes_opt", "diff_evo", "genetic_algorithm", "random_sample")


def key(cfg: dict[str, Any]) -> str:
    return json.dumps(sorted((k, int(v)) for k, v in cfg.items()))


# -- landscapes ---------------------------------------------------------------------------------------
@dataclass
class Landscape:
    name: str
    shape: tuple[int, int, int]
    rows: list[dict[str, Any]]
    family: str = "cuda"
    arch: str = "sm_90"
    values: dict[str, float | None] = field(default_factory=dict)   # key -> tflops (None: failed)
    vendor: dict[str, float] = field(default_factory=dict)

    metric: str = "tflops"    # the objective: "ratio" (the paired vendor/kernel ratio) when recorded, else tflops

    def __post_init__(self) -> None:
        for r in self.rows:
            k = key(r["config"])
            self.values[k] = None if r.get(self.metric) is None else float(r[self.metric])
            self.vendor[k] = float(r.get("vendor_tflops") or 0.0)

    @property
    def configs(self) -> list[dict[str, int]]:
        return [{k: int(v) for k, v in r["config"].items()} for r in self.rows]

    @property
    def best(self) -> float:
        return max(v for v in self.values.values() if v is not None)

    def top(self, share: float = 0.01) -> set[str]:
        ok = sorted(((v, k) for k, v in self.values.items() if v is not None), reverse=True)
        n = max(1, math.ceil(share * len(self.values)))
        return {k for _, k in ok[:n]}

    def best_configs(self, n: int) -> list[dict[str, int]]:
        ok = sorted((r for r in self.rows if r.get(self.metric) is not None), key=lambda r: -r[self.metric])
        return [{k: int(v) for k, v in r["config"].items()} for r in ok[:n]]


def load_landscape(path: Path | str, shape: Sequence[int] | None = None, family: str | None = None,
                   arch: str | None = None) -> Landscape:
    path = Path(path)
    doc = json.loads(path.read_text())
    if isinstance(doc, list):
        doc = {"rows": doc}
    rows = [r for r in doc["rows"] if r.get("config")]
    shp = tuple(int(x) for x in (shape or doc.get("shape") or (4096, 4096, 4096)))
    seen: dict[str, dict] = {}
    for r in rows:  # a config recorded twice keeps its first figure
        seen.setdefault(key(r["config"]), r)
    ok = [r for r in seen.values() if r.get("tflops") is not None]
    metric = "ratio" if ok and all(r.get("ratio") is not None for r in ok) else "tflops"
    return Landscape(doc.get("name") or path.stem, shp, list(seen.values()), family or doc.get("family", "cuda"),
                     arch or doc.get("arch", "sm_90"), metric=metric)


def plain_space(land: Landscape):  # noqa: ANN201
    """A space of exactly the recorded knob values, no derived values or constraints."""
    from hktune.space.space import Param, Space

    names = list(land.rows[0]["config"])
    params = [Param(n, sorted({int(r["config"][n]) for r in land.rows}), n) for n in names]
    return Space(path=Path(land.name), family=land.family, arch=land.arch, params=params, derived={}, constraints=[],
                 shape_constraints=[], limits={}, seeds=[], prune={})


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


def nearest(land: Landscape, others: list[Landscape]) -> list[Landscape]:
    """The other landscape of the same family whose shape is nearest (log2 distance), as the
    driver's warm start picks the nearest tuned shape; [] when there is none."""
    same = [o for o in others if o.family == land.family and o.shape != land.shape]
    dist = lambda o: sum(abs(math.log2(a / b)) for a, b in zip(land.shape, o.shape))  # noqa: E731
    return sorted(same, key=dist)[:1]


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


# -- Kernel Tuner's strategies in its simulation mode ----------------------------------------------------------
def kt_cache(land: Landscape, order: dict[str, list[int]], path: Path) -> None:
    names = list(order)
    flops = 2.0 * land.shape[0] * land.shape[1] * land.shape[2]
    cache = {}
    for r in land.rows:
        cfg = {n: int(r["config"][n]) for n in names}
        ent: dict[str, Any] = dict(cfg)
        if r.get(land.metric) is None:
            ent.update(time="RuntimeFailedConfig", compile_time=0.0, verification_time=0.0, benchmark_time=0.0)
        else:   # Kernel Tuner minimises time: for a ratio landscape, vendor time / ratio (vendor units)
            t_ms = 1.0 / float(r["ratio"]) if land.metric == "ratio" else flops / (float(r["tflops"]) * 1e12) * 1e3
            ent.update(time=t_ms, times=[t_ms], compile_time=0.0, verification_time=0.0, benchmark_time=0.0)
        cache[",".join(str(cfg[n]) for n in names)] = ent
    doc = {"device_name": "Simulation", "kernel_name": "hk_gemm", "problem_size": list(land.shape),
           "tune_params_keys": names, "tune_params": order, "objective": "time", "cache": cache}
    path.write_text(json.dumps(doc))


def kt_order(land: Landscape, permuted: bool, seed: int) -> dict[str, list[int]]:
    names = list(land.rows[0]["config"])
    order = {n: sorted({int(r["config"][n]) for r in land.rows}) for n in names}
    if permuted:
        rng = random.Random(1000 + seed)
        for n in names:
            rng.shuffle(order[n])
    return order


def replay_kt(land: Landscape, strategy: str, seed: int, permuted: bool, budget: int) -> list[tuple[str, float | None]]:
    from kernel_tuner import tune_kernel

    order = kt_order(land, permuted, seed)
    names = list(order)
    allowed = set(land.values)

    def recorded(p: dict[str, Any]) -> bool:  # a def, not a lambda: Kernel Tuner rewrites lambdas from their source
        return key({n: p[n] for n in names}) in allowed
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.json"
        kt_cache(land, order, cache)
        random.seed(seed)
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            devnull = open(os.devnull, "w")
            old = sys.stdout
            sys.stdout = devnull
            try:
                results, _ = tune_kernel("hk_gemm", "__global__ void hk_gemm() {}", list(land.shape), [], dict(order),
                                         restrictions=[recorded],
                                         strategy=strategy, strategy_options={"max_fevals": budget}, block_size_names=names[:1],
                                         cache=str(cache), simulation_mode=True, verbose=False, quiet=True)
            except (IndexError, ValueError, KeyError) as e:   # a Kernel Tuner strategy that breaks on this space
                results = []
                KT_CRASHES.append(f"{strategy} seed {seed}: {type(e).__name__}: {e}")
            finally:
                sys.stdout = old
                devnull.close()
    trace: list[tuple[str, float | None]] = []
    seen: set[str] = set()
    for r in results:
        k_ = key({n: r[n] for n in names})
        if k_ in seen:
            continue
        seen.add(k_)
        trace.append((k_, land.values[k_]))
    return trace[:budget]


# -- measures -----------------------------------------------------------------------------------------------
def measures(land: Landscape, trace: list[tuple[str, float | None]]) -> dict[str, float]:
    """Evaluations to each target (inf when never reached) and best/optimum at the checkpoints."""
    best, top = land.best, land.top()
    out: dict[str, float] = {"top1": math.inf, "p95": math.inf, "p98": math.inf}
    run = 0.0
    at: list[float] = []
    for i, (k_, v) in enumerate(trace, 1):
        if k_ in top and out["top1"] == math.inf:
            out["top1"] = i
        if v is not None:
            run = max(run, v)
        if run >= 0.95 * best and out["p95"] == math.inf:
            out["p95"] = i
        if run >= 0.98 * best and out["p98"] == math.inf:
            out["p98"] = i
        at.append(run / best)
    for c in CHECKPOINTS:
        out[f"at{c}"] = at[min(c, len(at)) - 1] if at else 0.0
    out["evals"] = len(trace)
    return out


def summarise(ms: list[dict[str, float]]) -> dict[str, Any]:
    def q(xs: list[float]) -> tuple[float, float, float]:
        a = np.array(xs, dtype=float)
        return tuple(float(np.percentile(a, p, method="linear")) if np.isfinite(a).all() else
                     float(np.percentile(np.where(np.isfinite(a), a, 1e9), p)) for p in (50, 25, 75))

    s: dict[str, Any] = {"seeds": len(ms)}
    for m in ("top1", "p95", "p98"):
        s[m] = q([x[m] for x in ms])
        s[m + "_missed"] = sum(1 for x in ms if not math.isfinite(x[m]))
    for c in CHECKPOINTS:
        s[f"at{c}"] = float(np.mean([x[f"at{c}"] for x in ms]))
    return s


COLUMNS = ["strategy", "evals to a top-1% config (median, IQR)", "evals to 95% of best (median)",
           "evals to 98% of best (median)"] + [f"best/opt at {c}" for c in CHECKPOINTS]


def _fmt(v: float) -> str:
    return ">budget" if v >= 1e8 else (f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}")


def table_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for name, s in results.items():
        med, lo, hi = s["top1"]
        miss = f", {s['top1_missed']} missed" if s["top1_missed"] else ""
        rows.append([name, f"{_fmt(med)} ({_fmt(lo)}-{_fmt(hi)}){miss}", _fmt(s["p95"][0]), _fmt(s["p98"][0])]
                    + [f"{s[f'at{c}']:.3f}" for c in CHECKPOINTS])
    return rows


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(results)]
    return "\n".join(lines)


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
