"""Warm start: configs that were fast on nearby shapes (other studies of the same family, arch and
dtype in the same storage, over any space, the same shape's study over another space counting as distance 0, and
the table's entries), nearest shape first; then the same family's
studies on its other archs (e.g. cuda sm_80 for sm_90), counted ARCH_DISTANCE farther, whose
configs the driver keeps only where the knobs and values are valid here. Only configs that were
verified there are used; a config that failed or was marked unsafe in any of those studies, on any shape, never
warm-starts another shape (nor does a table entry of it)."""
from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from hktune.record import table as tbl
from hktune.search.problem import config_key, shape_distance
from hktune.space.space import Config
from hktune.target import Target

ARCH_DISTANCE = 2.0   # another arch of the family counts like a shape 4x away in one dimension


def candidates(storage: optuna.storages.BaseStorage | str, target: Target, own: str, shape: tuple[int, int, int],
               table: Path | None) -> list[tuple[float, float, Config, str]]:
    """(shape distance, -objective, config, where), best first."""
    out: list[tuple[float, float, Config, str]] = []
    prefix, family, arch, dtype = target.study_prefix(), target.name, target.arch, target.dtype.name
    suffix = prefix[len(f"{family}-{arch}-"):]            # "<dtype>-" (and the layout when not A.Bt)
    complete = target.space.complete     # a param added since a config was stored: its legacy value
    studies: list[tuple[str, tuple[int, ...], float, list]] = []
    bad: set[str] = set()      # failed or unsafe in any study of this family and dtype (this one's too), on any shape
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name = summary.study_name
        name_shape = name.partition("@")[0]    # a study of an opt-in space: <family>-<arch>-<dtype>-MxNxK@<space>
        if name_shape.startswith(prefix):
            rest, penalty = name_shape[len(prefix):], 0.0
        else:   # the same family and dtype on another arch: family-<arch>-<dtype>-MxNxK
            head, _, rest = name_shape.rpartition("-")
            if not head.startswith(f"{family}-") or not (head + "-").endswith("-" + suffix) or head.count("-") != prefix.count("-") - 1:
                continue
            penalty = ARCH_DISTANCE
        try:
            other = tuple(int(x) for x in rest.split("x"))
        except ValueError:
            continue
        if len(other) != 3:
            continue
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
        bad |= {config_key(t.user_attrs["config"]) for t in trials
                if t.user_attrs.get("config") and (t.user_attrs.get("unsafe") or t.state == TrialState.FAIL)}
        if name != own:
            studies.append((name, other, penalty, trials))
    for name, other, penalty, trials in studies:
        done = [t for t in trials if t.state == TrialState.COMPLETE and t.user_attrs.get("config")
                and config_key(t.user_attrs["config"]) not in bad]
        for t in sorted(done, key=lambda t: t.value, reverse=True)[:3]:
            out.append((shape_distance(other, shape) + penalty, -t.value, complete(t.user_attrs["config"]), name))
    if table is not None:
        for e in tbl.load(table):
            k = e.key
            if (k.family, k.arch, k.dtype) == (family, arch, dtype) and (k.m, k.n, k.k) != shape \
                    and config_key(e.config) not in bad:
                out.append((shape_distance((k.m, k.n, k.k), shape), -e.tflops, complete(e.config), "table"))
    return sorted(out, key=lambda x: (x[0], x[1]))
