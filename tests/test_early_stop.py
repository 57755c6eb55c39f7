"""A search's trials stop timing once shown behind the best so far (hktune.run.paired, early stop):
the driver passes its best ratio to every trial after the first, none with --no-early-stop, and the
summary counts the trials that stopped. The worker is a fake (no GPU); the statistics are tested on a
simulated card in tests/test_paired.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from hktune.search.driver import Search, SearchOptions
from tests.fake_search import CachedBuilder, toy_target

SPACE = """
family: toy
params:
  TILE: [16, 32, 48, 64]
"""


RATIO = {16: 1.0, 32: 0.7, 48: 1.1, 64: 0.8}   # not monotonic in TILE: whatever the order, one trial is behind


class Worker:
    """Ratio RATIO[TILE]; a trial given stop_below above its ratio reports the early stop, as the real one does."""
    info = {"name": "fake", "units": 0, "arch": "fake"}

    def __init__(self) -> None:
        self.asked: list[tuple[int, float | None]] = []

    def prepare(self, m: int, n: int, k: int) -> dict:
        return {"ok": True}

    def evaluate(self, lib, expected: str, m: int, n: int, k: int, time: bool = True, **kw) -> dict:  # noqa: ANN001
        tile = int(expected.split("TILE=")[1].split(",")[0])
        ratio = RATIO[tile]
        if time:
            self.asked.append((tile, kw.get("stop_below")))
        behind = kw.get("stop_below") is not None and ratio < kw["stop_below"]
        return {"ok": True, "tflops": float(tile), "vendor_tflops": 64.0, "ratio": ratio, "median_us": 1.0,
                "spread": 0.0, "error": 1e-3, "environment": {"stop": "behind the best" if behind else "converged"}}


@pytest.mark.parametrize("early", [True, False])
def test_trials_after_the_first_race_the_best_so_far(tmp_path: Path, early: bool):
    target = toy_target(tmp_path, SPACE)
    w = Worker()
    opts = SearchOptions(64, 64, 64, trials=4, sampler="exhaustive", seed=0, storage=str(tmp_path / "s.journal"),
                         table=None, finalists=0, warm_start=0, early_stop=early)
    summary = Search(target, CachedBuilder(), w, opts).run()
    assert len(w.asked) == 4 and w.asked[0][1] is None           # nothing to race on the first trial
    if not early:
        assert all(b is None for _, b in w.asked) and summary.behind == 0
        return
    best = -1.0
    for tile, below in w.asked[1:]:
        best = max(best, *(RATIO[t] for t, _ in w.asked[: w.asked.index((tile, below))]))
        assert below == pytest.approx(best)                     # the best measured before this trial
    assert summary.behind == sum(1 for t, b in w.asked if b is not None and RATIO[t] < b) >= 1
    assert "trials" in summary.phases


def test_the_worker_stops_a_trial_behind_the_best_real_process(tmp_path: Path):
    """Through a real worker process and a real host kernel (faulty family, no fault): a best no
    kernel can reach stops the timing as soon as the rule allows, with its reason; none given, it
    does not. (No timing relation is asserted: any finite ratio lies below 1e9.)"""
    from hktune.build.builder import Builder
    from hktune.family.family import resolve
    from hktune.run.measure import Settings
    from hktune.run.paired import BEHIND_MIN_ROUNDS
    from hktune.run.runner import Worker
    from hktune.search.driver import config_string
    from hktune.target import make_target

    fam = resolve("host", "faulty")
    space = fam.space("host")
    cfg = {"FAULT": 0, "BLOCK": 16}
    with Builder(make_target(fam, "host", space), jobs=1, cache=tmp_path / "cache") as b:
        out = b.build(cfg)
    assert out.usable, out.reason
    # a cap of 8 s of timed work instead of the host's 250 ms: under a loaded CI the wall cap could end the timing
    # before the rule's 6 rounds ("wall cap": the default's 0.875 s on 2026-12-05 23:51, 2 s's 3.5 s on 2026-12-06 03:20)
    with Worker("cpu", Settings(repeats=10, warmup_ms=1, max_time_ms=8000), timeout_s=120) as w:
        behind = w.evaluate(out.artifact, config_string(space, cfg), 64, 64, 64, stop_below=1e9)
        plain = w.evaluate(out.artifact, config_string(space, cfg), 64, 64, 64)
    assert behind["ok"] and plain["ok"], (behind, plain)
    # at least BEHIND_MIN_ROUNDS rounds, and each arm's minimum timed work (how many: the host's speed)
    assert behind["environment"]["stop"] == "behind the best" and behind["rounds"] >= BEHIND_MIN_ROUNDS
    assert not any("did not reach" in x for x in behind["warnings"])
    assert plain["environment"]["stop"] != "behind the best"
