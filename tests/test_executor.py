"""The executor's adaptive compile-ahead (hktune/search/executor.py): cold compiles get the whole
build pool, cached ones are asked a couple at a time (a model-guided strategy learns from each
result). Injected build and run times; no GPU, no compiler."""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from hktune.build.builder import BuildOutcome
from hktune.search.executor import FIRST_COMPILES, Executor


class FakeBuilder:
    def __init__(self, jobs: int, compile_s: float) -> None:
        self.jobs, self.compile_s = jobs, compile_s
        self.pool = ThreadPoolExecutor(max_workers=jobs)

    def submit(self, cfg: dict) -> Future:
        def build() -> BuildOutcome:
            time.sleep(self.compile_s)
            return BuildOutcome(config=cfg, key="k", ok=True, seconds=self.compile_s, cached=self.compile_s == 0,
                                artifact=Path("x"), log_path=None)
        return self.pool.submit(build)


def drive(compile_s: float, run_s: float, jobs: int = 8, trials: int = 24) -> tuple[list[int], list[int]]:
    """Run `trials` candidates through one worker; the room offered at every ask, and the
    candidates in flight after it."""
    def run(worker, cfg, outcome) -> dict:  # noqa: ANN001
        time.sleep(run_s)
        return {"ok": True, "_seconds": run_s}

    ex: Executor = Executor(FakeBuilder(jobs, compile_s), ["w0"], run)
    asked, rooms, flight, done = 0, [], [], 0
    while done < trials:
        room = min(ex.room(), trials - asked)
        rooms.append(room)
        for _ in range(room):
            ex.add(asked, {"I": asked})
            asked += 1
        flight.append(len(ex.pending))
        done += len(ex.step(lambda *a: True, more_coming=asked < trials))
    return rooms, flight


def test_cached_builds_are_asked_a_couple_at_a_time():
    rooms, _ = drive(compile_s=0.0, run_s=0.02)
    assert rooms[0] == 1 + 1 + FIRST_COMPILES          # before anything is measured
    assert max(rooms[3:]) <= 2                          # then: one per worker, plus one


def test_slow_compiles_fill_the_build_pool():
    _, flight = drive(compile_s=0.2, run_s=0.02, jobs=8, trials=30)
    assert max(flight) >= 8                             # compile time / run time >> jobs: the pool fills


def test_a_fixed_lookahead_is_kept():
    ex: Executor = Executor(FakeBuilder(4, 0.0), ["w0"], lambda *a: {"ok": True}, lookahead=1)
    assert ex.room() == 1
    ex.add(0, {"I": 0})
    assert ex.room() == 0


def test_a_slow_compile_does_not_hold_back_the_ready_builds_behind_it():
    class Mixed(FakeBuilder):
        def submit(self, cfg: dict) -> Future:
            slow = cfg["I"] == 0
            def build() -> BuildOutcome:
                time.sleep(0.5 if slow else 0.0)
                return BuildOutcome(config=cfg, key="k", ok=True, seconds=0.5 if slow else 0.0, cached=not slow,
                                    artifact=Path("x"), log_path=None)
            return self.pool.submit(build)

    order = []
    def run(worker, cfg, outcome) -> dict:  # noqa: ANN001
        order.append(cfg["I"])
        time.sleep(0.02)
        return {"ok": True, "_seconds": 0.02}

    ex: Executor = Executor(Mixed(4, 0.0), ["w0"], run, lookahead=4)
    for i in range(4):
        ex.add(i, {"I": i})
    done = 0
    while done < 4:
        done += len(ex.step(lambda *a: True, more_coming=False))
    assert order[0] != 0 and order[-1] == 0 and sorted(order) == [0, 1, 2, 3]
