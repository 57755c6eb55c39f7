"""hktune.run.precision: the median's order-statistic CI and the stopping rule, on injected
(simulated) timings only; no test asserts a real timing relation."""
import math
import random
from statistics import NormalDist

import pytest

from hktune.run.precision import (StopRule, choose_batch, median_ci, median_ranks, should_stop,
                                  time_until_precise)
from tests.fake_card import FakeCard


def test_ranks_match_the_binomial_tables():
    # Classic 95 % ranks (1-based): n=6 -> (1,6), n=10 -> (2,9), n=20 -> (6,15), n=50 -> (18,33)
    assert median_ranks(5) is None  # 2 * 2^-5 > 5 %: no interval reaches 95 %
    assert median_ranks(6) == (0, 5)
    assert median_ranks(10) == (1, 8)
    assert median_ranks(20) == (5, 14)
    assert median_ranks(50) == (17, 32)
    lo, hi = median_ranks(5000)  # normal approximation above 1000
    assert abs(lo - 2430) <= 1 and lo + hi == 4999


def test_too_few_samples_claim_nothing():
    est = median_ci([1.0, 1.1, 0.9])
    assert est.median == 1.0 and est.lo == -math.inf and est.hi == math.inf and est.precision == math.inf


@pytest.mark.parametrize("draw", ["lognormal", "bimodal"])
def test_coverage_is_at_least_the_confidence(draw):
    """Distribution-free: over 400 seeded samples the CI holds the true median >= ~95 % of the time."""
    rng = random.Random(1)
    # bimodal: 60 % near 1.0, 40 % near 1.3; the median is the 0.5/0.6 quantile of the lower mode
    true_median = 1.0 if draw == "lognormal" else math.exp(0.01 * NormalDist().inv_cdf(0.5 / 0.6))
    hits = 0
    for _ in range(400):
        if draw == "lognormal":
            xs = [math.exp(rng.gauss(0, 0.1)) for _ in range(30)]
        else:
            xs = [(1.3 if rng.random() < 0.4 else 1.0) * math.exp(rng.gauss(0, 0.01)) for _ in range(30)]
        est = median_ci(xs)
        hits += est.lo <= true_median <= est.hi
    assert hits / 400 >= 0.93


def test_batch_rule():
    assert choose_batch(15e-3) == 1           # a 15 ms GEMM: one launch per batch
    assert choose_batch(20e-6) == 50          # 20 us: 50 launches make 1 ms
    assert choose_batch(1e-9) == 1000         # capped
    assert choose_batch(0.0) == 1 and choose_batch(float("nan")) == 1


def test_quiet_kernel_converges_after_the_minimums():
    card = FakeCard(a_s=1e-3, sigma=0.005, seed=3)
    rule = StopRule(target=0.005, min_time_s=0.1, max_time_s=2.0, min_launches=50)
    t = time_until_precise(lambda n: card.run("a", n), rule, clock=card.clock)
    assert t.converged and t.stop == "converged"
    assert t.precision <= 0.005 and t.timed_s >= 0.1 and t.launches >= 50
    assert abs(t.estimate.median / 1e-3 - 1) < 0.005


def test_noisy_kernel_stops_at_the_cap_and_says_so():
    card = FakeCard(a_s=1e-3, sigma=0.5, seed=4)
    rule = StopRule(target=0.001, min_time_s=0.1, max_time_s=0.5, min_launches=10)
    t = time_until_precise(lambda n: card.run("a", n), rule, clock=card.clock)
    assert not t.converged and t.stop == "time cap"
    assert 0.5 <= t.timed_s < 0.5 + 0.02 and t.precision > 0.001


def test_minimum_launches_come_before_the_time_cap_but_the_wall_cap_is_hard():
    assert should_stop(StopRule(max_time_s=0.1, min_launches=50), 1.0, 20, 20, 5.0, 0.0)[0] is False
    stop, conv, why = should_stop(StopRule(max_time_s=0.1, min_launches=50, max_wall_s=1.0), 1.0, 20, 20, 5.0, 1.5)
    assert stop and not conv and why == "wall cap"


def test_batches_are_single_samples():
    card = FakeCard(a_s=20e-6, sigma=0.05, seed=5)
    t = time_until_precise(lambda n: card.run("a", n), StopRule(min_time_s=0.05), batch=choose_batch(20e-6),
                           clock=card.clock)
    assert t.batch == 50 and t.launches == 50 * len(t.samples_s)
    # averaging 50 launches per sample shrinks the per-sample noise ~7x: converges quickly
    assert t.converged and abs(t.estimate.median / 20e-6 - 1) < 0.005
