"""Timing that knows its precision: the median, its distribution-free confidence interval, and a
stopping rule that keeps timing until that interval is narrow enough (or a time cap is hit).

Contract
  * ``median_ci(xs, confidence)`` -> ``Estimate``: the sample median and a confidence interval
    for the *population* median from order statistics. The ranks come from the Binomial(n, 1/2)
    distribution of how many samples fall below the true median, so the interval holds with
    probability >= ``confidence`` for any continuous distribution (noisy, skewed, bimodal) and
    needs no seed. Below the smallest n that can reach the confidence (n = 6 at 95 %), the
    interval is (-inf, inf) and the precision is inf: too few samples claim nothing.
  * ``precision`` is the relative half-width ``(hi - lo) / 2 / median``; 0.005 means +-0.5 %.
  * ``time_until_precise(run_batch, ...)`` calls ``run_batch(n)`` (n back-to-back launches,
    returns *seconds per launch* for that batch) until (a) at least ``min_launches`` launches
    and ``min_time_s`` of timed work were done and the median's precision is <= ``target``
    (``converged=True``), or (b) the timed work reached ``max_time_s`` or the wall clock reached
    ``max_wall_s`` (``converged=False``). One batch is one sample.
  * ``choose_batch(per_launch_s)``: short kernels are timed in batches of back-to-back launches
    between one pair of events, so launch gaps and event resolution (~0.5 us) do not dominate.
    Rule: the smallest n with n * per_launch >= ``batch_s`` (default 1 ms, i.e. event overhead
    below 0.1 %), clamped to [1, max_batch]. A 15 ms GEMM gets n = 1; a 20 us GEMM gets n = 50.
  * Callers keep host work (attribute look-ups, allocations, ctypes argument packing) out of
    ``run_batch``'s timed region; this module only does arithmetic between batches.

Pure python (math only); the timer and the clock are injected so tests use fakes.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from statistics import NormalDist
from typing import Callable, Sequence

DEFAULT_CONFIDENCE = 0.95
DEFAULT_TARGET = 0.005       # +-0.5 % relative half-width of the median's CI
DEFAULT_MIN_TIME_S = 0.100   # minimum timed work per config
DEFAULT_MAX_TIME_S = 2.0     # cap on timed work per config
DEFAULT_BATCH_S = 1e-3       # one batch of back-to-back launches lasts at least this long
DEFAULT_MAX_BATCH = 1000
DEFAULT_MIN_LAUNCHES = 50
EXACT_RANKS_UP_TO = 1000


# -- order statistics ----------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def median_ranks(n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[int, int] | None:
    """0-based ranks (lo, hi) of the sorted sample bounding the median's CI, or None when n is too
    small for ``confidence``. lo is the largest rank with P(B <= lo) <= (1 - confidence) / 2, so
    [x_(lo), x_(n-1-lo)] covers the median with probability 1 - 2 P(B <= lo) >= confidence."""
    alpha2 = (1.0 - confidence) / 2.0
    if n < 1:
        return None
    if n > EXACT_RANKS_UP_TO:  # normal approximation with continuity correction
        z = NormalDist().inv_cdf(1.0 - alpha2)
        lo = max(0, math.floor(n / 2.0 - 0.5 - z * math.sqrt(n) / 2.0))
        return lo, n - 1 - lo
    lg, base, ln2n = math.lgamma, math.lgamma(n + 1), n * math.log(2.0)
    cdf, k = 0.0, -1  # cdf = P(B <= k)
    while k + 1 < n:
        nxt = cdf + math.exp(base - lg(k + 2) - lg(n - k) - ln2n)
        if nxt > alpha2:
            break
        cdf, k = nxt, k + 1
    # k = largest rank with P(B <= k) <= alpha2; rank k (0-based) is the (k+1)-th order statistic,
    # and P(median < x_(k+1)) = P(B <= k).
    if k < 0:
        return None
    return k, n - 1 - k


def _median_sorted(s: Sequence[float]) -> float:
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


@dataclass
class Estimate:
    """A median with its confidence interval. ``precision`` = (hi - lo) / 2 / median."""

    median: float
    lo: float
    hi: float
    n: int
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def precision(self) -> float:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.median <= 0:
            return math.inf
        return (self.hi - self.lo) / 2.0 / self.median

    def to_dict(self) -> dict:
        return {**asdict(self), "precision": self.precision}


def median_ci(xs: Sequence[float], confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Sample median and its distribution-free CI (see module docstring)."""
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return Estimate(math.nan, -math.inf, math.inf, 0, confidence)
    ranks = median_ranks(n, confidence)
    if ranks is None:
        return Estimate(_median_sorted(s), -math.inf, math.inf, n, confidence)
    return Estimate(_median_sorted(s), s[ranks[0]], s[ranks[1]], n, confidence)


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of a sample (q in [0, 1])."""
    s = sorted(xs)
    if not s:
        return math.nan
    pos = q * (len(s) - 1)
    i = int(math.floor(pos))
    j = min(i + 1, len(s) - 1)
    return s[i] + (s[j] - s[i]) * (pos - i)


def spread(xs: Sequence[float]) -> float:
    """(p90 - p10) / median: the old, per-launch dispersion figure (not a precision)."""
    med = quantile(xs, 0.5)
    return (quantile(xs, 0.9) - quantile(xs, 0.1)) / med if xs and med > 0 else math.inf


def between_spread(ratios: Sequence[float]) -> float:
    """max / min - 1 of independent measurements of one quantity (the noise floor between them);
    non-positive or non-finite values are ignored; 0 for fewer than two."""
    good = [float(r) for r in ratios if isinstance(r, (int, float)) and r > 0 and math.isfinite(r)]
    return max(good) / min(good) - 1.0 if len(good) >= 2 else 0.0


# -- batching ------------------------------------------------------------------------------------
def choose_batch(per_launch_s: float, batch_s: float = DEFAULT_BATCH_S, max_batch: int = DEFAULT_MAX_BATCH) -> int:
    """Launches per timed batch: smallest n with n * per_launch_s >= batch_s, in [1, max_batch]."""
    if not (per_launch_s > 0 and math.isfinite(per_launch_s)):
        return 1
    return max(1, min(max_batch, math.ceil(batch_s / per_launch_s)))


# -- the stopping rule ----------------------------------------------------------------------------
@dataclass
class StopRule:
    """When to stop timing. Times are of timed work (what the timer measured), except max_wall_s."""

    target: float = DEFAULT_TARGET
    min_time_s: float = DEFAULT_MIN_TIME_S
    max_time_s: float = DEFAULT_MAX_TIME_S
    min_launches: int = DEFAULT_MIN_LAUNCHES
    min_samples: int = 8
    max_samples: int = 100_000
    max_wall_s: float | None = None  # default: 1.5 x max_time_s + 0.5 s (host overhead, syncs)
    confidence: float = DEFAULT_CONFIDENCE

    def wall_cap(self) -> float:
        return self.max_wall_s if self.max_wall_s is not None else 1.5 * self.max_time_s + 0.5


@dataclass
class Timing:
    """The outcome of ``time_until_precise``: every batch's seconds per launch, and the verdict."""

    estimate: Estimate
    samples_s: list[float] = field(default_factory=list)  # one per batch, seconds per launch
    batch: int = 1
    launches: int = 0
    timed_s: float = 0.0
    converged: bool = False
    stop: str = ""  # "converged", "time cap", "wall cap", "sample cap"

    @property
    def precision(self) -> float:
        return self.estimate.precision


