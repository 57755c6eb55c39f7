"""hktune.run.paired: ABBA rounds and the paired ratio, on a simulated card (tests/fake_card.py).
No real timing is asserted; every relation below is about the statistics of injected times."""
import math

import pytest

from hktune.run.paired import measure_paired, round_ratio
from hktune.run.precision import StopRule, median_ci
from tests.fake_card import FakeCard

RULE = StopRule(target=0.005, min_time_s=0.1, max_time_s=4.0, min_launches=50)


def _measure(card, rule=RULE, batch_a=1, batch_b=1):
    run_a, run_b = card.arms()
    return measure_paired(run_a, run_b, rule, batch_a, batch_b, clock=card.clock)


def test_order_is_abba_and_both_arms_are_reported():
    card = FakeCard(a_s=1e-3, b_s=1.1e-3, sigma=0.01, seed=1)
    p = _measure(card)
    assert "".join(a for a, _, _ in card.log[:8]) == "ABBAABBA".lower()
    assert p.rounds == len(p.ratios) and len(p.a_samples) == len(p.b_samples) == 2 * p.rounds
    assert abs(p.ratio.median / 1.1 - 1) < 0.005 and p.ratio.lo <= 1.1 <= p.ratio.hi
    assert abs(p.a.median / 1e-3 - 1) < 0.01 and abs(p.b.median / 1.1e-3 - 1) < 0.01
    s = p.summary()
    assert s["converged"] and s["precision"] <= 0.005 and s["ratio_lo"] <= s["ratio"] <= s["ratio_hi"]


def test_abba_round_cancels_order_bias_and_linear_drift_exactly():
    a, b, bias, step = 1.0, 1.2, 0.05, 0.01
    # positions 0..3, second of each pair (1, 3) slow by 5 %, clock drifting linearly
    t = [x * (1 + step * i) * (1 + bias * (i % 2)) for i, x in enumerate((a, b, b, a))]
    plain = [x * (1 + step * i) for i, x in enumerate((a, b, b, a))]
    assert round_ratio(*plain) == pytest.approx(b / a, rel=1e-12)
    # with both the drift and the order bias the residual is second order (bias x drift)
    assert round_ratio(*t) == pytest.approx(b / a, rel=1e-3)


def test_noisy_lognormal_converges_to_the_true_ratio():
    card = FakeCard(a_s=2e-3, b_s=2.1e-3, sigma=0.05, seed=7)
    p = _measure(card, StopRule(target=0.005, min_time_s=0.1, max_time_s=30.0, min_launches=50))
    assert p.converged and p.precision <= 0.005
    assert abs(p.ratio.median / 1.05 - 1) < 0.01


def test_drifting_clock_moves_absolute_time_10pct_but_not_the_ratio():
    # the clock drops 10 % over the run: every launch of both arms ends 10 % slower
    card = FakeCard(a_s=1e-3, b_s=1.05e-3, sigma=0.01, seed=3, drift=0.10, drift_over_s=1.0)
    p = _measure(card, StopRule(target=0.005, min_time_s=0.6, max_time_s=4.0, min_launches=50))
    first, last = median_ci(p.a_samples[:20]).median, median_ci(p.a_samples[-20:]).median
    assert last / first - 1 > 0.08                          # absolute time moved ~10 %
    assert abs(p.ratio.median / 1.05 - 1) < 0.01            # the paired ratio did not
    assert p.ratio.lo <= 1.05 * 1.01 and p.ratio.hi >= 1.05 * 0.99


def test_second_arm_bias_cancels_only_when_alternated():
    truth = 1.0
    card = FakeCard(a_s=1e-3, b_s=1e-3, sigma=0.01, seed=5, second_slow=0.05)
    p = _measure(card)
    assert abs(p.ratio.median / truth - 1) < 0.005
    # the same card timed naively, A then B every time: B is always second and reads 5 % slow
    naive_card = FakeCard(a_s=1e-3, b_s=1e-3, sigma=0.01, seed=5, second_slow=0.05)
    naive = []
    for _ in range(100):
        a = naive_card.run("a", 1)
        naive.append(naive_card.run("b", 1) / a)
    assert median_ci(naive).median > 1.04


