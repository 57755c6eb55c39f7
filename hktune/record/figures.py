"""The one answer to "how fast", per table entry or best: the paired ratio to the vendor BLAS with
its 95% CI, absolute TFLOP/s as a secondary figure of the same measurement, how it was timed, and
whether it can be trusted.

Every surface that prints a speed (search's summary, `show`, `show --studies`, `report`, the
header's comments, `sweep`, hktune.torch) reads it through :func:`of` and prints it with
:meth:`Figures.text`, so one study never shows two different bests.

A figure is *unreliable* (and says why) when the measurement was disturbed (host load above the
core count, a GPU slowed for a reason other than its power cap: :func:`disturbing`), when its CI
is wider than +-``UNRELIABLE_PRECISION``, or when the absolute times disagree with the paired
ratio (the machine's speed changed while timing: the kernel's TFLOP/s over the vendor's falls
outside the ratio's CI by more than ``AGREE_SLACK``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

UNRELIABLE_PRECISION = 0.05   # a 95% CI wider than +-5 % cannot rank configs 1-5 % apart
AGREE_SLACK = 0.10            # absolute-vs-paired disagreement tolerated beyond the CI (rounding, drift)
DISTURBED = ("host load", "throttl")   # measurement warnings that mean the machine, not the kernel, moved
# A card at its software power cap is the steady state sustained timing measures (both arms alike, the regime users
# run), not a disturbance; thermal and hardware slowdowns, sync boost and unnamed reasons are.
STEADY = ("sw_power_cap",)


def disturbing(warning: str) -> bool:
    """Whether a measurement warning means the machine moved the timing: host load, or a GPU
    slowed for any reason but its power cap ("GPU throttled while timing (sw_power_cap)" is not)."""
    if "throttl" in warning and "(" in warning and ")" in warning:
        reasons = {r.strip() for r in warning[warning.index("(") + 1:warning.rindex(")")].split(",")}
        return bool(reasons - set(STEADY))
    return any(d in warning for d in DISTURBED)


def finite(x: Any) -> bool:
    """A real number (not a bool), finite: the one test every figure of a record passes before use."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _num(x: Any) -> float | None:
    return float(x) if finite(x) else None


@dataclass(frozen=True)
class Figures:
    ratio: float | None               # vendor time / kernel time, paired (> 1: the kernel is faster)
    lo: float | None = None           # its 95% CI
    hi: float | None = None
    tflops: float | None = None       # the kernel's absolute speed (secondary)
    vendor_tflops: float | None = None
    method: str | None = None         # how it was timed: graph, prequeued, host (when the entry says)
    noise: float | None = None        # relative between-measurement spread (when measured)
    precision: float | None = None    # relative CI half-width
    warnings: tuple[str, ...] = field(default_factory=tuple)

    # -- trust -----------------------------------------------------------------------------------
    def half_width(self) -> float | None:
        if self.ratio and self.lo is not None and self.hi is not None:
            return (self.hi - self.lo) / 2 / self.ratio
        return self.precision

    def absolute_ratio(self) -> float | None:
        return self.tflops / self.vendor_tflops if self.tflops and self.vendor_tflops else None

    def unreliable(self) -> list[str]:
        """Why this figure cannot be trusted ([] when it can)."""
        out: list[str] = []
        for d in DISTURBED:  # one line per kind (readings before and after timing often repeat it)
            out += [w for w in self.warnings if d in w and disturbing(w)][:1]
        h = self.half_width()
        if h is not None and not math.isfinite(h):
            out.append("too few rounds for a 95% CI")
        elif h is not None and h > UNRELIABLE_PRECISION:
            out.append(f"95% CI +-{h:.1%} (wider than +-{UNRELIABLE_PRECISION:.0%})")
        a = self.absolute_ratio()
        if a is not None and self.ratio and self.lo is not None and self.hi is not None:
            if not self.lo / (1 + AGREE_SLACK) <= a <= self.hi * (1 + AGREE_SLACK):
                out.append(f"absolute times ({a:.3g}x) disagree with the paired ratio ({self.ratio:.3g}x): "
                           "the machine's speed changed while timing")
        return out

    # -- text ------------------------------------------------------------------------------------
    def ratio_text(self, vs: str = "vendor") -> str:
        """'2.256x vendor (paired, 95% CI 2.10-2.40)'; '?' when there is no ratio."""
        if self.ratio is None:
            return "?"
        ci = f", 95% CI {self.lo:.4g}-{self.hi:.4g}" if self.lo is not None and self.hi is not None else ""
        how = f", {self.method}" if self.method else ""
        noise = f", noise {self.noise:.1%}" if self.noise is not None else ""
        return f"{self.ratio:.4g}x {vs} (paired{ci}{how}{noise})"

    def absolute_text(self) -> str:
        k = f"{self.tflops:.4g}" if self.tflops is not None else "?"
        v = f"{self.vendor_tflops:.4g}" if self.vendor_tflops is not None else "?"
        return f"{k} TFLOP/s (vendor {v} TFLOP/s)"

    def text(self, vs: str = "vendor") -> str:
        """The headline: the paired ratio first, absolute speed second, and a trust label."""
        why = self.unreliable()
        return f"{self.ratio_text(vs)}; {self.absolute_text()}" + (f"; unreliable: {'; '.join(why)}" if why else "")

    def as_dict(self) -> dict[str, Any]:
        """For --json: snake_case keys."""
        return {"ratio": self.ratio, "ratio_lo": self.lo, "ratio_hi": self.hi, "tflops": self.tflops,
                "vendor_tflops": self.vendor_tflops, "method": self.method, "noise": self.noise,
                "warnings": list(self.warnings), "unreliable": self.unreliable() or None}


def _field(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        v = obj.get(key)
        if v is None and isinstance(obj.get("extra"), Mapping):
            v = obj["extra"].get(key)
        return v
    v = getattr(obj, key, None)
    if v is None and isinstance(getattr(obj, "extra", None), Mapping):
        v = obj.extra.get(key)
    return v


def of(obj: Any) -> Figures:
    """Figures of a table Entry, an entry's dict, a search summary's best or a worker's result."""
    vendor = _field(obj, "vendor")
    vt = _field(obj, "vendor_tflops")
    if vt is None and isinstance(vendor, Mapping):
        vt = vendor.get("tflops")
    ratio = _num(_field(obj, "ratio"))
    tflops = _num(_field(obj, "tflops"))
    vt = _num(vt)
    if ratio is None or ratio <= 0:
        ratio = tflops / vt if tflops and vt else None   # an old entry without a paired ratio
    lo, hi = _num(_field(obj, "ratio_lo")), _num(_field(obj, "ratio_hi"))
    if lo is None or hi is None or ratio is None or not lo <= ratio <= hi:
        lo = hi = None
    warnings = _field(obj, "warnings") or ()
    precision = _field(obj, "precision")   # may be inf: too few rounds for a CI
    precision = float(precision) if isinstance(precision, (int, float)) and not isinstance(precision, bool) else None
    return Figures(ratio, lo, hi, tflops, vt, _field(obj, "method"), _num(_field(obj, "noise")), precision,
                   tuple(str(w) for w in warnings))
