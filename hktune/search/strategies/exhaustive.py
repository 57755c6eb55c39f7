"""Every valid config, in the space's enumeration order (for landscapes and small spaces)."""
from __future__ import annotations

from hktune.search.strategies.base import Strategy


class ExhaustiveStrategy(Strategy):
    name = "exhaustive"

    def _choose(self, n: int) -> list[int]:
        return self.untried()[:n]