def test_bimodal_launches_keep_the_ratio_and_widen_the_ci():
    card = FakeCard(a_s=1e-3, b_s=1.02e-3, sigma=0.005, seed=11, bimodal_p=0.3, bimodal_x=1.3)
    p = _measure(card, StopRule(target=0.005, min_time_s=0.1, max_time_s=20.0, min_launches=50))
    assert p.ratio.lo <= 1.02 <= p.ratio.hi
    assert abs(p.ratio.median / 1.02 - 1) < 0.01


def test_cap_reports_not_converged():
    card = FakeCard(a_s=1e-3, b_s=1e-3, sigma=0.4, seed=2)
    p = _measure(card, StopRule(target=0.001, min_time_s=0.05, max_time_s=0.3, min_launches=10))
    assert not p.converged and p.stop == "time cap" and p.precision > 0.001
    assert 0.3 <= p.timed_s < 0.32


def test_batched_arms_count_launches_and_share_rounds():
    card = FakeCard(a_s=20e-6, b_s=40e-6, sigma=0.05, seed=9)
    p = _measure(card, batch_a=50, batch_b=25)
    assert p.batch_a == 50 and p.batch_b == 25
    assert abs(p.ratio.median / 2.0 - 1) < 0.01
    assert 2 * p.rounds * 50 >= 50


def test_paired_ratio_ignores_common_card_state():
    """The whole card 10 % faster (both arms): absolute times move, the ratio does not."""
    slow = _measure(FakeCard(a_s=1e-3, b_s=1.1e-3, sigma=0.01, seed=4))
    fast = _measure(FakeCard(a_s=0.9e-3, b_s=0.99e-3, sigma=0.01, seed=4))
    assert fast.a.median / slow.a.median < 0.92
    assert abs(fast.ratio.median / slow.ratio.median - 1) < 0.005
    assert not math.isinf(fast.precision)


def test_batch_runner_rotates_over_every_set_and_returns_seconds_per_launch():
    """measure.Timer.batch_runner on the CPU: which sets run, in what order (no timing asserted)."""
    import torch

    from hktune.run.measure import Timer

    seen: list[int] = []
    run = Timer(torch.device("cpu")).batch_runner([lambda i=i: seen.append(i) for i in range(5)], start=3)
    assert run(4) >= 0 and run(3) >= 0
    assert seen == [3, 4, 0, 1, 2, 3, 4]


def test_amd_last_level_cache_is_the_infinity_cache():
    from hktune.run.device_info import amd_llc_bytes

    assert amd_llc_bytes("gfx942:sramecc+:xnack-") == 256 << 20
    assert amd_llc_bytes("gfx950") == 256 << 20
    assert amd_llc_bytes("gfx90a") == 0  # no Infinity Cache: the L2 torch reports stands


def test_environment_warns_on_host_load_and_throttling():
    from hktune.run.environment import environment_warnings, read_environment

    env = read_environment(gpu=False, loadavg=lambda: (5.5, 2.0, 1.0), cpus=2)
    assert env["host"]["load1"] == 5.5 and "gpu" not in env
    assert any("host load" in w for w in environment_warnings(env))
    assert environment_warnings({"gpu": {"throttle": ["sw_power_cap"]}, "host": {"load1": 0.1, "cpus": 2}}) == [
        "GPU throttled while timing (sw_power_cap)"]


