"""The sweep's regression decision for one table entry: stored paired ratio vs a re-measure.

Both sides are paired ratios (vendor time / candidate time, > 1 = candidate faster), so a card
that runs everything 10 % faster today moves neither. The quantity judged is the candidate's
slowdown relative to the vendor,

    d = ln(baseline.ratio / new.ratio)      slowdown = e^d - 1   (> 0: the kernel got slower)

with a confidence interval [d_lo, d_hi]:
  * both sides carry their round ratios (>= 6 each): the distribution-free Hodges-Lehmann interval
    of the shift between ln(baseline ratios) and ln(new ratios) (Mann-Whitney ranks, a test on the
    round ratios);
  * otherwise interval arithmetic on the two medians' CIs: d_lo = ln(b.lo / n.hi),
    d_hi = ln(b.hi / n.lo) (conservative: significant only when the CIs are separated).

Verdicts (``judge``):
  * ``bad_baseline``: the baseline is not fit to judge against: no positive finite ratio, or its
    relative CI half-width > ``max_precision`` (1.5 %). An old-style entry with only
    ``spread`` = (p90 - p10)/median of 50 single launches gets half-width = 0.2 x spread (normal
    theory: the median of 50 draws has a 95 % half-width of 0.135 x (p90 - p10), times sqrt 2 for a
    ratio of two arms), so spread > 7.5 % is refused. Message: "re-baseline with --update". The
    threshold is NEVER widened by a stored spread (that is how a 14x slowdown once passed).
  * ``regressed``: significant (d_lo > ln(1 + noise), the baseline's measured between-measurement
    noise floor, 0 when the entry has none) and not shown to be smaller than the effect threshold
    (d_hi >= ln(1 + effect), effect 3 %): the data are consistent with a slowdown of at least 3 %
    and exclude none. A precisely measured 1 % slowdown (CI [0.7 %, 1.3 %]) is ``unchanged``; a
    planted 3 % slowdown is caught although its estimate falls below 3 % half of the time.
  * ``improved``: the mirror image (d_hi < 0 and d_lo <= -ln(1 + effect)).
  * ``inconclusive``: neither, and the new measurement's precision is worse than
    ``max_precision``: it cannot vouch for "unchanged"; re-measure on a quieter machine. Treat as
    failing, never as a pass.
  * ``unchanged``: otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping, Sequence

DEFAULT_EFFECT = 0.03
DEFAULT_MAX_PRECISION = 0.015
SPREAD_TO_HALF_WIDTH = 0.2
DEFAULT_CONFIDENCE = 0.95
MAX_PAIRS = 400_000  # Hodges-Lehmann pairwise differences; larger samples are thinned evenly

REGRESSED, IMPROVED, UNCHANGED, BAD_BASELINE, INCONCLUSIVE = (
    "regressed", "improved", "unchanged", "bad_baseline", "inconclusive")
FAILING = (REGRESSED, BAD_BASELINE, INCONCLUSIVE)


@dataclass
class RatioSummary:
    """What the judge needs of one measurement. ``lo``/``hi``: CI of the median ratio;
    ``precision``: relative CI half-width when lo/hi are absent; ``spread``: old-style per-launch
    (p90-p10)/median when there is no CI at all; ``samples``: the round ratios, when kept."""

    ratio: float
    lo: float | None = None
    hi: float | None = None
    precision: float | None = None
    spread: float | None = None
    samples: list[float] = field(default_factory=list)
    noise: float = 0.0   # measured between-measurement spread of the baseline (relative; hktune.search.confirm)

    def interval(self) -> tuple[float, float, str]:
        """(lo, hi, source) of the median ratio; (-inf, inf) when nothing says how precise it is."""
        if _finite(self.lo) and _finite(self.hi) and self.lo <= self.ratio <= self.hi:
            return float(self.lo), float(self.hi), "ci"
        if _finite(self.precision) and self.precision >= 0:
            return self.ratio * (1 - self.precision), self.ratio * (1 + self.precision), "precision"
        if _finite(self.spread) and self.spread >= 0:
            h = SPREAD_TO_HALF_WIDTH * self.spread
            return self.ratio * (1 - h), self.ratio * (1 + h), "spread"
        return -math.inf, math.inf, "none"

    def half_width(self) -> float:
        lo, hi, _ = self.interval()
        return (hi - lo) / 2 / self.ratio if _finite(lo) and _finite(hi) and self.ratio > 0 else math.inf


@dataclass
class Judgement:
    verdict: str
    slowdown: float            # e^d - 1: > 0 the kernel got slower relative to the vendor
    slowdown_lo: float
    slowdown_hi: float
    method: str                # "ranks" (round ratios) or "ci" (interval arithmetic) or ""
    message: str

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    v = getattr(obj, key, None)
    if v is None:
        extra = getattr(obj, "extra", None)
        if isinstance(extra, Mapping):
            v = extra.get(key)
    return v


def summary_of(obj: Any) -> RatioSummary:
    """A RatioSummary from a worker Result (dict or object) or a table Entry (object or dict).
    Uses ratio, ratio_lo, ratio_hi, precision, ratios when present (new style), else the old
    ratio (= tflops / vendor_tflops, which is vendor time / candidate time) and spread."""
    ratio = _get(obj, "ratio")
    if not _finite(ratio):
        t, vt = _get(obj, "tflops"), _get(obj, "vendor_tflops")
        ratio = t / vt if _finite(t) and _finite(vt) and vt > 0 else math.nan
    samples = _get(obj, "ratios") or []
    noise = _get(obj, "noise")
    return RatioSummary(float(ratio), _get(obj, "ratio_lo"), _get(obj, "ratio_hi"), _get(obj, "precision"),
                        _get(obj, "spread"), [float(x) for x in samples if _finite(x) and x > 0],
                        float(noise) if _finite(noise) and noise > 0 else 0.0)


def _thin(xs: list[float], n: int) -> list[float]:
    if len(xs) <= n:
        return xs
    s = sorted(xs)
    return [s[int((i + 0.5) * len(s) / n)] for i in range(n)]


def shift_ci(x: Sequence[float], y: Sequence[float], confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float, float]:
    """Hodges-Lehmann estimate and distribution-free CI of the shift x - y (Mann-Whitney ranks,
    normal approximation of U's null distribution; fine for >= 6 per side)."""
    side = int(math.sqrt(MAX_PAIRS))
    xs, ys = _thin(list(x), side), _thin(list(y), side)
    n, m = len(xs), len(ys)
    d = sorted(a - b for a in xs for b in ys)
    nm = n * m
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    k = int(math.floor(nm / 2 - z * math.sqrt(nm * (n + m + 1) / 12.0)))
    k = max(0, min(k, nm // 2))
    mid = d[nm // 2] if nm % 2 else 0.5 * (d[nm // 2 - 1] + d[nm // 2])
    return mid, d[k], d[nm - 1 - k]


def judge(baseline: RatioSummary | Any, new: RatioSummary | Any, effect: float = DEFAULT_EFFECT,
          max_precision: float = DEFAULT_MAX_PRECISION, confidence: float = DEFAULT_CONFIDENCE) -> Judgement:
    """The verdict for one entry (module docstring). ``baseline``/``new``: RatioSummary, or
    anything ``summary_of`` reads (a Result dict, a table Entry)."""
    b = baseline if isinstance(baseline, RatioSummary) else summary_of(baseline)
    n = new if isinstance(new, RatioSummary) else summary_of(new)
    nan = math.nan
    if not (_finite(b.ratio) and b.ratio > 0):
        return Judgement(BAD_BASELINE, nan, nan, nan, "", f"the stored ratio {b.ratio} is not a positive number: re-baseline with --update")
    bh = b.half_width()
    if not bh <= max_precision:
        src = b.interval()[2]
        what = f"spread {b.spread:.3g} (about +-{bh:.1%})" if src == "spread" else f"precision +-{bh:.1%}"
        return Judgement(BAD_BASELINE, nan, nan, nan, "",
                         f"the stored measurement is too imprecise to judge against ({what} > +-{max_precision:.1%}): "
                         f"re-baseline with --update")
    if not (_finite(n.ratio) and n.ratio > 0):
        return Judgement(INCONCLUSIVE, nan, nan, nan, "", f"the new ratio {n.ratio} is not a positive number: re-measure")
    d = math.log(b.ratio / n.ratio)
    if len(b.samples) >= 6 and len(n.samples) >= 6:
        d, d_lo, d_hi = shift_ci([math.log(r) for r in b.samples], [math.log(r) for r in n.samples], confidence)
        method = "ranks"
    else:
        blo, bhi, _ = b.interval()
        nlo, nhi, _ = n.interval()
        d_lo = math.log(blo / nhi) if blo > 0 and _finite(nhi) else -math.inf
        d_hi = math.log(bhi / nlo) if nlo > 0 and _finite(bhi) else math.inf
        method = "ci"
    s, s_lo, s_hi = (math.expm1(v) if _finite(v) else v for v in (d, d_lo, d_hi))
    limit = math.log1p(effect)
    floor = math.log1p(b.noise)  # a shift inside the measured between-measurement noise is not significant
    what = f"slowdown {s:+.2%} (CI {s_lo:+.2%} .. {s_hi:+.2%}) vs the vendor, effect threshold {effect:.0%}"
    if b.noise:
        what += f", noise floor {b.noise:.2%}"
    if d_lo > floor and d_hi >= limit:
        return Judgement(REGRESSED, s, s_lo, s_hi, method, what)
    if d_hi < -floor and d_lo <= -limit:
        return Judgement(IMPROVED, s, s_lo, s_hi, method, what)
    nh = n.half_width()
    if not nh <= max_precision:
        return Judgement(INCONCLUSIVE, s, s_lo, s_hi, method,
                         f"{what}; the new measurement's precision +-{nh:.1%} > +-{max_precision:.1%}: re-measure")
    return Judgement(UNCHANGED, s, s_lo, s_hi, method, what)
