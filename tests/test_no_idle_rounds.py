"""The device never idles between timed rounds (H100, 2026-12-05: check-model's rounds were read one
at a time behind a spin each, and two identical arms read 1.016x and 1.028x, CIs above 1: the burst
after the idle gap starts at clocks still ramping up). Fake events stand for a GPU: what is checked
is the order in which rounds are queued, spun and read."""
from __future__ import annotations

import torch

from hktune.run import sustained
from hktune.torch import check


class _Event:
    def __init__(self, log: list, rnd: int, i: int) -> None:
        self.log, self.rnd, self.i = log, rnd, i

    def synchronize(self) -> None:
        self.log.append(("read", self.rnd))

    def elapsed_time(self, other: "_Event") -> float:
        return 1.0 + other.i   # ms: A 2, B 3, B 4, A 5


def _fake_enqueue(log: list):
    def enqueue(a, b, spin_s):
        rnd = sum(1 for e in log if e[0] == "queue")
        log.append(("queue", rnd, spin_s))
        return [_Event(log, rnd, i) for i in range(5)], 1e-4
    return enqueue


def test_check_model_rounds_are_queued_ahead_behind_one_spin(monkeypatch):
    log: list = []
    monkeypatch.setattr(check, "enqueue_abba", _fake_enqueue(log))
    timer, rounds = check._rounds(torch.device("cuda", 0), lambda: None, lambda: None, n=4, warmup=2)
    assert "back to back" in timer
    assert len(rounds) == 4 and rounds[0] == (2.0, 3.0, 4.0, 5.0)
    queued = [e for e in log if e[0] == "queue"]
    assert len(queued) == 6                                   # 2 warm-up + 4 timed, nothing more
    assert queued[0][2] > 0 and all(e[2] == 0 for e in queued[1:])   # one spin, before the first
    for rnd in range(5):   # round r+1 is on the device before round r is read
        assert log.index(("queue", rnd + 1, 0.0)) < log.index(("read", rnd))


def test_prequeued_pair_spins_only_before_its_first_round(monkeypatch):
    log: list = []
    monkeypatch.setattr(sustained, "enqueue_abba", _fake_enqueue(log))
    pair = object.__new__(sustained.SustainedPair)
    pair.method, pair._spin_s, pair._pending, pair.la, pair.lb = sustained.PREQUEUED, 3e-3, None, 1, 1
    pair.a = pair.b = sustained._Arm([], None)
    for _ in range(3):
        pair.next_round()
    spins = [e[2] for e in log if e[0] == "queue"]
    assert spins == [3e-3, 0.0, 0.0, 0.0]
    assert log.index(("queue", 1, 0.0)) < log.index(("read", 0))


def test_check_model_heats_the_card_with_one_pair_always_queued(monkeypatch):
    """check-model's heat (2026-12-06): both variants back to back for heat_s before the first timed
    round, each pair queued before the one ahead of it is waited for; none on the CPU."""
    log: list = []

    class Ev:
        def record(self) -> None:
            self.n = sum(1 for e in log if e == "b")
            log.append(("record", self.n))

        def synchronize(self) -> None:
            log.append(("wait", self.n))

    monkeypatch.setattr(check.torch.cuda, "Event", Ev)
    check._heat(torch.device("cuda", 0), lambda: log.append("a"), lambda: log.append("b"), 0.02)
    pairs = log.count("b")
    assert pairs >= 2 and log.count("a") == pairs and log[:2] == ["a", "b"]
    for n in range(1, pairs):   # pair n+1 is queued before pair n is waited for
        assert log.index(("record", n + 1)) < log.index(("wait", n))
    assert log[-1] == ("wait", pairs)            # nothing of the heat is left running when timing starts
    log.clear()
    check._heat(torch.device("cpu"), lambda: log.append("a"), lambda: log.append("b"), 0.02)
    check._heat(torch.device("cuda", 0), lambda: log.append("a"), lambda: log.append("b"), 0.0)
    assert log == []
