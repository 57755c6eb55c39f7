"""What bench/replay.py measures of a replayed search (evaluations to each target, best found at
the checkpoints), summarised over the seeds and written as a markdown table."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from replay_landscape import Landscape

CHECKPOINTS = (10, 20, 45, 90)


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
