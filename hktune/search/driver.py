"""Search: one study per problem (family, arch, dtype, layout, M, N, K), driven by a strategy.

The driver is small: the strategy (strategies/) decides what to try next, only ever from the
valid configs; the executor (executor.py) compiles ahead and runs candidates on the workers; the
recorder (recorder.py) keeps every evaluation in the Optuna study, so a killed search resumes
without re-running anything; the finalists decide the winner at the end (finalists.py), and only
that winner goes into the table, through the one recording rule (hktune.record.entry): an
interrupted search writes no entry.
"""
from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from hktune.build.builder import BuildOutcome, Builder
from hktune.record import entry as rec
from hktune.record import table as tbl
from hktune.run.runner import Worker
from hktune.search import strategies, warm
from hktune.search.executor import Executor
from hktune.search.finalists import decide
from hktune.search.problem import (SearchError, config_key, config_string, legal_configs,  # noqa: F401
                                   shape_distance)
from hktune.search.recorder import StudyRecorder
from hktune.search.storage import default_storage
from hktune.space.space import Config
from hktune.target import Target


@dataclass
class SearchOptions:
    m: int
    n: int
    k: int
    trials: int = 50
    timeout_s: float | None = None
    seed: int = 0
    sampler: str = strategies.DEFAULT
    storage: str | None = None
    table: Path | None = None
    lookahead: int | None = None  # candidates compiled ahead of the ones being timed
    confirm_inputs: int = 3       # race hunting for every new best and every finalist
    confirm_back_to_back: int = 4
    finalists: int = 5            # best configs in the closing tournament (finalists.py)
    tournament_rounds: int = 30   # at most this many interleaved rounds
    early_stop: bool = True       # a trial's timing stops once it is shown slower than the best so far
    sanitize: bool = True        # NVIDIA: the winner under compute-sanitizer (racecheck, synccheck) when present
    retime: bool = False          # a finished study: run the tournament again instead of reporting its entry
    warm_start: int = 8           # configs enqueued from the nearest already-tuned shapes (0: off)
    candidates: list[Config] | None = None  # restrict the search to these configs (replays, subspaces)