def should_stop(rule: StopRule, precision: float, samples: int, launches: int, timed_s: float,
                wall_s: float) -> tuple[bool, bool, str]:
    """(stop, converged, why). The minimum launch count is honoured before the time cap (it is the
    old fixed budget); the wall cap and the sample cap are hard."""
    if samples >= rule.min_samples and launches >= rule.min_launches and timed_s >= rule.min_time_s \
            and precision <= rule.target:
        return True, True, "converged"
    if wall_s >= rule.wall_cap():
        return True, False, "wall cap"
    if samples >= rule.max_samples:
        return True, False, "sample cap"
    if timed_s >= rule.max_time_s and launches >= rule.min_launches and samples >= rule.min_samples:
        return True, False, "time cap"
    return False, False, ""


def time_until_precise(run_batch: Callable[[int], float], rule: StopRule | None = None, batch: int = 1,
                       clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Time ``run_batch(batch)`` repeatedly until ``rule`` says stop; see the module docstring."""
    rule = rule or StopRule()
    samples: list[float] = []
    timed = 0.0
    t0 = clock()
    while True:
        per_launch = float(run_batch(batch))
        samples.append(per_launch)
        timed += per_launch * batch
        est = median_ci(samples, rule.confidence)
        stop, conv, why = should_stop(rule, est.precision, len(samples), len(samples) * batch, timed, clock() - t0)
        if stop:
            return Timing(est, samples, batch, len(samples) * batch, timed, conv, why)
