"""The winner's figure, measured afresh: no winner's curse, and a noise floor that is measured.

After the tournament, the winner and the runner-up are each measured ``repeats`` more times as
full, independent paired measurements (``fresh``: newly drawn random inputs, a fresh warm-up,
later in time), interleaved W R W R ...:

  * the entry's ratio is the median of the winner's fresh measurements, never the best of the many
    noisy measurements that selected it (the winner's curse: selecting on noise flatters);
  * the noise floor is the between-measurement spread, max/min - 1 of each config's fresh ratios,
    the larger of the two configs: what the same config moves from one measurement to the next,
    which one measurement's CI does not see (clock, power and placement from run to run);
  * the stored CI covers both: [min(lo_i, median / (1 + noise)), max(hi_i, median x (1 + noise))] (the noise floor is
    a ratio, max/min - 1, so the band is too: a ratio's CI never reaches 0, however noisy a loaded CPU is);
  * the two are a tie when the winner's fresh median is not ahead of the runner-up's by more than
    the noise floor (whatever the tournament's rounds said);
  * when the runner-up's fresh median is ahead by more than the noise floor it wins, and is measured
    ``repeats`` times more, alone: its figure comes from those, not from the runs that chose it (a
    best-of-two pick of two configs inside ~1 % reads high: 16384x8192x1024 on an H100 on
    2026-12-06, 1.063x from the runs that chose it, 1.047x by the independent harness);
  * the sweep's judge reads ``noise`` from the entry: a shift inside it is not a regression.

A fresh measurement that fails verification marks the config unsafe (``hktune.search.finalists``).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from hktune.record.figures import finite
from hktune.run.precision import between_spread

REPEATS = 3

Measure = Callable[[Any], dict[str, Any]]   # finalist -> a worker's evaluate() reply


@dataclass
class Confirmed:
    result: dict[str, Any]          # the chosen config's median fresh measurement, CI widened to the noise floor
    ratios: list[float]             # its fresh ratios
    runner_ratios: list[float] = field(default_factory=list)
    noise: float = 0.0              # between-measurement spread (relative)
    tie: bool = False               # neither ahead of the other by more than the noise floor
    overturned: bool = False        # the runner-up's fresh median is ahead by more than the noise floor: it wins
    failed: str | None = None       # which config failed a fresh measurement, and why
    chose: list[float] = field(default_factory=list)  # overturned: the runner-up's runs that chose it (not its figure)

    def summary(self) -> dict[str, Any]:
        return {"repeats": len(self.ratios), "ratios": [round(x, 4) for x in self.ratios],
                "other": [round(x, 4) for x in self.runner_ratios], "noise": round(self.noise, 5),
                "tie": self.tie, "overturned": self.overturned,
                **({"chose": [round(x, 4) for x in self.chose]} if self.overturned else {})}


def combine(results: list[dict[str, Any]], noise: float) -> dict[str, Any]:
    """One figure from a config's independent measurements: the median ratio, the absolute figures
    of the measurement that gave it, a CI that covers every measurement's CI and the noise floor,
    the pooled round ratios (the sweep's baseline) and every warning."""
    ratios = [float(r["ratio"]) for r in results]
    med = statistics.median(ratios)
    mid = sorted(results, key=lambda r: float(r["ratio"]))[len(results) // 2]
    los = [float(r["ratio_lo"]) for r in results if finite(r.get("ratio_lo"))]
    his = [float(r["ratio_hi"]) for r in results if finite(r.get("ratio_hi"))]
    lo = min(los + [med / (1 + noise)])
    hi = max(his + [med * (1 + noise)])
    pooled = [float(x) for r in results for x in (r.get("ratios") or [])]
    return {**mid, "ratio": med, "ratio_lo": lo, "ratio_hi": hi, "precision": (hi - lo) / 2 / med,
            "ratios": pooled or mid.get("ratios"), "noise": noise,
            "converged": all(r.get("converged", True) for r in results),
            "warnings": list(dict.fromkeys(w for r in results for w in (r.get("warnings") or [])))}


def confirm(winner: Any, runner: Any | None, measure: Measure, repeats: int = REPEATS) -> Confirmed:
    """Fresh measurements of the winner (and runner-up), interleaved; see the module docstring."""
    mine: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    pairs = [(winner, mine, "winner"), (runner, theirs, "runner-up")]
    failed = _take([p for _ in range(repeats) for p in pairs if p[0] is not None], measure)
    if failed:
        return Confirmed({}, [], failed=failed)
    ratios = [float(r["ratio"]) for r in mine]
    other = [float(r["ratio"]) for r in theirs]
    noise = max(between_spread(ratios), between_spread(other))
    med = statistics.median(ratios)
    if other and statistics.median(other) > med * (1 + noise):
        # the runner-up's fresh runs chose it: its figure comes from runs that chose nothing
        again: list[dict[str, Any]] = []
        failed = _take([(runner, again, "runner-up")] * repeats, measure)
        if failed:
            return Confirmed({}, [], failed=failed)
        figures = [float(r["ratio"]) for r in again]
        noise = max(noise, between_spread(figures))
        return Confirmed(combine(again, noise), figures, ratios, noise, tie=False, overturned=True, chose=other)
    tie = bool(other) and med <= statistics.median(other) * (1 + noise)
    return Confirmed(combine(mine, noise), ratios, other, noise, tie=tie)


def _take(plan: list[tuple[Any, list[dict[str, Any]], str]], measure: Measure) -> str | None:
    """Measure each (config, bucket, name) of ``plan`` in order into its bucket; the first failure, named."""
    for who, bucket, name in plan:
        res = measure(who)
        if not res.get("ok"):
            return f"{name}: {res.get('reason')}"
        bucket.append(res)
    return None
