"""Who plays the closing tournament (hktune.search.finalists: contenders among the candidates): the study's best few and the space's seeds,
less any past the first two whose own trial's ratio CI lies wholly below the best trial's (the tournament's racing
rule on the trials' CIs). The study is a real optuna study with made-up trials; nothing is timed."""
from __future__ import annotations

import types

import optuna
import pytest
from optuna.distributions import IntDistribution

from hktune.search.finalists import _ready, candidates, contenders

optuna.logging.set_verbosity(optuna.logging.WARNING)


def trial(tile: int, ratio: float, half: float | None):
    attrs = {"config": {"TILE": tile}}
    if half is not None:
        attrs |= {"ratio_lo": ratio - half, "ratio_hi": ratio + half}
    return optuna.trial.create_trial(params={"TILE": tile}, distributions={"TILE": IntDistribution(0, 512)},
                                     value=ratio, user_attrs=attrs)


def search_with(trials, seeds, k: int = 2):
    study = optuna.create_study(direction="maximize")
    for t in trials:
        study.add_trial(t)
    space = types.SimpleNamespace(names=["TILE"], seeds=[{"TILE": s} for s in seeds])
    return types.SimpleNamespace(study=study, space=space, opts=types.SimpleNamespace(finalists=k),
                                 recorder=types.SimpleNamespace(unsafe_keys=lambda: set()))


def tiles(search) -> list[int]:
    return [cfg["TILE"] for cfg, _, _ in contenders(candidates(search))]


def test_a_seed_shown_behind_on_its_trial_does_not_play():
    # best 1.04 (CI 1.03-1.05), then 1.03; seed 16 at 0.95 (hi 0.96 < 1.03) is out, seed 48 at 1.025 (hi 1.035) plays
    s = search_with([trial(64, 1.04, 0.01), trial(32, 1.03, 0.01), trial(16, 0.95, 0.01), trial(48, 1.025, 0.01),
                     trial(8, 0.90, 0.01)], seeds=[16, 48])
    assert tiles(s) == [64, 32, 48]


def test_the_first_two_always_play_even_when_the_second_is_behind():
    s = search_with([trial(64, 1.10, 0.005), trial(32, 1.00, 0.005), trial(16, 0.90, 0.005)], seeds=[16], k=2)
    assert tiles(s) == [64, 32]


def test_a_seed_whose_ci_reaches_the_best_trials_plays():
    s = search_with([trial(64, 1.10, 0.005), trial(48, 1.099, 0.005), trial(16, 1.097, 0.005)], seeds=[16], k=2)
    assert tiles(s) == [64, 48, 16]   # 16's CI (1.092-1.102) reaches the best's (1.095-1.105)


def test_without_a_ci_on_the_best_trial_every_seed_plays():
    s = search_with([trial(64, 1.10, None), trial(32, 1.00, 0.01), trial(16, 0.50, 0.01)], seeds=[16], k=2)
    assert sorted(tiles(s)) == [16, 32, 64]


@pytest.mark.parametrize("lo_hi", [(None, 1.0), ("x", 1.0), (float("nan"), 1.0), (True, 1.0)])
def test_a_trial_with_a_broken_ci_is_kept(lo_hi):
    lead = types.SimpleNamespace(user_attrs={"ratio_lo": 1.0, "ratio_hi": 1.1})
    odd = types.SimpleNamespace(user_attrs={"ratio_lo": lo_hi[0], "ratio_hi": lo_hi[1]})
    entries = [({"T": 1}, 1.05, lead), ({"T": 2}, 1.0, lead), ({"T": 3}, 0.5, odd)]
    assert len(contenders(entries)) == 3


def test_the_search_counts_the_finalists_left_out():
    s = search_with([trial(64, 1.04, 0.01), trial(32, 1.03, 0.01), trial(16, 0.95, 0.01), trial(48, 0.90, 0.01)],
                    seeds=[16, 48])
    s.builder = types.SimpleNamespace(build=lambda cfg: types.SimpleNamespace(usable=True))
    s.hunt = lambda worker, cfg, outcome, res: {"ok": True}
    s.worker, s.summary = None, types.SimpleNamespace(left_out=0)
    ready = _ready(s)
    assert [cfg["TILE"] for cfg, _ in ready] == [64, 32] and s.summary.left_out == 2
