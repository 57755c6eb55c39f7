"""Pairwise (strength-2) covering arrays over a space's valid configs.

A covering array here is a list of valid configs such that every *feasible* pair of knob
values - (P1=v1, P2=v2) for two different params that occur together in at least one valid
config - occurs in at least one row. Pairs the constraints rule out are not asked for.

The generator is greedy and deterministic (the same space gives the same rows on every
machine, so a run resumes and CI's rotating slice is reproducible): it starts from given rows
(e.g. the seeds), then repeatedly adds the valid config that covers the most uncovered pairs,
the first in enumeration order on ties. Configs in ``exclude`` (e.g. builds a static check
rejected) are never picked, so replacements for them can be asked for. No library on PyPI
takes arbitrary constraint expressions over an enumerated valid set (allpairspy filters
candidates per row and can miss feasible pairs), so this is ~80 lines over numpy.
"""
from __future__ import annotations

from itertools import combinations
from typing import Iterable, Mapping, Sequence

import numpy as np

from hktune.space.space import Space

Pair = tuple[tuple[str, int], tuple[str, int]]


class _Pairs:
    """Integer ids for every (param i < param j, value of i, value of j)."""

    def __init__(self, space: Space, factors: Sequence[str]):
        by_name = {p.name: p for p in space.params}
        unknown = [f for f in factors if f not in by_name]
        if unknown:
            raise ValueError(f"unknown param(s) {', '.join(unknown)}")
        self.factors = list(factors)
        self.values = [list(by_name[f].values) for f in self.factors]
        self.combos = list(combinations(range(len(self.factors)), 2))
        sizes = [len(self.values[i]) * len(self.values[j]) for i, j in self.combos]
        self.base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.total = int(self.base[-1])

    def index(self, rows: Iterable[Mapping[str, int]]) -> np.ndarray:
        """(n, factors) value indices of configs."""
        pos = [{v: k for k, v in enumerate(vals)} for vals in self.values]
        out = [[pos[i][int(r[f])] for i, f in enumerate(self.factors)] for r in rows]
        return np.asarray(out, dtype=np.int64).reshape(-1, len(self.factors))

    def ids(self, idx: np.ndarray) -> np.ndarray:
        """(n, pairs) pair ids of value-index rows."""
        cols = [self.base[c] + idx[:, i] * len(self.values[j]) + idx[:, j] for c, (i, j) in enumerate(self.combos)]
        return np.stack(cols, axis=1) if cols else np.zeros((len(idx), 0), dtype=np.int64)

    def name(self, pid: int) -> Pair:
        c = int(np.searchsorted(self.base, pid, side="right")) - 1
        i, j = self.combos[c]
        a, b = divmod(pid - int(self.base[c]), len(self.values[j]))
        return (self.factors[i], self.values[i][a]), (self.factors[j], self.values[j][b])


def _valid(space: Space) -> list[dict]:
    return space.enumerate()


def _mask(ids: np.ndarray, total: int) -> np.ndarray:
    m = np.zeros(total, dtype=bool)
    m[ids.ravel()] = True
    return m


def feasible_pairs(space: Space, factors: Sequence[str] | None = None) -> set[Pair]:
    """Every pair of values that some valid config has."""
    pairs = _Pairs(space, factors or space.names)
    return {pairs.name(int(p)) for p in np.flatnonzero(_mask(pairs.ids(pairs.index(_valid(space))), pairs.total))}


def uncovered(space: Space, rows: Iterable[Mapping[str, int]], factors: Sequence[str] | None = None) -> list[Pair]:
    """The feasible pairs that no row has."""
    pairs = _Pairs(space, factors or space.names)
    need = _mask(pairs.ids(pairs.index(_valid(space))), pairs.total)
    rows = list(rows)
    have = _mask(pairs.ids(pairs.index(rows)), pairs.total) if rows else np.zeros(pairs.total, dtype=bool)
    return [pairs.name(int(p)) for p in np.flatnonzero(need & ~have)]


def covering_array(space: Space, *, factors: Sequence[str] | None = None, start: Iterable[Mapping[str, int]] = (),
                   exclude: Iterable[Mapping[str, int]] = ()) -> list[dict]:
    """Valid configs (not in start, not in exclude) that, with `start`, cover every feasible pair
    that some non-excluded valid config can cover. Deterministic."""
    names = space.names
    pairs = _Pairs(space, factors or names)
    valid = _valid(space)
    ids = pairs.ids(pairs.index(valid))
    start = [dict(r) for r in start]
    covered = _mask(pairs.ids(pairs.index(start)), pairs.total) if start else np.zeros(pairs.total, dtype=bool)
    skip = {tuple(int(r[k]) for k in names) for r in [*start, *exclude]}
    allowed = np.array([tuple(c[k] for k in names) not in skip for c in valid], dtype=bool)
    need = _mask(ids[allowed], pairs.total) & ~covered
    out: list[dict] = []
    while need.any():
        gain = np.where(allowed, need[ids].sum(axis=1), -1)
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        out.append(valid[best])
        allowed[best] = False
        need[ids[best]] = False
    return out


def parse_slice(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N; ValueError otherwise."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--slice wants I/N (two integers), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--slice {text}: want 0 <= I < N")
    return i, n


__all__ = ["covering_array", "feasible_pairs", "uncovered", "parse_slice", "Pair"]
