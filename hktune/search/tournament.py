"""Finalists decided by a tournament of interleaved paired rounds, not by one timing each.

Top configs differ by 1-5 %, and one timing of each moves by more than that, so "re-time the best
few once and keep the fastest" crowns noise. Here every finalist is measured once per round, in an
order rotated from round to round, each measurement a paired ratio (vendor time / candidate
time, > 1 = faster) taken against the vendor BLAS in the same breath, until the leader is shown to
be ahead of the runner-up.

Contract
  * ``run_tournament(finalists, measure, ...)``: ``measure(finalist)`` returns one paired ratio
    for one round (e.g. one ABBA round of ``hktune.run.paired``; fakes in tests). Finalists are
    any objects (configs); k >= 2 works, k >= 5 is the intended use.
  * Round r measures the finalists still in the race starting at position r mod k, so none is
    always first (or always right after the vendor warmed up).
  * After ``min_rounds`` rounds, standings are the median round ratio with its order-statistic
    CI (``precision.median_ci``). The leader (highest median) is *separated* from the runner-up
    when
      (a) their CIs do not overlap (leader.lo > runner.hi), or
      (b) the paired comparison says so: over the rounds both were measured in, the CI of the
          median of ln(leader ratio) - ln(runner ratio) lies above 0 (a sign test on the same
          rounds, so what the card did in a round cancels once more).
    Then the tournament stops and the leader wins with ``tie=False``.
  * Racing: a finalist whose CI lies wholly below the leader's (hi < leader.lo) is dropped from
    later rounds (its standing is kept); the top two are never dropped.
  * At ``max_rounds`` without separation, ``tie=True``: the top two cannot be told apart, and
    the winner is the more stable of them, i.e. the smaller relative CI half-width of its ratio,
    then the smaller spread ((p90 - p10) / median of its round ratios). A tie is a fine outcome
    (either config is as fast as can be measured); it must not be reported as a win.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

from hktune.run.precision import DEFAULT_CONFIDENCE, Estimate, median_ci, spread

T = TypeVar("T")

DEFAULT_MIN_ROUNDS = 6   # a 95 % order-statistic CI needs n >= 6
DEFAULT_MAX_ROUNDS = 40


@dataclass
class Standing(Generic[T]):
    finalist: T
    index: int                              # position in the input list
    estimate: Estimate                      # median round ratio and its CI
    ratios: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)  # the round of each ratio
    dropped_after: int | None = None        # round after which it was raced out

    @property
    def ratio(self) -> float:
        return self.estimate.median

    @property
    def spread(self) -> float:
        return spread(self.ratios)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "ratio": self.ratio, "ratio_lo": self.estimate.lo, "ratio_hi": self.estimate.hi,
                "precision": self.estimate.precision, "spread": self.spread, "rounds": len(self.ratios),
                "dropped_after": self.dropped_after}


@dataclass
class TournamentResult(Generic[T]):
    ranking: list[Standing[T]]   # best first (by median ratio)
    winner: Standing[T]
    tie: bool
    rounds: int
    separated_by: str            # "ci", "paired", or "" in a tie
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"winner": self.winner.index, "tie": self.tie, "rounds": self.rounds, "separated_by": self.separated_by,
                "ranking": [s.to_dict() for s in self.ranking]}


RULE = ("leader wins when its ratio CI lies above the runner-up's, or the CI of the median per-round "
        "log-ratio difference of the two lies above 0; otherwise at the round cap it is a tie and the "
        "more stable of the top two (smaller CI half-width, then spread) is kept")


def paired_separated(lead: Standing[Any], runner: Standing[Any], confidence: float) -> bool:
    """(b) of the contract: the median per-round ln-difference's CI lies above 0."""
    theirs = dict(zip(runner.rounds, runner.ratios))
    diffs = [math.log(r) - math.log(theirs[rd]) for rd, r in zip(lead.rounds, lead.ratios)
             if rd in theirs and r > 0 and theirs[rd] > 0]
    est = median_ci(diffs, confidence)
    return math.isfinite(est.lo) and est.lo > 0


def _stability(s: Standing[Any]) -> tuple[float, float]:
    return (s.estimate.precision, s.spread)


def run_tournament(finalists: Sequence[T], measure: Callable[[T], float], min_rounds: int = DEFAULT_MIN_ROUNDS,
                   max_rounds: int = DEFAULT_MAX_ROUNDS, confidence: float = DEFAULT_CONFIDENCE,
                   race: bool = True, log: Callable[[str], None] = lambda s: None) -> TournamentResult[T]:
    """Interleaved paired rounds until the leader is separated or ``max_rounds`` (module docstring)."""
    if len(finalists) < 2:
        raise ValueError("a tournament needs at least two finalists")
    if max_rounds < min_rounds:
        raise ValueError("max_rounds must be >= min_rounds")
    table = [Standing(f, i, median_ci([], confidence)) for i, f in enumerate(finalists)]
    k = len(table)
    rnd = 0
    ranked = list(table)
    while rnd < max_rounds:
        alive = [s for s in table if s.dropped_after is None]
        start = rnd % k
        order = sorted(alive, key=lambda s: (s.index - start) % k)
        for s in order:
            r = float(measure(s.finalist))
            s.ratios.append(r)
            s.rounds.append(rnd)
        rnd += 1
        for s in alive:
            s.estimate = median_ci(s.ratios, confidence)
        ranked = sorted(table, key=lambda s: (-s.estimate.median, s.index))
        if rnd < min_rounds:
            continue
        lead, runner = ranked[0], ranked[1]
        how = ""
        if math.isfinite(lead.estimate.lo) and lead.estimate.lo > runner.estimate.hi:
            how = "ci"
        elif paired_separated(lead, runner, confidence):
            how = "paired"
        if how:
            log(f"round {rnd}: leader #{lead.index} separated from #{runner.index} ({how})")
            return TournamentResult(ranked, lead, False, rnd, how, RULE)
        if race:
            for s in ranked[2:]:
                if s.dropped_after is None and s.estimate.hi < lead.estimate.lo:
                    s.dropped_after = rnd
                    log(f"round {rnd}: #{s.index} raced out")
    lead, runner = ranked[0], ranked[1]
    winner = min((lead, runner), key=_stability)
    log(f"round cap {max_rounds}: #{lead.index} and #{runner.index} tie; keeping #{winner.index} (more stable)")
    return TournamentResult(ranked, winner, True, rnd, "", RULE)
