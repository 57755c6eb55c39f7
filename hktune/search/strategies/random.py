"""Uniform random sampling over the untried valid configs: the baseline every strategy must beat."""
from __future__ import annotations

from hktune.search.strategies.base import Strategy


class RandomStrategy(Strategy):
    name = "random"

    def _choose(self, n: int) -> list[int]:
        left = self.untried()
        return self.rng.sample(left, min(n, len(left)))
