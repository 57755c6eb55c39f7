"""Warm start (hktune/search/warm.py): nearby shapes of this arch, and the same family's studies on
its other archs counted ARCH_DISTANCE farther, nearest first; failed configs never.

Studies are named per space: a search over an opt-in space opens a study of its own (``...-MxNxK@<stem>``) beside the
family space's, whose trials were made over other knob values (it used to refuse the opt-in search: "made with another
version of the space"), and both warm-start each other. A config that failed in any study of the family and dtype, on
any shape, warm-starts nothing, and neither does a table entry of it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from hktune.family.family import discover
from hktune.search import warm
from hktune.search.problem import config_key
from hktune.target import make_target, resolve_target

ROOT = Path(__file__).resolve().parent.parent


def study(storage, name: str, rows: list[tuple[dict, float | None]]) -> None:  # noqa: ANN001
    s = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for cfg, value in rows:
        d = {k: CategoricalDistribution([v]) for k, v in cfg.items()}
        state = TrialState.COMPLETE if value is not None else TrialState.FAIL
        s.add_trial(create_trial(params=cfg, distributions=d, value=value, state=state, user_attrs={"config": cfg}))


def test_other_archs_of_the_family_come_after_this_archs_neighbours():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.storages.InMemoryStorage()
    study(st, "cuda-sm_90-bf16-2048x2048x2048", [({"B": 64}, 1.0)])
    study(st, "cuda-sm_80-bf16-4096x4096x4096", [({"B": 128}, 0.9), ({"B": 256}, None)])
    study(st, "thunderkittens-sm_90-bf16-4096x4096x4096", [({"B": 512}, 1.1)])   # another family: never
    study(st, "cuda-sm_80-fp8-4096x4096x4096", [({"B": 32}, 1.2)])                 # another dtype: never
    target = make_target(discover()["cuda"], "sm_90")
    got = warm.candidates(st, target, "cuda-sm_90-bf16-4096x4096x4096", (4096, 4096, 4096), None)
    # by distance: the same shape on sm_80 (ARCH_DISTANCE = 2) before a 2x smaller shape on sm_90 (3)
    assert [(d, c["B"], where) for d, _, c, where in got] == [
        (warm.ARCH_DISTANCE, 128, "cuda-sm_80-bf16-4096x4096x4096"),
        (3.0, 64, "cuda-sm_90-bf16-2048x2048x2048"),
    ]
    assert 256 not in [c["B"] for _, _, c, _ in got]           # failed on sm_80: not a candidate


FAST = {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 256, "MICRO_M": 4, "SCHEDULE": 0}
RACY = {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 64, "MICRO_M": 2, "SCHEDULE": 1}
SLOW = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 64, "MICRO_M": 1, "SCHEDULE": 0}


def _opt(tmp_path: Path) -> Path:
    opt = tmp_path / "wide-host.yaml"
    opt.write_text(f"extends: {ROOT / 'configs' / 'host.yaml'}\nparams: {{BLOCK_M: [16, 32, 64, 128, 256]}}\n")
    return opt


def test_an_opt_in_space_names_its_study_and_the_family_space_keeps_the_old_name(tmp_path):
    assert resolve_target("host").study_name(64, 64, 128) == "host-host-bf16-64x64x128"
    assert resolve_target("host", space_file=_opt(tmp_path)).study_name(64, 64, 128) == "host-host-bf16-64x64x128@wide-host"


def test_warm_start_reads_other_spaces_and_drops_configs_that_failed_anywhere(tmp_path):
    storage = optuna.storages.InMemoryStorage()
    target = resolve_target("host", space_file=_opt(tmp_path))
    own = target.study_name(64, 64, 128)
    study(storage, "host-host-bf16-64x64x128", [(FAST, 3.0), (SLOW, 1.0)])         # the family space, same shape
    study(storage, "host-host-bf16-128x64x128@wide-host", [(RACY, 9.0)])           # fast here ...
    study(storage, "host-host-bf16-64x128x128", [(RACY, None)])                    # ... failed on another shape
    study(storage, own, [(SLOW, 5.0)])                                             # its own trials: never a candidate
    study(storage, "cuda-sm_90-bf16-64x64x128", [(SLOW, 7.0)])                     # another family
    table = tmp_path / "t.yaml"
    entry = {"key": {"family": "host", "arch": "host", "dtype": "bf16", "layout": "ABt", "m": 256, "n": 64, "k": 64},
             "config": RACY, "tflops": 0.02, "time_us": 25.0, "spread": 0.01, "vendor": {"name": "torch.matmul", "tflops": 0.01},
             "ratio": 2.0, "ratio_lo": 1.9, "ratio_hi": 2.1, "error": 0.002, "trials": 2, "date": "2026-12-05T00:00:00+00:00",
             "device": {"name": "CPU", "units": 2, "arch": "host"}, "toolchain": {"compiler": "g++"},
             "template_hash": "0" * 16}
    ok = {**entry, "config": SLOW, "key": {**entry["key"], "m": 128}}
    table.write_text(yaml.safe_dump({"schema": 1, "entries": [entry, ok]}))
    got = warm.candidates(storage, target, own, (64, 64, 128), table)
    assert [(d, config_key(c), where) for d, _, c, where in got] == [
        (0.0, config_key(FAST), "host-host-bf16-64x64x128"), (0.0, config_key(SLOW), "host-host-bf16-64x64x128"),
        (warm.shape_distance((128, 64, 64), (64, 64, 128)), config_key(SLOW), "table")]


@pytest.mark.slow
def test_a_search_over_an_opt_in_space_after_the_family_space_in_one_storage(tmp_path):
    env = {**os.environ, "HKTUNE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "hktune", "search", "--arch", "host", "--m", "64", "--n", "64", "--k", "128",
            "--storage", f"sqlite:///{tmp_path / 's.db'}", "--table", str(tmp_path / "t.yaml"), "--quiet"]
    for extra in ([], ["--space", str(_opt(tmp_path))]):
        r = subprocess.run(base + ["--trials", "2"] + extra, capture_output=True, text=True, cwd=tmp_path, env=env,
                           timeout=600)
        assert r.returncode == 0, r.stderr
    assert re.search(r"warm-started from nearby shapes\s+2\n", r.stdout), r.stdout   # the family space's two configs, run first under the opt-in space
    names = {s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 's.db'}")}
    assert names == {"host-host-bf16-64x64x128", "host-host-bf16-64x64x128@wide-host"}
