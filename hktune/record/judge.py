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

Noise: where a measurement carries ``noise`` (the relative spread between independent
re-measurements of one config, when the run target measures it), the interval of d is widened by
ln(1 + noise) on each side and the precision asked of either side counts it: the judge never
calls a change that the machine's own between-measurement noise could make.

Verdicts (``judge``):
  * ``bad_baseline``: the stored entry cannot be compared at all: no positive finite ratio, or an
    old-style entry with no CI whose ``spread`` = (p90 - p10)/median of 50 single launches gives a
    half-width (0.2 x spread: normal theory, the median of 50 draws has a 95 % half-width of
    0.135 x (p90 - p10), times sqrt 2 for a ratio of two arms) above ``max_precision``. Message:
    "re-baseline with --update". The threshold is NEVER widened by a stored spread (that is how a
    14x slowdown once passed).
  * ``regressed``: significant (d_lo > 0) and not shown to be smaller than the effect threshold
    (d_hi >= ln(1 + effect), effect 3 %): the data are consistent with a slowdown of at least 3 %
    and exclude none. A precisely measured 1 % slowdown (CI [0.7 %, 1.3 %]) is ``unchanged``; a
    planted 3 % slowdown is caught although its estimate falls below 3 % half of the time.
    When either measurement was disturbed (host load above its cores, a GPU slowed below its power cap: the
    measurements' warnings), the same finding is ``inconclusive`` instead: a loaded machine moves
    a kernel and the vendor differently, so it cannot tell a slower kernel from a busier machine.
  * ``improved``: the mirror image (undisturbed measurements only).
  * ``inconclusive``: none of these, and either side is too imprecise to vouch for "unchanged"
    (the stored CI or the new one, noise included, wider than ``max_precision``), or disturbed as
    above. Never a pass; the message says what to do (``FIX``). An imprecise entry fresh from a
    search on a busy machine is inconclusive, not a bad baseline.
  * ``unchanged``: otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping, Sequence

from hktune.record.figures import disturbing, finite

DEFAULT_EFFECT = 0.03
DEFAULT_MAX_PRECISION = 0.015
SPREAD_TO_HALF_WIDTH = 0.2
DEFAULT_CONFIDENCE = 0.95
MAX_PAIRS = 400_000  # Hodges-Lehmann pairwise differences; larger samples are thinned evenly

REGRESSED, IMPROVED, UNCHANGED, BAD_BASELINE, INCONCLUSIVE = (
    "regressed", "improved", "unchanged", "bad_baseline", "inconclusive")
FAILING = (REGRESSED, BAD_BASELINE, INCONCLUSIVE)   # not a pass (the sweep gives inconclusive its own exit code)
FIX = ("re-run the sweep on a quiet machine (no other jobs; `uptime` load below the core count), or judge a coarser "
       "change with a larger --tolerance (the precision asked is half of it)")


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
    noise: float | None = None                                 # relative between-measurement spread
    disturbed: list[str] = field(default_factory=list)         # warnings: host load, throttling

    def interval(self) -> tuple[float, float, str]:
        """(lo, hi, source) of the median ratio; (-inf, inf) when nothing says how precise it is."""
        if finite(self.lo) and finite(self.hi) and self.lo <= self.ratio <= self.hi:
            return float(self.lo), float(self.hi), "ci"
        if finite(self.precision) and self.precision >= 0:
            return self.ratio * (1 - self.precision), self.ratio * (1 + self.precision), "precision"
        if finite(self.spread) and self.spread >= 0:
            h = SPREAD_TO_HALF_WIDTH * self.spread
            return self.ratio * (1 - h), self.ratio * (1 + h), "spread"
        return -math.inf, math.inf, "none"

    def half_width(self) -> float:
        """Relative half-width of the ratio's CI, the between-measurement noise included."""
        lo, hi, _ = self.interval()
        h = (hi - lo) / 2 / self.ratio if finite(lo) and finite(hi) and self.ratio > 0 else math.inf
        return max(h, self.noise) if finite(self.noise) else h


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
    if not finite(ratio):
        t, vt = _get(obj, "tflops"), _get(obj, "vendor_tflops")
        ratio = t / vt if finite(t) and finite(vt) and vt > 0 else math.nan
    samples = _get(obj, "ratios") or []
    noise = _get(obj, "noise")
    warnings = [str(w) for w in (_get(obj, "warnings") or [])]
    return RatioSummary(float(ratio), _get(obj, "ratio_lo"), _get(obj, "ratio_hi"), _get(obj, "precision"),
                        _get(obj, "spread"), [float(x) for x in samples if finite(x) and x > 0],
                        float(noise) if finite(noise) and noise >= 0 else None,
                        [w for w in warnings if disturbing(w)])


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
    anything ``summary_of`` reads (a Result dict, a table Entry). A GPU baseline timed before the
    sustained method (no ``method`` recorded) is marked as such in the message."""
    j = _judge(baseline, new, effect, max_precision, confidence)
    if not isinstance(baseline, RatioSummary) and _get(baseline, "method") is None \
            and _get(new, "method") in SUSTAINED:
        j.message += ("; the stored figure was timed launch by launch (before the sustained method of "
                      "2026-12-04): re-baseline with --update")
    return j


SUSTAINED = ("graph", "prequeued")


def _judge(baseline: RatioSummary | Any, new: RatioSummary | Any, effect: float, max_precision: float,
           confidence: float) -> Judgement:
    b = baseline if isinstance(baseline, RatioSummary) else summary_of(baseline)
    n = new if isinstance(new, RatioSummary) else summary_of(new)
    nan = math.nan
    if not (finite(b.ratio) and b.ratio > 0):
        return Judgement(BAD_BASELINE, nan, nan, nan, "", f"the stored ratio {b.ratio} is not a positive number: re-baseline with --update")
    bh = b.half_width()
    old_style = b.lo is None and b.hi is None and b.precision is None  # an entry from before paired timing
    if old_style and b.interval()[2] in ("spread", "none") and not bh <= max_precision:
        # An old-style entry (no CI): nothing to compare with; a re-baseline gives it one.
        what = f"spread {b.spread:.3g} (about +-{bh:.1%})" if b.interval()[2] == "spread" else "no CI"
        return Judgement(BAD_BASELINE, nan, nan, nan, "",
                         f"the stored measurement is too imprecise to judge against ({what} > +-{max_precision:.1%}): "
                         f"re-baseline with --update")
    if not (finite(n.ratio) and n.ratio > 0):
        return Judgement(INCONCLUSIVE, nan, nan, nan, "", f"the new ratio {n.ratio} is not a positive number: re-measure")
    d = math.log(b.ratio / n.ratio)
    if len(b.samples) >= 6 and len(n.samples) >= 6:
        d, d_lo, d_hi = shift_ci([math.log(r) for r in b.samples], [math.log(r) for r in n.samples], confidence)
        method = "ranks"
    else:
        blo, bhi, _ = b.interval()
        nlo, nhi, _ = n.interval()
        d_lo = math.log(blo / nhi) if blo > 0 and finite(nhi) else -math.inf
        d_hi = math.log(bhi / nlo) if nlo > 0 and finite(bhi) else math.inf
        method = "ci"
    noise = max((x for x in (b.noise, n.noise) if x is not None), default=0.0)
    if noise > 0:   # two independent measurements differ by the machine's noise as well
        d_lo, d_hi = d_lo - math.log1p(noise), d_hi + math.log1p(noise)
    s, s_lo, s_hi = (math.expm1(v) if finite(v) else v for v in (d, d_lo, d_hi))
    limit = math.log1p(effect)
    what = f"slowdown {s:+.2%} (CI {s_lo:+.2%} .. {s_hi:+.2%}) vs the vendor, effect threshold {effect:.0%}"
    disturbed = list(dict.fromkeys(b.disturbed + n.disturbed))
    if disturbed and ((d_lo > 0 and d_hi >= limit) or (d_hi < 0 and d_lo <= -limit)):
        return Judgement(INCONCLUSIVE, s, s_lo, s_hi, method,
                         f"{what}, measured while disturbed ({'; '.join(disturbed)}): cannot tell the kernel from "
                         f"the machine; {FIX}")
    if d_lo > 0 and d_hi >= limit:
        return Judgement(REGRESSED, s, s_lo, s_hi, method, what)
    if d_hi < 0 and d_lo <= -limit:
        return Judgement(IMPROVED, s, s_lo, s_hi, method, what)
    nh = n.half_width()
    if not bh <= max_precision or not nh <= max_precision:
        parts = ([f"the stored measurement's +-{bh:.1%}"] if not bh <= max_precision else []) + \
                ([f"the new measurement's +-{nh:.1%}"] if not nh <= max_precision else [])
        return Judgement(INCONCLUSIVE, s, s_lo, s_hi, method,
                         f"{what}; {' and '.join(parts)} (noise included) too imprecise to judge a {effect:.0%} change "
                         f"(needs +-{max_precision:.1%}): {FIX}")
    return Judgement(UNCHANGED, s, s_lo, s_hi, method, what)
