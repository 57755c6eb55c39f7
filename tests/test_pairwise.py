"""Pairwise covering arrays: coverage proven by brute force on both hipkittens spaces."""
from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from hktune.family.family import load_family
from hktune.space import pairwise as pw
from hktune.space.space import load_space

ROOT = Path(__file__).resolve().parents[1]


def _pairs(space, config):
    """Every pair of (param, value) of one config, by plain Python (independent of pairwise._Pairs)."""
    items = [(n, int(config[n])) for n in space.names]
    return set(combinations(items, 2))


@pytest.fixture(scope="module", params=["gfx950", "gfx942"])
def space(request):
    return load_family(ROOT / "kernels" / "hipkittens").space(request.param)


_COUNTS: dict = {}


def _counts(space) -> Counter:
    """How many valid configs have each pair (computed once per space)."""
    if space.arch not in _COUNTS:
        _COUNTS[space.arch] = Counter(p for c in space.enumerate() for p in _pairs(space, c))
    return _COUNTS[space.arch]


def _seeds(space):
    out = []
    for s in space.seeds:
        c = {k: int(s[k]) for k in space.names}
        if c not in out:
            out.append(c)
    return out


def test_covering_array_covers_every_feasible_pair(space):
    valid = space.enumerate()
    feasible = set(_counts(space))
    seeds = _seeds(space)
    rows = pw.covering_array(space, start=seeds)
    covered = set().union(*(_pairs(space, c) for c in seeds + rows))
    assert feasible <= covered, sorted(feasible - covered)[:5]
    assert all(not space.violations(r) for r in rows)  # every row is a valid config
    assert len({tuple(r.values()) for r in rows + seeds}) == len(rows) + len(seeds)  # no repeats
    assert pw.feasible_pairs(space) == feasible and pw.uncovered(space, seeds + rows) == []
    # far fewer rows than configs, and at least the largest pair of domains
    sizes = sorted(len(p.values) for p in space.params)
    assert sizes[-1] * sizes[-2] <= len(rows) + len(seeds) < len(valid) // 100


def test_covering_array_is_deterministic_and_infeasible_pairs_are_not_asked(space):
    assert pw.covering_array(space) == pw.covering_array(space)
    by_name = {p.name: p.values for p in space.params}
    every = {((a, x), (b, y)) for a, b in combinations(space.names, 2) for x in by_name[a] for y in by_name[b]}
    assert pw.feasible_pairs(space) < every  # the constraints rule some pairs out; none of those is required


def test_exclude_gives_replacements_for_rejected_rows(space):
    rows = pw.covering_array(space)
    dropped = rows[:3]
    kept = rows[3:]
    extra = pw.covering_array(space, start=kept, exclude=dropped)
    assert not ({tuple(r.values()) for r in extra} & {tuple(r.values()) for r in dropped})
    lost = set(pw.uncovered(space, kept))
    assert lost and set(pw.uncovered(space, kept + extra)) <= lost
    # whatever stays uncovered has no valid config outside `dropped`
    reachable = set(+(_counts(space) - Counter(p for c in dropped for p in _pairs(space, c))))
    assert not (set(pw.uncovered(space, kept + extra)) & reachable)


def test_small_space_by_hand(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("family: t\nparams:\n  A: [0, 1, 2]\n  B: [0, 1]\n  C: [0, 1]\nconstraints:\n  - A != 2 or B == 0\n")
    sp = load_space(f, "x")
    rows = pw.covering_array(sp)
    assert ((("A", 2), ("B", 1))) not in pw.feasible_pairs(sp)
    assert pw.uncovered(sp, rows) == [] and 6 <= len(rows) <= 7
    assert pw.uncovered(sp, rows[:-1])  # minimal-ish: dropping the last row loses a pair


@pytest.mark.parametrize("text,want", [("0/3", (0, 3)), ("2/3", (2, 3))])
def test_parse_slice(text, want):
    assert pw.parse_slice(text) == want


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_parse_slice_rejects(text):
    with pytest.raises(ValueError):
        pw.parse_slice(text)


def test_bench_plan_resumes_and_replaces_rejected_rows():
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    import pairwise as bench  # bench/pairwise.py

    sp = load_family(ROOT / "kernels" / "hipkittens").space("gfx942")
    first = bench.plan(sp, [])
    assert first[:len(_seeds(sp))] == _seeds(sp) and pw.uncovered(sp, first) == []
    # half done: the plan is unchanged (a resumed run continues with the rest)
    recs = [{"config": c, "status": "passed", "body": "b"} for c in first[:10]]
    assert bench.plan(sp, recs) == first
    # all done, one rejected: replacement rows cover what only it had, and never repeat it
    bad = first[-1]
    recs = [{"config": c, "status": "rejected" if c == bad else "passed", "body": None if c == bad else "b"} for c in first]
    again = bench.plan(sp, recs)
    extra = again[len(first):]
    assert again[:len(first)] == first and bad not in extra
    assert pw.uncovered(sp, [c for c in first if c != bad] + extra) == []
