"""Search strategies: one module each, one line each in STRATEGIES (see base.py for the contract)."""
from __future__ import annotations

import importlib
from typing import Sequence

from hktune.errors import BadInput
from hktune.search.strategies.base import Strategy
from hktune.space.space import Config, Space

STRATEGIES = {
    "tpe": "hktune.search.strategies.tpe:TPEStrategy",
    "random": "hktune.search.strategies.random:RandomStrategy",
    "exhaustive": "hktune.search.strategies.exhaustive:ExhaustiveStrategy",
    "model": "hktune.search.strategies.model:ModelStrategy",
}
DEFAULT = "model"


def make(name: str, space: Space, valid: Sequence[Config], seed: int = 0,
         shape: tuple[int, int, int] | None = None) -> Strategy:
    if name not in STRATEGIES:
        raise BadInput(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")
    module, _, cls = STRATEGIES[name].partition(":")
    return getattr(importlib.import_module(module), cls)(space, valid, seed, shape)


__all__ = ["DEFAULT", "STRATEGIES", "Strategy", "make"]
