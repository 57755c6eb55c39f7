"""Optuna's TPE over the valid configs.

TPE proposes from the product of the per-knob values, most of which may be invalid for the shape.
Here it runs on a private in-memory study: an invalid or repeated proposal is told FAILED there
(TPE ignores failed trials, so they neither count as start-up trials nor fill its "good" set
with copies), and after a few such proposals in a row a random untried config is taken instead.
Every real observation is added to the private study as a COMPLETE trial."""
from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from hktune.search.problem import config_key
from hktune.search.strategies.base import Strategy

MAX_MISSES = 20


class TPEStrategy(Strategy):
    name = "tpe"

    def __init__(self, *a, **kw) -> None:  # noqa: ANN002, ANN003
        super().__init__(*a, **kw)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.dists = {p.name: CategoricalDistribution(sorted({c[p.name] for c in self.valid})) for p in self.space.params}
        sampler = optuna.samplers.TPESampler(seed=self.seed, multivariate=True, constant_liar=True, n_startup_trials=8)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)

    def _learn(self, index: int, value: float | None) -> None:
        cfg = self.valid[index]
        params = {k: cfg[k] for k in self.dists}
        if value is None:
            self.study.add_trial(create_trial(params=params, distributions=self.dists, state=TrialState.FAIL))
        else:
            self.study.add_trial(create_trial(params=params, distributions=self.dists, value=float(value)))

    def _choose(self, n: int) -> list[int]:
        out: list[int] = []
        chosen: set[int] = set()
        untried = self.untried()  # fixed during one call (pending grows only in ask): read it once, not per proposal
        misses = 0
        while len(out) < n:
            if len(out) >= len(untried):
                break
            if misses >= MAX_MISSES:
                out.append(self.rng.choice([i for i in untried if i not in chosen]))
                chosen.add(out[-1])
                misses = 0
                continue
            trial = self.study.ask(self.dists)
            key = config_key({k: int(v) for k, v in trial.params.items()})
            self.study.tell(trial, state=TrialState.FAIL)  # the real value arrives through _learn
            i = self.index.get(key)
            if i is None or not self._open(key) or i in chosen:
                misses += 1
                continue
            out.append(i)
            chosen.add(i)
        return out
