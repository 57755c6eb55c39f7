"""A figure is taken with the card in its power-capped steady state (Settings.heat_ms): a full
measurement on a device idle for more than cool_s is preceded by heat_ms of back-to-back replays,
one right after other timed work by warm_ms, a tournament's short round by warm_short_ms, and a
search's trial (steady=False) never heats. The device is the CPU (only the choice is tested here:
no timing relation is asserted)."""
from __future__ import annotations

import time
import types
from pathlib import Path

import pytest
import torch

from hktune.run.measure import Evaluator, Settings
from hktune.run.worker import handle
from hktune.search.driver import Search, SearchOptions
from hktune.search.finalists import _confirmed
from tests.fake_search import CachedBuilder, CountingWorker, toy_target

S = Settings(heat_ms=5000.0, cool_s=2.0, warm_ms=200.0, warm_short_ms=50.0)


def test_a_cold_card_is_heated_before_a_figure_and_a_warm_one_is_not() -> None:
    ev = Evaluator(torch.device("cpu"), S)
    assert ev._warm_ms(None, steady=True) == 5000.0            # nothing timed yet in this process
    assert ev._warm_ms(None, steady=False) == 200.0            # a trial
    assert ev._warm_ms(30.0, steady=True) == 50.0              # a tournament round follows another
    ev._busy_end = time.perf_counter()
    assert ev._warm_ms(None, steady=True) == 200.0             # right after timed work: still hot
    ev._busy_end = time.perf_counter() - 3.0
    assert ev._warm_ms(None, steady=True) == 5000.0            # cooled for 3 s > cool_s


class Ev:
    def __init__(self) -> None:
        self.kw: dict = {}

    def evaluate(self, *args, **kw):  # noqa: ANN002, ANN003, ANN201
        self.kw = kw

        class R:
            def to_dict(self) -> dict:
                return {"ok": True}
        return R()


@pytest.mark.parametrize("sent, got", [({}, True), ({"steady": False}, False), ({"steady": True}, True)])
def test_the_worker_passes_steady_on(sent: dict, got: bool) -> None:
    ev = Ev()
    handle(ev, {"op": "evaluate", "lib": "x", "m": 1, "n": 1, "k": 1, **sent}, None)
    assert ev.kw["steady"] is got


def test_a_search_trial_does_not_heat_and_the_entry_s_fresh_measurements_do(tmp_path: Path) -> None:
    target = toy_target(tmp_path, "family: toy\nparams:\n  TILE: [16, 32, 48, 64]\n")
    w = CountingWorker()
    opts = SearchOptions(64, 64, 64, trials=4, sampler="exhaustive", seed=0, storage=str(tmp_path / "s.journal"),
                         table=None, finalists=0, warm_start=0)
    Search(target, CachedBuilder(), w, opts).run()
    assert len(w.asked) >= 4 and all(kw.get("steady") is False for kw in w.asked)
    # the winner's and the runner-up's fresh measurements (hktune.search.finalists) ask for no such thing:
    # the worker's default, steady, heats a cooled card
    w.asked.clear()
    space = target.space
    item = lambda t: ({"TILE": t}, types.SimpleNamespace(artifact=Path("x")))  # noqa: E731
    a, b = item(64), item(48)
    result = types.SimpleNamespace(winner=types.SimpleNamespace(finalist=a),
                                   ranking=[types.SimpleNamespace(finalist=a), types.SimpleNamespace(finalist=b)])
    search = types.SimpleNamespace(worker=w, space=space, shape=(64, 64, 64),
                                   recorder=types.SimpleNamespace(unsafe_keys=lambda: set()))
    assert _confirmed(search, result) is not None
    assert len(w.asked) == 6 and all(kw.get("fresh") and "steady" not in kw for kw in w.asked)
