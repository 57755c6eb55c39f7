"""Warm start (hktune/search/warm.py): nearby shapes of this arch, and the same family's studies on
its other archs counted ARCH_DISTANCE farther, nearest first; failed configs never."""
from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from hktune.family.family import discover
from hktune.search import warm
from hktune.target import make_target


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
