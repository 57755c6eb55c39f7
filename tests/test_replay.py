"""The replay benchmark drives the real search loop over a recorded landscape; and the model
strategy's own contract (deterministic per seed, never repeats, steers around failures, diverse
batches). Structural facts only: which strategy is better is not asserted on a toy landscape."""
from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from hktune.search import strategies
from hktune.search.problem import config_key
from hktune.search.strategies.model import ModelStrategy, forest_predict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import replay  # noqa: E402


def toy_rows(fail_every: int = 0) -> list[dict]:
    """40 configs of a made-up 3-knob kernel with a smooth optimum; some failures."""
    rows = []
    for i, (a, b, c) in enumerate(itertools.product([16, 32, 64, 128, 256], [1, 2, 4, 8], [0, 1])):
        tflops = 100 + 50 * math.exp(-((math.log2(a) - 6) ** 2) / 2) + 20 * math.exp(-((b - 4) ** 2) / 4) + 7 * c
        if fail_every and i % fail_every == 3:
            tflops = None
        rows.append({"config": {"TILE": a, "SPLIT": b, "SWIZZLE": c}, "tflops": tflops, "vendor_tflops": 200.0})
    return rows


@pytest.fixture
def toy(tmp_path: Path) -> replay.Landscape:
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"shape": [1024, 1024, 1024], "family": "no-such-family", "rows": toy_rows(fail_every=9)}))
    return replay.load_landscape(path)


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_replay_through_the_real_search_loop(toy: replay.Landscape, name: str):
    results = {}
    for seed in range(2):
        trace = replay.replay_hktune(toy, name, seed, budget=25, min_evals=25)
        keys = [k for k, _ in trace]
        assert len(keys) == len(set(keys)) == 25                       # unique, and the budget is kept
        assert all(k in toy.values for k in keys)                      # only recorded (valid) configs
        m = replay.measures(toy, trace)
        found = max(v for _, v in trace if v is not None)
        assert m["at90"] == pytest.approx(found / toy.best)            # best found = max over the evaluated
        results.setdefault(name, []).append(m)
    summary = {name: replay.summarise(ms) for name, ms in results.items()}
    md = replay.markdown(summary)
    header = md.splitlines()[0]
    for col in replay.COLUMNS:
        assert col in header
    assert name in md


def test_replay_warm_start_comes_first(toy: replay.Landscape):
    warm = toy.best_configs(3)
    trace = replay.replay_hktune(toy, "model", 0, prefer=warm, budget=6, min_evals=6)
    assert [k for k, _ in trace[:3]] == [config_key(c) for c in warm]


def test_bare_list_landscape_loads(tmp_path: Path):
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(toy_rows()))
    land = replay.load_landscape(path, shape=(512, 512, 512))
    assert land.shape == (512, 512, 512) and len(land.rows) == 40 and len(land.top()) == 1


# -- the model strategy on its own -----------------------------------------------------------------
def cuda_space(n: int = 400):
    from hktune.space.space import load_space

    space = load_space(ROOT / "configs" / "cuda.yaml", "sm_90")
    return space, space.enumerate((4096, 4096, 4096))[:n]


def objective(cfg: dict) -> float:
    return 100.0 + cfg["BLOCK_M"] / 8 + cfg["BLOCK_N"] / 16 + 5 * cfg["PREFETCH"] - 3 * abs(cfg["WARPS_M"] - 2)


def drive(strategy: ModelStrategy, n: int, batch: int = 1, fail=lambda c: False) -> list[str]:  # noqa: ANN001
    order = []
    while len(order) < n:
        got = strategy.ask(batch)
        if not got:
            break
        for c in got:
            order.append(config_key(c))
            strategy.observe(c, None if fail(c) else objective(c))
    return order


def test_model_is_deterministic_per_seed():
    space, valid = cuda_space()
    a = drive(ModelStrategy(space, valid, seed=3), 30)
    b = drive(ModelStrategy(space, valid, seed=3), 30)
    c = drive(ModelStrategy(space, valid, seed=4), 30)
    assert a == b and a != c


def test_model_never_repeats_and_exhausts():
    space, valid = cuda_space(60)
    order = drive(ModelStrategy(space, valid, seed=0), 100, batch=4)
    assert len(order) == len(set(order)) == 60


def test_model_first_picks_are_not_index_order():
    space, valid = cuda_space()
    s = ModelStrategy(space, valid, seed=0)
    first = [s.index[config_key(c)] for c in s.ask(6)]
    assert first != list(range(6))


def test_model_steers_away_from_failures():
    space, valid = cuda_space()
    fails = lambda c: c["PREFETCH"] >= 3  # noqa: E731 - half the space fails
    s = ModelStrategy(space, valid, seed=0)
    order = drive(s, 40, fail=fails)
    later = [s.valid[s.index[k]] for k in order[20:]]
    assert sum(fails(c) for c in later) < len(later) / 2
    assert s.best() is not None and s.best()[1] == max(objective(c) for c in (s.valid[s.index[k]] for k in order)
                                                       if not fails(c))


def test_model_batch_asks_are_diverse():
    space, valid = cuda_space()
    s = ModelStrategy(space, valid, seed=0)
    drive(s, 12)
    batch = s.ask(8)
    assert len({config_key(c) for c in batch}) == 8
    knobs = np.array([[c[n] for n in space.names] for c in batch])
    # not eight one-knob variations of one config: the batch spans several values of some knob
    # besides the one varied most
    spans = sorted((len(set(col)) for col in knobs.T), reverse=True)
    assert spans[1] >= 2


def test_model_learns_from_preferred_configs():
    space, valid = cuda_space()
    s = ModelStrategy(space, valid, seed=0)
    warm = sorted(valid, key=objective, reverse=True)[:6]  # as many as the initial design: the model decides next
    s.prefer(warm)
    got = s.ask(6)
    assert [config_key(c) for c in got] == [config_key(c) for c in warm]
    for c in got:
        s.observe(c, objective(c))
    nxt = s.ask(3)
    assert all(config_key(c) not in {config_key(w) for w in warm} for c in nxt)
    idx, y = s._training_set()           # the warm results are the model's training set
    assert sorted(idx.tolist()) == sorted(s.index[config_key(w)] for w in warm) and len(y) == 6


def test_forest_is_fast_and_fits():
    rng = np.random.default_rng(0)
    x = rng.random((2000, 20))
    f = x[:, 0] * 2 - x[:, 1]
    idx = rng.choice(2000, 200, replace=False)
    p = forest_predict(x[idx], f[idx], x, 48, 6, rng)
    assert p.shape == (48, 2000)
    assert np.corrcoef(p.mean(axis=0), f)[0, 1] > 0.9
