"""Finalists decided by a tournament: the study's best few configs (k >= 5 by default) are each
race-hunted again, then re-measured in interleaved paired rounds with the vendor BLAS in every
measurement (hktune.search.tournament); the winner goes into the table with its tournament.

The winner's figures come from fresh, independent measurements after the tournament
(hktune.search.confirm: no winner's curse, a measured noise floor, ties inside it).

The space's seeds play as well, but no finalist past the first two whose own trial's CI lies wholly below
the best trial's CI: the tournament's racing rule, applied to what the trials measured, so a seed already shown
behind does not cost six rounds of a tournament it cannot win (on an H100, 12 finalists took 45-84 s a shape).

This is the one definition of a study's best: the winner is stored on the study (user attribute
``best``) and in the table, and `show`, `report`, the header and warm start all read it from there.
A finalist that fails race hunting or a re-check is marked unsafe in the study: never a best,
never a warm start. On NVIDIA, the winner also runs once under compute-sanitizer (racecheck and
synccheck) at a small legal shape when the tool is present (hktune.search.sanitize: a verdict is
kept with the build and reused); the verdict goes into provenance."""
from __future__ import annotations

import math
import time
from typing import Any

from optuna.trial import TrialState

from hktune.record.figures import finite
from hktune.search.confirm import Confirmed, confirm
from hktune.search.sanitize import sanitize
from hktune.search.problem import config_key, config_string
from hktune.search.tournament import run_tournament

ROUND_MS = {"gpu": 300.0, "host": 60.0}   # timed work per finalist per round
MAX_ROUNDS = {"gpu": 30, "host": 6}


def candidates(search: Any) -> list[tuple[dict[str, int], float, Any]]:
    """The study's best few (config, value, trial), best first, then the space's seeds that were timed."""
    unsafe = search.recorder.unsafe_keys()
    done = [t for t in search.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("config")
            and config_key(t.user_attrs["config"]) not in unsafe]
    best: dict[str, tuple[dict[str, int], float, Any]] = {}
    for t in done:
        cfg = {k: int(v) for k, v in t.user_attrs["config"].items()}
        key = config_key(cfg)
        if key not in best or t.value > best[key][1]:
            best[key] = (cfg, t.value, t)
    top = sorted(best.values(), key=lambda x: -x[1])[: search.opts.finalists]
    # The space's seeds (e.g. the library's shipped choices) play too: a search never ends on a
    # config that a re-measure would put behind the hand-tuned one.
    seeds = {config_key({k: int(v) for k, v in s.items() if k in search.space.names}) for s in search.space.seeds}
    chosen = {config_key(c) for c, _, _ in top}
    return top + [x for key, x in best.items() if key in seeds and key not in chosen]


def contenders(entries: list[tuple[dict[str, int], float, Any]]) -> list[tuple[dict[str, int], float, Any]]:
    """``entries`` (config, value, trial) best first, less those past the first two whose trial's ratio CI lies wholly
    below the first's (the tournament's racing rule on the trials' own CIs); all of them where the first has no CI."""
    if len(entries) < 3:
        return entries
    lead = _ci(entries[0][2])[0]
    if not math.isfinite(lead):
        return entries
    return entries[:2] + [e for e in entries[2:] if not _ci(e[2])[1] < lead]


def _ci(trial: Any) -> tuple[float, float]:
    """A trial's ratio CI (lo, hi); (nan, nan) where it has none."""
    lo, hi = (trial.user_attrs.get(k) for k in ("ratio_lo", "ratio_hi"))
    return (float(lo), float(hi)) if finite(lo) and finite(hi) else (math.nan, math.nan)


def decide(search: Any) -> None:
    """Run the tournament and record its winner (nothing to do with fewer than two finalists)."""
    opts = search.opts
    if opts.finalists < 2:
        return  # no tournament asked for (replays, scaling runs): the search's own best stands
    kind = "host" if search.family.target == "host" else "gpu"
    t0 = time.perf_counter()
    ready = _ready(search)
    if len(ready) < 2:
        return
    last: dict[str, dict[str, Any]] = {}

    def measure(item: tuple[dict[str, int], Any]) -> float:
        cfg, outcome = item
        res = search.worker.evaluate(outcome.artifact, config_string(search.space, cfg), *search.shape,
                                     inputs=1, back_to_back=1, budget_ms=ROUND_MS[kind])
        if not res.get("ok"):
            _unsafe(search, cfg, "failed a re-check in the tournament: " + str(res.get("reason")))
            return 0.0  # out of the race
        last[config_key(cfg)] = res
        return float(search.objective(res))

    rounds = min(opts.tournament_rounds, MAX_ROUNDS[kind])
    result = run_tournament(ready, measure, min_rounds=min(6, rounds), max_rounds=rounds)
    phases = search.summary.phases
    phases["tournament"] = time.perf_counter() - t0
    cfg, _ = result.winner.finalist
    if last.get(config_key(cfg)) is None or config_key(cfg) in search.recorder.unsafe_keys():
        return
    t0 = time.perf_counter()
    chosen = _confirmed(search, result)
    phases["confirm"] = time.perf_counter() - t0
    if chosen is not None:
        _record_winner(search, *chosen, result, len(ready), kind)


