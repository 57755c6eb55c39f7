"""hktune.record.judge: the sweep's regression decision, on simulated paired measurements
(tests/fake_card.py) and on old-style table entries. No real timing is asserted."""
import math

import pytest

from hktune.record.judge import (BAD_BASELINE, IMPROVED, INCONCLUSIVE, REGRESSED, UNCHANGED, RatioSummary,
                                 judge, summary_of)
from hktune.run.paired import measure_paired
from hktune.run.precision import StopRule
from tests.fake_card import FakeCard

RULE = StopRule(target=0.005, min_time_s=0.1, max_time_s=3.0, min_launches=50)


def _paired(kernel_s, vendor_s, seed, sigma=0.03, card=1.0, **kw) -> dict:
    """A worker-style result dict from a simulated paired measurement."""
    c = FakeCard(a_s=kernel_s * card, b_s=vendor_s * card, sigma=sigma, seed=seed, **kw)
    run_a, run_b = c.arms()
    p = measure_paired(run_a, run_b, RULE, clock=c.clock)
    return {"ratio": p.ratio.median, "ratio_lo": p.ratio.lo, "ratio_hi": p.ratio.hi, "precision": p.precision,
            "ratios": p.ratios, "tflops": 1 / p.a.median, "vendor_tflops": 1 / p.b.median}


@pytest.mark.parametrize("use_samples", [True, False])
def test_planted_3pct_slowdown_caught_9_of_10_and_no_false_alarms(use_samples):
    caught = false_alarms = 0
    for seed in range(10):
        base = _paired(1.0e-3, 1.1e-3, seed=100 + seed)
        slow = _paired(1.03e-3, 1.1e-3, seed=200 + seed)           # the kernel 3 % slower
        same = _paired(1.0e-3, 1.1e-3, seed=300 + seed, card=0.9)   # unchanged; card 10 % faster
        if not use_samples:
            for d in (base, slow, same):
                d.pop("ratios")
        caught += judge(base, slow).verdict == REGRESSED
        v = judge(base, same)
        false_alarms += v.verdict != UNCHANGED
        assert not (v.verdict == REGRESSED)
    assert caught >= 9 and false_alarms == 0


def test_card_state_is_not_an_improvement():
    """A sweep right after a search: kernel and vendor both +10 %. Old rule: 'improved +9.3 %'."""
    base = _paired(1.0e-3, 1.1e-3, seed=1)
    now = _paired(1.0e-3, 1.1e-3, seed=2, card=1 / 1.1)
    assert now["tflops"] / base["tflops"] > 1.08
    assert judge(base, now).verdict == UNCHANGED


def test_drift_during_the_remeasure_does_not_fail_it():
    base = _paired(1.0e-3, 1.1e-3, seed=3)
    drifting = _paired(1.0e-3, 1.1e-3, seed=4, drift=0.10, drift_over_s=1.0)
    assert judge(base, drifting).verdict == UNCHANGED


def test_improvement_is_symmetric():
    base = _paired(1.0e-3, 1.1e-3, seed=5)
    fast = _paired(0.95e-3, 1.1e-3, seed=6)
    j = judge(base, fast)
    assert j.verdict == IMPROVED and j.slowdown < 0 and not j.failed


def test_small_but_precise_change_is_unchanged():
    base = RatioSummary(1.10, 1.099, 1.101)
    j = judge(base, RatioSummary(1.10 / 1.01, 1.10 / 1.01 * 0.999, 1.10 / 1.01 * 1.001))  # 1 % slower, +-0.1 %
    assert j.slowdown == pytest.approx(0.01, abs=1e-6) and j.slowdown_lo > 0 and j.verdict == UNCHANGED


OLD_CPU_ENTRY = {"tflops": 0.01, "vendor_tflops": 0.012, "ratio": 0.01 / 0.012, "spread": 13.88}


def test_bad_baseline_is_refused_never_widened():
    j = judge(OLD_CPU_ENTRY, {"ratio": (0.01 / 0.012) / 14, "ratio_lo": 0.059, "ratio_hi": 0.060})
    assert j.verdict == BAD_BASELINE and "re-baseline with --update" in j.message and j.failed


@pytest.mark.parametrize("base", [
    OLD_CPU_ENTRY,                                                  # the spread-13.88 entry
    {"ratio": 0.8333, "spread": 0.02},                              # a good old-style entry
    {"ratio": 0.8333, "ratio_lo": 0.83, "ratio_hi": 0.8366},        # a good new-style entry
    {"ratio": 0.8333, "precision": 0.004},
])
@pytest.mark.parametrize("new_precision", [0.001, 0.05, 0.5, math.inf])
def test_a_14x_slowdown_is_never_passed(base, new_precision):
    r = 0.8333 / 14
    new = {"ratio": r, "ratio_lo": r * (1 - new_precision) if math.isfinite(new_precision) else -math.inf,
           "ratio_hi": r * (1 + new_precision) if math.isfinite(new_precision) else math.inf}
    j = judge(base, new)
    assert j.verdict in (REGRESSED, BAD_BASELINE, INCONCLUSIVE) and j.failed


def test_imprecise_remeasure_is_inconclusive_not_unchanged():
    j = judge({"ratio": 1.1, "precision": 0.004}, {"ratio": 1.09, "precision": 0.04})
    assert j.verdict == INCONCLUSIVE and j.failed


def test_old_style_entry_and_results_are_read():
    class Entry:  # the shape of hktune.table.Entry: known fields + extra
        ratio, spread, tflops = 1.2, 0.02, 500.0
        extra = {"ratio_lo": 1.19, "ratio_hi": 1.21, "ratios": [1.2] * 10}
    s = summary_of(Entry())
    assert (s.ratio, s.lo, s.hi, len(s.samples)) == (1.2, 1.19, 1.21, 10)
    s = summary_of({"tflops": 500.0, "vendor_tflops": 400.0, "spread": 0.03})
    assert s.ratio == pytest.approx(1.25) and s.interval()[2] == "spread"
    assert judge({"ratio": float("nan")}, {"ratio": 1.0}).verdict == BAD_BASELINE


def test_a_baseline_from_before_the_sustained_method_is_marked() -> None:
    """Issue 19: earlier tables are marked: a GPU entry with no recorded timing method says so."""
    from hktune.record.judge import judge

    base = {"ratio": 1.0, "ratio_lo": 0.995, "ratio_hi": 1.005, "ratios": [1.0, 1.001, 0.999, 1.0, 1.002, 0.998]}
    new = {**base, "method": "graph"}
    assert "re-baseline" in judge(base, new).message
    assert "launch by launch" not in judge({**base, "method": "graph"}, new).message
    assert "launch by launch" not in judge(base, {**base, "method": "host"}).message
