"""Sizing of the sustained method's replays and its round contract (no GPU needed)."""
from __future__ import annotations

import pytest

from hktune.run.paired import measure_paired
from hktune.run.precision import StopRule
from hktune.run.sustained import MAX_LAUNCHES, launches_per_replay


@pytest.mark.parametrize("per_launch,sets,replay_ms,want", [
    (1e-3, 3, 10.0, 12),        # 10 launches needed, rounded up to whole rotations of 3
    (25e-6, 7, 10.0, 406),      # 400 needed -> 58 rotations of 7
    (50e-3, 4, 10.0, 4),        # one launch is longer than a replay: one rotation
    (1e-9, 3, 10.0, MAX_LAUNCHES - MAX_LAUNCHES % 3),  # capped, still whole rotations
    (float("nan"), 5, 1.0, 1000),  # no pilot: assume 1 us
])
def test_launches_per_replay(per_launch: float, sets: int, replay_ms: float, want: int) -> None:
    got = launches_per_replay(per_launch, sets, replay_ms)
    assert got == want and got % sets == 0


def test_measure_paired_takes_whole_rounds_from_round_fn() -> None:
    """A round source (the sustained method) replaces the per-arm batch runners: the ratio is
    vendor/candidate per round and the launch counts use the replay lengths."""
    rounds = iter([(1.0e-3, 1.1e-3, 1.1e-3, 1.0e-3)] * 100)
    res = measure_paired(None, None, StopRule(target=0.01, min_time_s=0.0, max_time_s=10.0, min_launches=1),
                         batch_a=10, batch_b=9, round_fn=lambda: next(rounds))
    assert res.ratio.median == pytest.approx(1.1)
    assert res.batch_a == 10 and res.batch_b == 9 and res.rounds >= 8
    assert res.timed_s == pytest.approx(res.rounds * (2 * 10 * 1.0e-3 + 2 * 9 * 1.1e-3))
