"""prune: identical_code: configs that compile to the same device code are timed once
(hktune/build/identity.py, hktune/search/driver.py). The real HipKittens case needs the AMD
toolchain and a HipKittens tree (CI has both); the search-side rule runs on fakes."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import optuna
import pytest

from hktune.build.builder import Builder
from hktune.build.identity import code_identity
from hktune.search.driver import Search, SearchOptions
from hktune.search.problem import config_key
from hktune.target import make_target

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from amd_env import needs_hk  # noqa: E402
from tests.fake_search import CachedBuilder, CountingWorker, toy_target  # noqa: E402


@needs_hk
def test_hipkittens_occupancy_that_does_not_bind_compiles_to_the_same_code(tmp_path: Path):
    from amd_env import hipkittens
    from hktune.family.family import resolve

    root, arch = hipkittens()
    fam = resolve(arch, "hipkittens")
    space = fam.space(arch)
    assert space.prune.get("identical_code")
    base = next(c for c in space.enumerate() if c["BLOCK_M"] == 128 and c["BLOCK_N"] == 128)
    twins = [c for c in space.enumerate() if all(c[k] == base[k] for k in space.names if k != "OCCUPANCY")][:2]
    other = next(c for c in space.enumerate() if all(c[k] == base[k] for k in space.names if k != "WGM") and c != base)
    assert len(twins) == 2 and twins[0]["OCCUPANCY"] != twins[1]["OCCUPANCY"]
    with Builder(make_target(fam, arch, space, include_dirs=[root / "include"]), jobs=2, cache=tmp_path / "cache") as b:
        outs = {config_key(o.config): o for o in b.build_many([*twins, other])}
    hashes = [outs[config_key(c)].code_hash for c in (*twins, other)]
    assert all(hashes) and hashes[0] == hashes[1] != hashes[2]
    assert code_identity(outs[config_key(other)].artifact) == hashes[2]


def test_a_host_build_has_no_device_identity(tmp_path: Path):
    p = tmp_path / "lib.so"
    p.write_bytes(b"\x7fELF" + b"\0" * 60)
    assert code_identity(p) is None and code_identity(None) is None


SPACE = """
family: toy
params:
  TILE: [16, 32, 64]
  NOOP: [1, 2, 3]        # does not change the code
prune:
  identical_code: true
"""


@pytest.mark.parametrize("strategy", ["exhaustive", "model"])
def test_a_search_times_each_device_code_once(tmp_path: Path, strategy: str):
    target = toy_target(tmp_path, SPACE)
    worker = CountingWorker()
    storage = str(tmp_path / "s.journal")
    opts = SearchOptions(64, 64, 64, trials=9, sampler=strategy, seed=0, storage=storage, table=None,
                         finalists=0, warm_start=0)
    s = Search(target, CachedBuilder(lambda cfg: f"code-{cfg['TILE']}"), worker, opts)
    summary = s.run()
    tiles = [int(t.split("TILE=")[1].split(",")[0]) for t in worker.timed]
    assert sorted(tiles) == [16, 32, 64]                      # three kernels, each timed once
    assert summary.evaluated == 9 and summary.pruned == 6
    st = optuna.load_study(study_name=s.name, storage=s.storage if not isinstance(s.storage, str) else
                           __import__("hktune.search.storage", fromlist=["open_storage"]).open_storage(s.storage))
    twins = [t for t in st.get_trials() if t.user_attrs.get("same_code_as")]
    assert len(twins) == 6 and all(t.state.name == "PRUNED" for t in twins)
    assert all(str(t.user_attrs["reason"]).startswith("pruned: identical code to") for t in twins)
    # the strategy learnt each twin's result as its own: nothing is left to ask
    assert s.strategy.exhausted() and all(v is not None for v in s.strategy.values.values())
    # a repeated search is answered from the study: nothing new is timed
    again = Search(target, CachedBuilder(lambda cfg: f"code-{cfg['TILE']}"), CountingWorker(), opts)
    assert again.finished()
    assert json.dumps(sorted(again.seen.values())) == json.dumps(sorted(s.seen.values()))