@dataclass
class SearchSummary:
    study: str
    storage: str
    evaluated: int = 0
    succeeded: int = 0
    failed: int = 0
    pruned: int = 0
    skipped_invalid: int = 0  # kept for the summary's shape: strategies propose valid configs only
    warm_started: int = 0
    behind: int = 0           # trials whose timing stopped once they were shown slower than the best
    left_out: int = 0         # finalists left out of the tournament: their trial's CI wholly below the best trial's
    best: dict[str, Any] | None = None
    recorded: bool = False
    wall_s: float = 0.0
    compile_s: float = 0.0
    run_s: float = 0.0
    failures: list[tuple[Config, str]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds: trials, tournament, confirm, sanitizer


BEST_FIELDS = ("tflops", "median_us", "spread", "error", "vendor_tflops", "vendor_us", "ratio")
BEST_EXTRA = ("ratio_lo", "ratio_hi", "precision", "warnings", "method", "noise")  # shown with the best when measured


class Search:
    """One search: a strategy, a study, a builder and workers; ``run`` drives them to the end."""

    def __init__(self, target: Target, builder: Builder, workers: Worker | list[Worker], opts: SearchOptions) -> None:
        self.target = target
        self.family, self.arch, self.space = target.family, target.arch, target.space
        space = target.space
        self.workers = workers if isinstance(workers, list) else [workers]
        self.worker = self.workers[0]  # the one that re-times finalists and names the device
        self.builder, self.opts = builder, opts
        self.shape = (opts.m, opts.n, opts.k)
        self.valid = legal_configs(target, self.shape)
        if opts.candidates is not None:
            allowed = {config_key({k: int(v) for k, v in c.items()}) for c in opts.candidates}
            self.valid = [c for c in self.valid if config_key(c) in allowed]
            if not self.valid:
                raise SearchError("none of the given candidate configs is valid for this shape")
        self.valid_keys = {config_key(c) for c in self.valid}
        self.key = tbl.Key(target.name, target.arch, target.dtype.name, target.layout, *self.shape)
        self.name = target.study_name(*self.shape)
        self.storage = opts.storage or default_storage((opts.table or Path("results/x")).parent)
        self.run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{random.getrandbits(32):08x}"
        self.recorder = StudyRecorder(self.name, self.storage, self.run_id)
        self.study = self.recorder.study
        self.dists = {p.name: CategoricalDistribution(sorted({c[p.name] for c in self.valid})) for p in space.params}
        self.strategy = strategies.make(opts.sampler, space, self.valid, opts.seed, self.shape)
        self.summary = SearchSummary(self.name, self.storage)
        self.seen: dict[str, float | None] = {}  # config key -> objective (None: failed)
        self.best_value = -math.inf
        self._stop = False
        self._pending: tuple[Config, dict[str, Any]] | None = None  # this run's best, until the winner is decided
        self._decided = False
        self.baseline = tbl.lookup(tbl.load(opts.table), self.key) if opts.table else None
        self._retry = self.recorder.close_stale()
        self._code_of: dict[str, str] = {}  # device-code identity -> the config key that was run with it
        self._twins: dict[str, list[Config]] = {}  # config key -> configs with its code, waiting for its result
        for cfg, value, t in self.recorder.history():
            if t.user_attrs.get("same_code_as"):
                self._observe_twin(cfg, self.seen.get(t.user_attrs["same_code_as"]))
                continue
            self.observe(cfg, value)
            if t.user_attrs.get("code_hash") and "same_code_as" not in t.user_attrs:
                self._code_of.setdefault(t.user_attrs["code_hash"], config_key(cfg))
        self.already = len(self.seen)  # configs evaluated by earlier runs of this study
        self._timed_best = self.best_value   # what a trial must beat (early stop), raised by _evaluate
        self._best_lock = threading.Lock()

    @staticmethod
    def check_shape(target: Target, shape: tuple[int, int, int]) -> list[Config]:
        return legal_configs(target, shape)

    def finished(self) -> bool:
        return self.already >= min(self.opts.trials, len(self.valid))

    def recorded_best(self) -> dict[str, Any] | None:
        """The study's one best (the tournament's winner), with the table's figures when it has them."""
        best = self.study.user_attrs.get("best")
        if self.baseline is not None:
            return {**self.best_of(self.baseline), "recorded": True}
        return dict(best, recorded=True) if best else None

    def stop(self) -> None:
        """Ask no more candidates; the ones already running finish and are recorded."""
        self._stop = True

    def observe(self, cfg: Config, value: float | None) -> None:
        key = config_key(cfg)
        if key in self.seen and self.seen[key] is None:
            value = None  # a config that failed once (a crash, a race) stays failed
        self.seen[key] = value
        if value is not None:
            self.best_value = max(self.best_value, value)
        self.strategy.observe(cfg, value)
        for twin in self._twins.pop(key, []):
            self._observe_twin(twin, value)

    # -- what to try first ------------------------------------------------------------------------
    def _first(self) -> None:
        seeds = []
        for s in self.space.seeds:
            cfg = {k: int(v) for k, v in s.items() if k in self.space.names}
            if config_key(cfg) in self.valid_keys:
                seeds.append((shape_distance(tuple(s.get("shape") or self.shape), self.shape), cfg))
        first = [c for c in self._retry if config_key(c) in self.valid_keys] + [c for _, c in sorted(seeds, key=lambda x: x[0])]
        self._seed_keys = {config_key(c) for _, c in seeds}
        self._warm_from: dict[str, str] = {}
        if self.already == 0 and self.opts.warm_start > 0:
            for _, _, cfg, where in warm.candidates(self.recorder.storage_backend, self.target, self.name, self.shape,
                                                    self.opts.table):
                cfg = {k: int(v) for k, v in cfg.items() if k in self.space.names}
                key = config_key(cfg)
                if key in self.valid_keys and key not in self.seen and key not in self._warm_from:
                    self._warm_from[key] = where
                    first.append(cfg)
                    if len(self._warm_from) >= self.opts.warm_start:
                        break
            self.summary.warm_started = len(self._warm_from)
        self.strategy.prefer(first)

    # -- one candidate ------------------------------------------------------------------------------
    def _evaluate(self, worker: Worker, cfg: Config, outcome: BuildOutcome) -> dict[str, Any]:
        """Run one compiled candidate on one worker (in a pool thread: no study access here)."""
        t0 = time.perf_counter()
        # early stop: the best ratio timed so far, kept here (not by _conclude, which records a
        # finished run only after the freed worker has started its next one)
        with self._best_lock:
            best = self._timed_best
        behind = {"stop_below": best} if self.opts.early_stop and math.isfinite(best) else {}
        # a trial is ranked against trials, not published: no heating after each compile gap
        res = worker.evaluate(outcome.artifact, config_string(self.space, cfg), *self.shape, steady=False, **behind)
        if res.get("ok") and self.objective(res) > self.best_value:
            res = self.hunt(worker, cfg, outcome, res)
        if res.get("ok"):
            with self._best_lock:
                self._timed_best = max(self._timed_best, self.objective(res))
        res["_seconds"] = time.perf_counter() - t0
        return res

    def hunt(self, worker: Worker, cfg: Config, outcome: BuildOutcome, res: dict[str, Any]) -> dict[str, Any]:
        """Race hunting before a config may become a best or a finalist: more fresh inputs and
        more back-to-back launches, every output checked."""
        conf = worker.evaluate(outcome.artifact, config_string(self.space, cfg), *self.shape, time=False,
                               inputs=self.opts.confirm_inputs, back_to_back=self.opts.confirm_back_to_back)
        if not conf.get("ok"):
            return {"ok": False, "unsafe": True, "reason": "failed race hunting: " + str(conf.get("reason"))}
        return res

    @staticmethod
    def objective(res: dict[str, Any]) -> float:
        """The study's objective: the paired ratio to the vendor BLAS (robust to the card's clock
        and power drift); TFLOP/s over the vendor's when a target gives no paired ratio."""
        r = res.get("ratio")
        if isinstance(r, (int, float)) and math.isfinite(r) and r > 0:
            return float(r)
        return float(res["tflops"]) / float(res["vendor_tflops"]) if res.get("vendor_tflops") else float(res["tflops"])

    def _admit(self, trial: optuna.Trial, cfg: Config, outcome: BuildOutcome) -> bool:
        """Record the build; False when the candidate cannot be run (failed or pruned)."""
        s = self.summary
        s.evaluated += 1
        s.compile_s += 0.0 if outcome.cached else outcome.seconds
        trial.set_user_attr("compile_s", round(outcome.seconds, 3))
        trial.set_user_attr("cached", outcome.cached)
        trial.set_user_attr("resources", outcome.resources)
        if not outcome.ok:
            self._fail(trial, cfg, outcome.reason or "compile failed", TrialState.FAIL)
        elif outcome.reason:
            s.pruned += 1
            self._fail(trial, cfg, "pruned: " + outcome.reason, TrialState.PRUNED, count=False)
        elif not self._same_code(trial, cfg, outcome):
            return True
        if self._on_trial:
            self._on_trial(s, None)
        return False

    def _same_code(self, trial: optuna.Trial, cfg: Config, outcome: BuildOutcome) -> bool:
        """True (and the trial recorded as pruned) when an earlier config of this study compiled to
        the same device code (prune: identical_code): the same kernel is never timed twice; the
        strategy learns the twin's result for this config."""
        h = outcome.code_hash
        if not h or not self.space.prune.get("identical_code"):
            return False
        trial.set_user_attr("code_hash", h)
        twin = self._code_of.setdefault(h, config_key(cfg))
        if twin == config_key(cfg):
            return False
        self.summary.pruned += 1
        self.recorder.finish(trial, None, TrialState.PRUNED,
                             attrs={"reason": f"pruned: identical code to {twin}", "same_code_as": twin})
        if twin in self.seen:
            self._observe_twin(cfg, self.seen[twin])
        else:   # the twin is still being built or run: learn its result when it comes
            self._twins.setdefault(twin, []).append(cfg)
        return True

    def _observe_twin(self, cfg: Config, value: float | None) -> None:
        self.seen[config_key(cfg)] = value
        self.strategy.observe(cfg, value)

    def _conclude(self, trial: optuna.Trial, cfg: Config, outcome: BuildOutcome, res: dict[str, Any]) -> dict[str, Any] | None:
        s = self.summary
        s.run_s += res.pop("_seconds", 0.0)
        if not res.get("ok"):
            if res.get("unsafe"):
                trial.set_user_attr("unsafe", True)
            return self._fail(trial, cfg, str(res.get("reason")), TrialState.FAIL)
        value = self.objective(res)
        attrs = {k: res.get(k) for k in ("median_us", "spread", "error", "vendor_tflops", "vendor_us", "launches", "sets",
                                          "ratio", "ratio_lo", "ratio_hi", "precision")}
        attrs["stop"] = (res.get("environment") or {}).get("stop")
        s.behind += attrs["stop"] == "behind the best"
        self.recorder.finish(trial, value, attrs=attrs)
        self.observe(cfg, value)
        s.succeeded += 1
        if value >= self.best_value:
            s.best = {"config": cfg, **{k: res.get(k) for k in BEST_FIELDS}, "trial": trial.number,
                      "resources": outcome.resources, **{k: res[k] for k in BEST_EXTRA if res.get(k) not in (None, [])}}
            self._pending = (cfg, res)  # recorded once the winner is decided (run), never mid-search
        return res

    def _fail(self, trial: optuna.Trial, cfg: Config, reason: str, state: TrialState, count: bool = True) -> None:
        self.recorder.finish(trial, None, state, attrs={"reason": reason[:2000]})
        self.observe(cfg, None)
        if count:
            self.summary.failed += 1
        self.summary.failures.append((cfg, reason))
        return None

    def record_best(self, cfg: Config, res: dict[str, Any], final: bool = False, extra: dict[str, Any] | None = None) -> None:
        if self.opts.table is None:
            return
        self._decided = self._decided or final
        entry = rec.make_entry(self.key, cfg, res, trials=len(self.seen), info=self.worker.info, builder=self.builder,
                               template_hash=self.target.template_hash,
                               extra={"run": self.run_id, "finalist_remeasure": final, **(extra or {}),
                                      **({"space": self.target.space_ref} if self.target.space_ref else {})})
        if final and self.baseline is not None and not tbl.better(entry, self.baseline):
            entry = self.baseline  # an earlier run's entry is still the fastest: put it back
        # The decided winner replaces an older run's entry only when it beats it.
        replaced, _ = rec.record(self.opts.table, entry, supersede_run=self.run_id if final else None)
        self.summary.recorded = self.summary.recorded or replaced
        self._shown_best()

    def _shown_best(self) -> None:
        """The summary's best is the table's entry for this key when there is one: the search prints
        the same figures `show`, `report` and the header read (hktune.record.figures)."""
        e = tbl.lookup(tbl.load(self.opts.table), self.key) if self.opts.table else None
        if e is None:
            return
        old = self.summary.best or {}
        self.summary.best = {**{k: old[k] for k in ("finalists", "tie", "rounds", "trial", "resources") if k in old},
                             **self.best_of(e), "recorded": e.extra.get("run") != self.run_id}

    def _sync_study_best(self) -> None:
        """The study's ``best`` attribute carries the table entry's figures, so `show --studies` and
        `report` print the same best and ratio as the table (not a second measurement's)."""
        e = tbl.lookup(tbl.load(self.opts.table), self.key) if self._decided and self.opts.table else None
        if e is None:
            return
        old = self.study.user_attrs.get("best") or {}
        self.study.set_user_attr("best", {**{k: old[k] for k in ("tie", "rounds") if k in old}, **self.best_of(e),
                                          "run": e.extra.get("run"), "date": e.date})

    @staticmethod
    def best_of(e: tbl.Entry) -> dict[str, Any]:
        """A summary's best from a table entry."""
        return {"config": e.config, "tflops": e.tflops, "median_us": e.time_us, "spread": e.spread, "error": e.error,
                "vendor_tflops": e.vendor.get("tflops"), "vendor_us": e.vendor.get("time_us"), "ratio": e.ratio,
                **{k: e.extra[k] for k in BEST_EXTRA if e.extra.get(k) not in (None, [])}}

    # -- the loop -------------------------------------------------------------------------------------
    def run(self, on_trial: Callable[[SearchSummary, dict[str, Any] | None], None] | None = None) -> SearchSummary:
        """Ask -> compile ahead -> run on whichever worker is free -> tell, until the budget, the
        time limit or the space runs out. Study access stays on this thread."""
        self._on_trial = on_trial
        start = time.perf_counter()
        if self.finished() and not self.opts.retime:
            # A finished study reports its recorded best at once; re-timing only when asked.
            self.summary.best = self.recorded_best()
            return self.summary
        for w in self.workers:
            w.prepare(*self.shape)
        self._first()
        ex: Executor[Any] = Executor(self.builder, self.workers, self._evaluate, self.opts.lookahead)

        def out_of_time() -> bool:
            return self.opts.timeout_s is not None and time.perf_counter() - start > self.opts.timeout_s

        try:
            while True:
                left = self.opts.trials - (self.already + self.summary.evaluated + ex.in_flight())
                if left > 0 and not out_of_time() and not self._stop:
                    for cfg in self.strategy.ask(min(ex.room(), left)):
                        attrs = {"seed": True} if config_key(cfg) in self._seed_keys else {}
                        if config_key(cfg) in self._warm_from:
                            attrs["warm_from"] = self._warm_from[config_key(cfg)]
                        ex.add(self.recorder.start(cfg, self.dists, attrs), cfg)
                if not ex.in_flight():
                    break
                for trial, cfg, outcome, res in ex.step(self._admit, more_coming=False):
                    out = self._conclude(trial, cfg, outcome, res)
                    if on_trial:
                        on_trial(self.summary, out)
                if (out_of_time() or self._stop) and not ex.running:
                    break
            self.summary.phases["trials"] = time.perf_counter() - start
            if self.summary.evaluated or self.opts.retime:
                decide(self)
                if not self._decided and self._pending is not None \
                        and config_key(self._pending[0]) not in self.recorder.unsafe_keys():
                    self.record_best(*self._pending, final=True)  # no tournament (fewer than two finalists)
                self._sync_study_best()
        finally:
            for trial in ex.abandon():
                self.recorder.abandon(trial)
            self.summary.wall_s = time.perf_counter() - start
        return self.summary
