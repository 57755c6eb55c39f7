"""Paired candidate-vs-vendor timing in alternating ABBA rounds.

Why paired: the card's state (clocks, power limit, temperature, other tenants) moves both
kernels together and by more than the 1-5 % that separates good configs. Timing the candidate
(A) and the vendor BLAS (B) interleaved and reporting their *ratio* cancels that common mode.

Contract
  * ``run_a(n)`` / ``run_b(n)`` run n back-to-back launches of the candidate / the vendor and
    return the measured *seconds per launch* of that batch (torch CUDA events, a host clock or a
    fake). They walk the same rotated input sets (the caller arranges that); this module only
    decides the order and does the statistics.
  * One *round* is the quartet A B B A. Every arm is once first and once second of a pair, and the
    two arms' positions have the same mean, so a constant "second arm is slow" bias and any
    linear drift within the round cancel exactly in the round's ratio
        r = (b1 + b2) / (a1 + a2)        (vendor time / candidate time; > 1: candidate faster).
    Rounds are repeated as ABBA ABBA ... (every arm follows the other arm equally often).
  * The paired ratio is the median of the round ratios with its order-statistic CI
    (``precision.median_ci``); each arm's absolute median (with CI) is reported too.
  * Stop when the ratio's relative CI half-width <= ``rule.target``, the candidate had
    ``rule.min_launches`` launches and both arms ``rule.min_time_s`` of timed work (converged), or when the
    timed work of both arms together reaches ``rule.max_time_s`` (after the minimums) or the wall
    clock ``rule.wall_cap()`` (not converged).
  * Early stop (a search's trials): with ``stop_below`` (the best ratio the search has measured so
    far), stop as soon as ``BEHIND_MIN_ROUNDS`` rounds (and ``rule.min_time_s`` per arm) give a CI
    whose upper end lies below it (``stop == "behind the best"``, not converged): that candidate
    cannot be the search's best. Its median is still an estimate of its ratio, only a less precise
    one, and a finalist is measured again in full (hktune.search.finalists). Trials on the H200
    (2026-12-05) took 8 to 17 rounds; a search's candidates are mostly well behind its best, and
    those stop after 6.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from hktune.run.precision import Estimate, StopRule, median_ci, should_stop, spread

BatchFn = Callable[[int], float]
BEHIND_MIN_ROUNDS = 6   # the fewest rounds with a finite 95 % CI of the median


@dataclass
class Paired:
    """The outcome of ``measure_paired``. Times are seconds per launch; ``ratio`` is vendor/candidate."""

    ratio: Estimate
    a: Estimate                      # candidate seconds per launch
    b: Estimate                      # vendor seconds per launch
    ratios: list[float] = field(default_factory=list)   # one per round
    a_samples: list[float] = field(default_factory=list)  # one per batch
    b_samples: list[float] = field(default_factory=list)
    batch_a: int = 1
    batch_b: int = 1
    rounds: int = 0
    timed_s: float = 0.0
    converged: bool = False
    stop: str = ""

    @property
    def precision(self) -> float:
        return self.ratio.precision

    def summary(self) -> dict:
        """Plain numbers for a JSON reply (no sample lists)."""
        return {"ratio": self.ratio.median, "ratio_lo": self.ratio.lo, "ratio_hi": self.ratio.hi,
                "precision": self.precision, "converged": self.converged, "rounds": self.rounds,
                "stop": self.stop, "a_s": self.a.median, "b_s": self.b.median,
                "a_spread": spread(self.a_samples), "b_spread": spread(self.b_samples),
                "batch_a": self.batch_a, "batch_b": self.batch_b, "timed_s": self.timed_s}


def abba_round(run_a: BatchFn, run_b: BatchFn, batch_a: int = 1, batch_b: int = 1) -> tuple[float, float, float, float]:
    """One A B B A quartet: (a1, b1, b2, a2) seconds per launch."""
    a1 = run_a(batch_a)
    b1 = run_b(batch_b)
    b2 = run_b(batch_b)
    a2 = run_a(batch_a)
    return float(a1), float(b1), float(b2), float(a2)


def round_ratio(a1: float, b1: float, b2: float, a2: float) -> float:
    """vendor/candidate of one ABBA round; order bias and linear drift cancel (module docstring)."""
    den = a1 + a2
    return (b1 + b2) / den if den > 0 else math.inf


def measure_paired(run_a: BatchFn | None, run_b: BatchFn | None, rule: StopRule | None = None, batch_a: int = 1,
                   batch_b: int = 1, clock: Callable[[], float] = time.perf_counter,
                   round_fn: Callable[[], tuple[float, float, float, float]] | None = None,
                   stop_below: float | None = None) -> Paired:
    """Run ABBA rounds until the paired ratio is precise enough or a cap is hit (module docstring).

    ``round_fn``, when given, runs one whole round itself and returns (a1, b1, b2, a2) in seconds
    per launch (``hktune.run.sustained``: graph replays queued ahead, no host gap); ``batch_a`` /
    ``batch_b`` are then its launches per replay, and ``run_a`` / ``run_b`` are not used.

    ``rule.min_time_s`` applies to each arm; ``rule.max_time_s`` to both
    arms' timed work together; ``rule.min_samples`` (>= 6 for a finite 95 % CI) is the floor on
    rounds; ``rule.min_launches`` counts the candidate's launches (2 x batch_a per round)."""
    rule = rule or StopRule()
    ratios: list[float] = []
    a_s: list[float] = []
    b_s: list[float] = []
    time_a = time_b = 0.0
    t0 = clock()
    while True:
        a1, b1, b2, a2 = round_fn() if round_fn is not None else abba_round(run_a, run_b, batch_a, batch_b)
        a_s += (a1, a2)
        b_s += (b1, b2)
        time_a += (a1 + a2) * batch_a
        time_b += (b1 + b2) * batch_b
        ratios.append(round_ratio(a1, b1, b2, a2))
        est = median_ci(ratios, rule.confidence)
        rounds = len(ratios)
        launches = 2 * rounds * batch_a  # of the candidate (the vendor runs alongside it)
        # min_time_s applies to each arm (the smaller one); the time cap to both arms together.
        stop, conv, why = should_stop(rule, est.precision, rounds, launches, min(time_a, time_b), clock() - t0)
        if not stop and rounds >= rule.min_samples and launches >= rule.min_launches \
                and time_a + time_b >= rule.max_time_s:
            stop, conv, why = True, False, "time cap"
        if not stop and stop_below is not None and rounds >= BEHIND_MIN_ROUNDS \
                and min(time_a, time_b) >= rule.min_time_s and est.hi < stop_below:
            stop, conv, why = True, False, "behind the best"
        if stop:
            return Paired(est, median_ci(a_s, rule.confidence), median_ci(b_s, rule.confidence), ratios, a_s, b_s,
                          batch_a, batch_b, rounds, time_a + time_b, conv, why)
