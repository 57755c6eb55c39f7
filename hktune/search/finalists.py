"""Finalists: the best few configs of a study are re-measured (each race-hunted again) and the
re-measure decides the table's entry, so one lucky or unlucky timing never picks the winner."""
from __future__ import annotations

from typing import Any

from optuna.trial import TrialState

from hktune.search.problem import config_key, config_string
from hktune.space.space import Config


def rerank(search: Any) -> None:
    opts = search.opts
    if opts.finalists < 2:
        return
    done = [t for t in search.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "duplicate_of" not in t.user_attrs and t.user_attrs.get("config")
            and config_key(t.user_attrs["config"]) not in search.recorder.unsafe_keys()]
    top = sorted(done, key=lambda t: t.value, reverse=True)[: opts.finalists]
    if len(top) < 2:
        return
    best: tuple[float, Config, dict[str, Any]] | None = None
    for t in top:
        cfg = {k: int(v) for k, v in t.user_attrs["config"].items()}
        outcome = search.builder.build(cfg)
        if not outcome.usable:
            continue
        res = search.worker.evaluate(outcome.artifact, config_string(search.space, cfg), *search.shape)
        if res.get("ok"):
            res = search._hunt(search.worker, cfg, outcome, res)
        if not res.get("ok"):
            # A finalist that fails now (a race, a wrong result) is marked in the study, so it
            # never warm-starts another shape and never becomes anyone's best.
            search.recorder.mark_unsafe(cfg, search.dists, str(res.get("reason")), t.number)
            search._observe(cfg, None)
            continue
        value = search._objective(res)
        if best is None or value > best[0]:
            best = (value, cfg, res)
    if best is not None:
        _, cfg, res = best
        search.summary.best = {"config": cfg, **{k: res.get(k) for k in ("tflops", "median_us", "spread", "error",
                                                                          "vendor_tflops", "vendor_us", "ratio")},
                               "finalists": len(top)}
        search._record(cfg, res, final=True)