def _ready(search: Any) -> list[tuple[dict[str, int], Any]]:
    """The finalists that build and survive race hunting (the others are marked unsafe)."""
    pool = candidates(search)
    chosen = contenders(pool)
    search.summary.left_out = len(pool) - len(chosen)
    ready = []
    for cfg, _, _ in chosen:
        outcome = search.builder.build(cfg)
        if not outcome.usable:
            continue
        hunt = search.hunt(search.worker, cfg, outcome, {"ok": True})
        if not hunt.get("ok"):
            _unsafe(search, cfg, str(hunt.get("reason")))
            continue
        ready.append((cfg, outcome))
    return ready


def _confirmed(search: Any, result: Any) -> tuple[dict[str, int], Any, Confirmed] | None:
    """The entry's figures: fresh, independent measurements of the winner and the runner-up
    (hktune.search.confirm): the ratio is not the best of the noisy ones that selected it, the noise
    floor is measured, and a lead inside it is a tie. None when the winner failed one."""
    cfg, outcome = result.winner.finalist
    runner = next((s.finalist for s in result.ranking if s.finalist is not result.winner.finalist
                   and config_key(s.finalist[0]) not in search.recorder.unsafe_keys()), None)

    def fresh(item: tuple[dict[str, int], Any]) -> dict[str, Any]:
        # A config that finished its trials within the trial timeout is not hanging: a full
        # measurement on a loaded machine gets twice that.
        c, o = item
        limit = getattr(search.worker, "timeout_s", None)
        return search.worker.evaluate(o.artifact, config_string(search.space, c), *search.shape, fresh=True,
                                      timeout_s=2 * limit if limit else None)

    conf = confirm(result.winner.finalist, runner, fresh)
    if conf.failed and conf.failed.startswith("runner-up") and runner is not None:
        _unsafe(search, runner[0], "failed a fresh re-measure: " + conf.failed)
        runner = None
        conf = confirm(result.winner.finalist, None, fresh)
    if conf.failed:
        _unsafe(search, cfg, "failed a fresh re-measure: " + conf.failed)
        return None
    if conf.overturned and runner is not None:
        cfg, outcome = runner
    return cfg, outcome, conf


def _record_winner(search: Any, cfg: dict[str, int], outcome: Any, conf: Confirmed, result: Any, n_ready: int,
                   kind: str) -> None:
    """The sanitizer verdict, then the entry (the fresh figures with the tournament's ranking) and
    the study's one ``best``."""
    res = conf.result
    ranking = [{"config": s.finalist[0], "ratio": round(s.ratio, 4),
                "ratio_lo": round(s.estimate.lo, 4) if math.isfinite(s.estimate.lo) else None,
                "ratio_hi": round(s.estimate.hi, 4) if math.isfinite(s.estimate.hi) else None} for s in result.ranking]
    tie = result.tie or conf.tie
    tour = {"finalists": n_ready, "rounds": result.rounds, "tie": tie,
            "separated_by": "tie (within the noise floor)" if conf.tie and not result.tie else (result.separated_by or "tie"),
            "ranking": ranking}
    extra = {"tournament": tour, "confirm": conf.summary(), "noise": round(conf.noise, 5)}
    t0 = time.perf_counter()
    san = sanitize(outcome.artifact, search.space, cfg, search.target.dtype.name, search.family.sanitizer_known) \
        if kind == "gpu" and search.opts.sanitize else None
    if san is not None:
        search.summary.phases["sanitizer"] = time.perf_counter() - t0
    if san:
        extra["sanitizer"] = san
        if any(not v.startswith(("ok", "not run")) for v in san.values()):
            _unsafe(search, cfg, f"compute-sanitizer: {san}")
            return
    search.summary.best = {"config": cfg, **{k: res.get(k) for k in ("tflops", "median_us", "spread", "error",
                                                                      "vendor_tflops", "vendor_us", "ratio")},
                           "finalists": n_ready, "tie": tie, "rounds": result.rounds, "noise": conf.noise,
                           "method": res.get("method")}
    search.record_best(cfg, res, final=True, extra=extra)
    search.study.set_user_attr("best", {"config": cfg, "ratio": res["ratio"], "ratio_lo": res["ratio_lo"],
                                        "ratio_hi": res["ratio_hi"], "tflops": res.get("tflops"), "noise": conf.noise,
                                        "tie": tie, "rounds": result.rounds, "run": search.run_id,
                                        "tournament_ratio": result.winner.estimate.median})


def _unsafe(search: Any, cfg: dict[str, int], reason: str) -> None:
    search.recorder.mark_unsafe(cfg, search.dists, reason, -1)
    search.observe(cfg, None)
    search.summary.failures.append((cfg, reason))
