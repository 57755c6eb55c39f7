"""The strategy contract: what to try next.

A strategy is built over the *valid* configs of one problem (every config it may propose is
legal for the shape) and is the only thing that decides the order of evaluation. The driver:

* calls ``observe(config, value)`` for every finished evaluation, including those of earlier runs
  of the same study on resume (``value`` is the objective, higher is better; ``None`` = failed or
  pruned: never propose it again);
* calls ``prefer(configs)`` with configs to try first, in order (the space's seeds, then warm-start
  configs from nearby shapes); a strategy that models its history may also learn from them;
* calls ``ask(n)`` for up to ``n`` configs to compile and run next. Every config returned is in
  the valid set, was never observed and is not pending from an earlier ask; an empty list means
  the space is exhausted. Asking for several at once lets the driver compile ahead and keep every
  worker fed.

A strategy gets the problem's shape too, so a strategy may order a cold search by the space's
analytical prior (hktune.space.prior) before anything was measured.

A strategy never sees an invalid config and never gets a repeat told back as a new result; the
objective values it sees are the ones the study records. New strategies subclass Strategy, live in
one module of this folder, and are registered by one line in strategies/__init__.py.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Sequence

from hktune.search.problem import config_key
from hktune.space.space import Config, Space


class Strategy(ABC):
    name = "base"

    def __init__(self, space: Space, valid: Sequence[Config], seed: int = 0,
                 shape: tuple[int, int, int] | None = None) -> None:
        self.space = space
        self.shape = shape                           # the problem's (M, N, K), for a space's prior
        self.valid = [dict(c) for c in valid]
        self.keys = [config_key(c) for c in self.valid]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.rng = random.Random(seed)
        self.seed = seed
        self.values: dict[str, float | None] = {}   # observed: key -> objective (None: failed)
        self.pending: set[str] = set()               # asked, not yet observed
        self._preferred: list[str] = []

    # -- driver side -----------------------------------------------------------------------------
    def observe(self, config: Config, value: float | None) -> None:
        key = config_key(config)
        self.pending.discard(key)
        if key in self.index:
            self.values[key] = value
            self._learn(self.index[key], value)

    def prefer(self, configs: Sequence[Config]) -> None:
        for c in configs:
            key = config_key(c)
            if key in self.index and key not in self._preferred:
                self._preferred.append(key)

    def ask(self, n: int) -> list[Config]:
        out: list[Config] = []
        while self._preferred and len(out) < n:
            key = self._preferred.pop(0)
            if self._open(key):
                self.pending.add(key)
                out.append(self.valid[self.index[key]])
        if len(out) < n:
            for i in self._choose(n - len(out)):
                key = self.keys[i]
                if self._open(key):
                    self.pending.add(key)
                    out.append(self.valid[i])
        return out

    def exhausted(self) -> bool:
        return len(self.values) + len(self.pending) >= len(self.valid)

    # -- helpers for subclasses ------------------------------------------------------------------
    def _open(self, key: str) -> bool:
        return key not in self.values and key not in self.pending

    def untried(self) -> list[int]:
        """Indices of valid configs neither observed nor pending."""
        return [i for i, k in enumerate(self.keys) if self._open(k)]

    def best(self) -> tuple[Config, float] | None:
        done = [(v, k) for k, v in self.values.items() if v is not None]
        if not done:
            return None
        v, k = max(done)
        return self.valid[self.index[k]], v

    # -- what a strategy decides -----------------------------------------------------------------
    def _learn(self, index: int, value: float | None) -> None:
        """Take one observation into the model (no-op for model-free strategies)."""

    @abstractmethod
    def _choose(self, n: int) -> list[int]:
        """Indices of up to ``n`` untried valid configs, best first."""