def test_nvml_readings_and_throttle_reasons(monkeypatch):
    """A fake pynvml: clocks, power, temperature and the power-cap throttle bit are read and warned."""
    import types

    import hktune.run.environment as E

    nv = types.SimpleNamespace(
        NVML_CLOCK_SM=1, NVML_CLOCK_MEM=2, NVML_TEMPERATURE_GPU=0, nvmlInit=lambda: None,
        nvmlDeviceGetHandleByPciBusId=lambda bus: (_ for _ in ()).throw(RuntimeError("not found")),
        nvmlDeviceGetHandleByIndex=lambda i: ("gpu", i),
        nvmlDeviceGetClockInfo=lambda h, which: {1: 1755, 2: 2619}[which],
        nvmlDeviceGetPowerUsage=lambda h: 690_000, nvmlDeviceGetEnforcedPowerLimit=lambda h: 700_000,
        nvmlDeviceGetTemperature=lambda h, s: 71,
        nvmlDeviceGetCurrentClocksThrottleReasons=lambda h: 0x1 | 0x4)
    monkeypatch.setitem(__import__("sys").modules, "pynvml", nv)
    monkeypatch.setattr(E, "_nvml", None)
    env = E.read_environment(0, "00000000:19:00.0", loadavg=lambda: (0.5, 0.5, 0.5), cpus=16)
    g = env["gpu"]
    assert g["source"] == "nvml" and g["found_by"] == "index" and g["sm_clock_mhz"] == 1755
    assert g["power_w"] == 690 and g["temp_c"] == 71 and g["throttle"] == ["sw_power_cap"]
    assert E.environment_warnings(env) == ["GPU throttled while timing (sw_power_cap)"]


def test_a_trial_shown_behind_the_best_stops_early_and_one_near_it_does_not():
    """stop_below (a search's best ratio so far): a candidate whose CI lies wholly below it stops at
    BEHIND_MIN_ROUNDS rounds; one whose CI reaches the best is timed to its usual precision."""
    from hktune.run.paired import BEHIND_MIN_ROUNDS
    rule = StopRule(target=0.001, min_time_s=0.01, max_time_s=4.0, min_launches=10)
    slow = FakeCard(a_s=1e-3, b_s=0.9e-3, sigma=0.02, seed=4)          # ratio 0.90
    run_a, run_b = slow.arms()
    p = measure_paired(run_a, run_b, rule, clock=slow.clock, stop_below=1.0)
    assert p.stop == "behind the best" and not p.converged and p.rounds == BEHIND_MIN_ROUNDS
    assert p.ratio.hi < 1.0 and abs(p.ratio.median / 0.9 - 1) < 0.03
    again = FakeCard(a_s=1e-3, b_s=0.9e-3, sigma=0.02, seed=4)
    full = measure_paired(*again.arms(), rule, clock=again.clock)
    assert full.rounds > 3 * BEHIND_MIN_ROUNDS, "without a best to beat, the same card is timed to its target"
    near = FakeCard(a_s=1e-3, b_s=0.999e-3, sigma=0.02, seed=5)          # ratio 0.999: CI straddles 1.0
    run_a, run_b = near.arms()
    q = measure_paired(run_a, run_b, rule, clock=near.clock, stop_below=1.0)
    assert q.stop != "behind the best" and q.rounds > BEHIND_MIN_ROUNDS


def test_a_power_capped_card_is_the_steady_state_not_a_disturbance():
    """The power cap is the regime sustained timing measures: neither the figure's trust label nor
    the sweep's judge calls it disturbed; any other slowdown (thermal, hardware) and host load are."""
    from hktune.record.figures import Figures, disturbing
    from hktune.record.judge import summary_of

    cap, hot = "GPU throttled while timing (sw_power_cap)", "GPU throttled while timing (sw_power_cap, hw_thermal)"
    assert not disturbing(cap) and disturbing(hot) and disturbing("host load 4.81 > 2 cores: launches may be late")
    assert disturbing("GPU throttled while timing (throttle_status=0x4)")   # an unnamed AMD reason stays suspect
    fig = dict(ratio=1.05, lo=1.04, hi=1.06, tflops=640.0, vendor_tflops=610.0)
    assert Figures(**fig, warnings=(cap,)).unreliable() == []
    assert Figures(**fig, warnings=(cap, hot)).unreliable() == [hot]
    entry = {"ratio": 1.05, "ratio_lo": 1.04, "ratio_hi": 1.06, "warnings": [cap, hot]}
    assert summary_of(entry).disturbed == [hot]
