"""Kernel Tuner's strategies replayed over a landscape in its simulation mode (bench/replay.py):
a cache file written from the landscape, the knob values in ascending or seeded random order."""
from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from replay_landscape import Landscape, key

KT_CRASHES: list[str] = []   # Kernel Tuner runs that raised (counted as never reaching a target)
KT_DEFAULT = ("bayes_opt", "diff_evo", "genetic_algorithm", "random_sample")


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
