"""A space's analytical prior (hktune/space/prior.py) and how the model strategy uses it: the
prior orders a cold search, measurements overrule it. Structural facts and exact arithmetic only;
how good a prior is on real landscapes is bench/replay.py's business."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hktune.search.problem import config_key
from hktune.search.strategies.model import ModelStrategy
from hktune.space.prior import estimate
from hktune.space.space import SpaceError, load_space

ROOT = Path(__file__).resolve().parent.parent

SPACE = """
family: toy
params:
  TILE: [16, 32, 64, 128]
  DEPTH: [1, 2, 3, 4]
derived:
  BYTES: TILE * DEPTH
limits:
  x: {units: 4}
prior:
  TILES: ceil_div(M, TILE)
  WAVE: TILES / (ceil_div(TILES, units) * units)
  SCORE: WAVE * min(DEPTH, 2) + BYTES / 16 + 0.5
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(text)
    return p


def test_estimate_is_the_last_step_over_params_derived_limits_and_shape(tmp_path: Path):
    space = load_space(write(tmp_path, SPACE), "x")
    cfgs = [{"TILE": 16, "DEPTH": 1}, {"TILE": 64, "DEPTH": 3}, {"TILE": 128, "DEPTH": 4}]
    got = estimate(space, cfgs, (320, 64, 64))
    # TILE 16: 20 tiles on 4 units -> 5 full waves; TILE 64: 5 tiles -> 2 waves, 5/8; TILE 128: 3 tiles -> 3/4
    want = [1.0 * 1 + 1 + 0.5, 0.625 * 2 + 12 + 0.5, 0.75 * 2 + 32 + 0.5]
    assert got.tolist() == pytest.approx(want)
    assert estimate(space, cfgs, (4096, 64, 64)).tolist() == pytest.approx([2.5, 14.5, 34.5])  # a new shape, new values


def test_space_without_prior_has_no_estimate():
    space = load_space(ROOT / "configs" / "host.yaml", "host")
    assert estimate(space, space.enumerate()[:3], (64, 64, 64)) is None


@pytest.mark.parametrize("bad, message", [
    ("prior:\n  SCORE: TILE * NOPE\n", "prior step SCORE uses unknown name(s) NOPE"),
    ("prior:\n  SCORE: TILE\n  EXTRA: TILE\n", "the last step of 'prior' must be named SCORE"),
    ("prior:\n  SCORE: TILE.real\n", "is not allowed"),
])
def test_bad_prior_is_refused_in_one_line(tmp_path: Path, bad: str, message: str):
    text = SPACE.split("prior:")[0] + bad
    with pytest.raises(SpaceError) as e:
        load_space(write(tmp_path, text), "x")
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("family, arch", [("cuda", "sm_90"), ("cuda", "sm_80"), ("thunderkittens", "sm_90"),
                                          ("hipkittens", "gfx950"), ("hipkittens", "gfx942")])
def test_shipped_priors_rate_every_valid_config(family: str, arch: str):
    space = load_space(ROOT / "configs" / f"{family if family == 'cuda' else family + '-' + arch}.yaml", arch)
    for shape in [(4096, 4096, 4096), (1024, 8192, 8192), (128, 128, 64)]:
        valid = space.enumerate(shape)
        if not valid:
            continue
        score = estimate(space, valid, shape)
        assert score.shape == (len(valid),) and (score > 0).all()
        if shape == (4096, 4096, 4096):
            assert len(set(score.tolist())) > 5   # it discriminates


# -- the model strategy with a prior ---------------------------------------------------------------
def cuda():
    space = load_space(ROOT / "configs" / "cuda.yaml", "sm_90")
    shape = (4096, 4096, 4096)
    return space, space.enumerate(shape)[:600], shape


def drive(s: ModelStrategy, truth: dict[str, float], n: int) -> list[str]:
    order = []
    while len(order) < n:
        got = s.ask(1)
        if not got:
            break
        for c in got:
            order.append(config_key(c))
            s.observe(c, truth[config_key(c)])
    return order


def test_a_cold_search_starts_in_the_priors_best_band():
    space, valid, shape = cuda()
    s = ModelStrategy(space, valid, seed=0, shape=shape)
    assert s.prior is not None and s.n_init == 3
    score = estimate(space, valid, shape)
    first = s.ask(3)
    idx = [s.index[config_key(c)] for c in first]
    assert all(score[i] >= 0.9 * score.max() for i in idx)          # the prior's best 10%...
    assert len({tuple(sorted(c.items())) for c in first}) == 3      # ... spread out, no repeats


def test_measurements_overrule_a_misleading_prior():
    """The truth is the prior upside down: the search still reaches the true best quickly,
    because the model learns the residual (prior + residual = measurement)."""
    space, valid, shape = cuda()
    score = estimate(space, valid, shape)
    truth = {config_key(c): float(1e6 / v) * (1 + 0.001 * (i % 7)) for i, (c, v) in enumerate(zip(valid, score))}
    best = max(truth.values())
    top = sorted(truth.values())[-6]
    for seed in range(3):
        order = drive(ModelStrategy(space, valid, seed=seed, shape=shape), truth, 60)
        assert max(truth[k] for k in order) >= top                     # one of the 6 best of 600 within 60
        assert len(order) == len(set(order))
    without = drive(ModelStrategy(space, valid, seed=0, shape=None), truth, 10)
    assert len(without) == 10 and best > 0


def test_the_prior_is_optional_and_off_without_a_shape():
    space, valid, _ = cuda()
    assert ModelStrategy(space, valid, seed=0).prior is None
    assert ModelStrategy(space, valid, seed=0, shape=(4096,) * 3, use_prior=False).prior is None
    assert not math.isnan(np.sum(ModelStrategy(space, valid, seed=0, shape=(4096,) * 3).prior))


# bench/'s opt-in spaces extend their family space (extends:, since 2026-12-05; before, they copied it, and
# bench/tk-sched.yaml kept TMA latency 1500 after the family's prior moved to 2500): a config both offer must reach the
# compiler with the same values and be rated the same.
OPT_IN = [("bench/tk-sched.yaml", "configs/thunderkittens-sm_90.yaml"),
          ("bench/tk-sched-fp8.yaml", "configs/thunderkittens-sm_90-fp8_e4m3.yaml"),
          ("bench/tk-n144-fp8.yaml", "configs/thunderkittens-sm_90-fp8_e4m3.yaml"),
          ("bench/tk-wide-bf16.yaml", "configs/thunderkittens-sm_90.yaml")]


@pytest.mark.parametrize("opt_in,family", OPT_IN)
def test_opt_in_spaces_agree_with_their_family_space(opt_in: str, family: str):
    opt, fam = load_space(ROOT / opt_in, "sm_90"), load_space(ROOT / family, "sm_90")
    for shape in ((4096, 4096, 4096), (4096, 14336, 4096)):
        both = [c for c in fam.enumerate(shape) if not opt.violations(c) and not opt.shape_violations(c, *shape)]
        assert len(both) > 100
        assert all(opt.defines(c) == fam.defines(c) for c in both[::7])
        np.testing.assert_allclose(estimate(opt, both, shape), estimate(fam, both, shape), rtol=1e-12)
