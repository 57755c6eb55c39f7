"""Search: one Optuna study per (family, arch, dtype, M, N, K), driven by ask/tell.

Candidates come only from the valid space: the sampler proposes, and a proposal the space
rejects is told back as PRUNED (never compiled) so TPE learns to avoid that region. Compiles
run ahead in a thread pool while the worker times the current candidate. Every finished trial
is in the study's storage at once (SQLite by default), so a killed search resumes without
re-running anything; every new verified best goes into the table at once, so nothing is lost.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from hktune import table as tbl
from hktune.build import BuildOutcome, Builder
from hktune.family import Family
from hktune.measure import FROBENIUS_MAX
from hktune.runner import Worker
from hktune.space import Config, Space
from hktune.storage import default_storage, open_storage

SAMPLERS = ("tpe", "random", "exhaustive")
DTYPE, LAYOUT = "bf16", "ABt"
STALE_AFTER_S = 20 * 60  # a RUNNING trial older than this belongs to no live search
MAX_SKIPS = 20  # proposals in a row that were invalid or repeats before we pick for the sampler


class SearchError(RuntimeError):
    """Bad input for a search (no legal config, bad storage...): one line for the user."""


@dataclass
class SearchOptions:
    m: int
    n: int
    k: int
    trials: int = 50
    timeout_s: float | None = None
    seed: int = 0
    sampler: str = "tpe"
    storage: str | None = None
    table: Path | None = None
    lookahead: int | None = None  # candidates compiled ahead of the one being timed
    confirm_inputs: int = 3       # race hunting for every new best before it may enter a table
    confirm_back_to_back: int = 4
    finalists: int = 3            # best configs re-timed at the end; the winner is chosen on those
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
    skipped_invalid: int = 0
    warm_started: int = 0
    best: dict[str, Any] | None = None
    recorded: bool = False
    wall_s: float = 0.0
    compile_s: float = 0.0
    run_s: float = 0.0
    failures: list[tuple[Config, str]] = field(default_factory=list)


def study_name(family: str, arch: str, m: int, n: int, k: int) -> str:
    return f"{family}-{arch}-{DTYPE}-{m}x{n}x{k}"


def config_key(config: Config) -> str:
    return json.dumps(sorted(config.items()))


def config_string(space: Space, config: Config) -> str:
    """What the library's hktune_config() must report."""
    return ",".join(f"{p.name}={config[p.name]}" for p in space.params)


def shape_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return sum(abs(math.log2(x / y)) for x, y in zip(a, b))


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=8)
    if name in ("random", "exhaustive"):
        # We choose the configs ourselves (uniform over the *valid* space, or in order) and
        # enqueue them; the random sampler only fills in what is not enqueued.
        return optuna.samplers.RandomSampler(seed=seed)
    raise SearchError(f"unknown sampler {name!r} (choose from {', '.join(SAMPLERS)})")


def template_provenance(family: Family, arch: str, builder: Builder, info: dict[str, Any]) -> dict[str, Any]:
    tc = {"compiler": builder.compiler_version, "torch": info.get("torch"), "backend": info.get("backend")}
    for d in builder.include_dirs:
        from hktune.build import tree_identity

        tc["include:" + d.name] = tree_identity(d)
    return tc


class Search:
    """One search: a study, a builder, a worker; ``run`` drives them to the end."""

    def __init__(self, family: Family, arch: str, space: Space, builder: Builder, workers: Worker | list[Worker],
                 opts: SearchOptions) -> None:
        self.family, self.arch, self.space = family, arch, space
        self.workers = workers if isinstance(workers, list) else [workers]
        self.worker = self.workers[0]  # the one that re-times finalists and names the device
        self.builder, self.opts = builder, opts
        self.shape = (opts.m, opts.n, opts.k)
        self.valid = self.check_shape(family, arch, space, self.shape)
        if opts.candidates is not None:
            allowed = {config_key({k: int(v) for k, v in c.items()}) for c in opts.candidates}
            self.valid = [c for c in self.valid if config_key(c) in allowed]
            if not self.valid:
                raise SearchError("none of the given candidate configs is valid for this shape")
        self._valid_pairs = [(config_key(c), c) for c in self.valid]
        self.valid_keys = {key for key, _ in self._valid_pairs}
        self.name = study_name(family.name, arch, *self.shape)
        self.storage = opts.storage or default_storage((opts.table or Path("results/x")).parent)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = self._open_study(opts)
        self.dists = {p.name: CategoricalDistribution(sorted({c[p.name] for c in self.valid})) for p in space.params}
        self.rng = random.Random(opts.seed)
        self.summary = SearchSummary(self.name, self.storage)
        self.seen: dict[str, float | None] = {}  # config key -> TFLOP/s (None: failed)
        self.best_value = -math.inf
        self._inflight: set[str] = set()
        self._stop = False
        self.run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{random.getrandbits(32):08x}"
        key = tbl.Key(family.name, arch, DTYPE, LAYOUT, *self.shape)
        self.baseline = tbl.lookup(tbl.load(opts.table), key) if opts.table else None
        self._resume()
        self.already = len(self.seen)  # configs evaluated by earlier runs of this study

    def stop(self) -> None:
        """Ask no more candidates; the ones already running finish and are recorded."""
        self._stop = True

    def _open_study(self, opts: SearchOptions) -> optuna.Study:
        # Several nodes starting at once race to create the schema and the study in a shared
        # database; the loser's error is transient, so try again before giving up.
        for attempt in range(6):
            try:
                return optuna.create_study(study_name=self.name, storage=open_storage(self.storage), direction="maximize",
                                           sampler=make_sampler(opts.sampler, opts.seed), load_if_exists=True)
            except Exception as e:  # noqa: BLE001 - any storage failure is one line for the user
                last = e
                if "://" not in self.storage or isinstance(e, ImportError):
                    break
                time.sleep(0.5 * (attempt + 1) + random.random())
        raise SearchError(f"cannot open study storage {self.storage}: {str(last).splitlines()[0]}") from None

    @staticmethod
    def check_shape(family: Family, arch: str, space: Space, shape: tuple[int, int, int]) -> list[Config]:
        """The valid configs for a shape; SearchError (one line) when there are none."""
        valid = space.enumerate(shape)
        if not valid:
            m, n, k = shape
            raise SearchError(
                f"no config of family {family.name} is legal for {m}x{n}x{k} on {arch} "
                f"(shape constraints: {'; '.join(c.text for c in space.shape_constraints) or 'none'})")
        return valid

    # -- resume ---------------------------------------------------------------------------
    def _resume(self) -> None:
        storage = self.study._storage
        for t in self.study.get_trials(deepcopy=False):
            cfg = t.user_attrs.get("config")
            if t.state == TrialState.RUNNING:
                # A search sharing this study may be running it right now; only a trial older
                # than any live one can be was left behind by a killed search: close it and
                # queue its config again. Younger ones are left alone (their configs stay
                # candidates, so nothing is lost either way).
                started = t.datetime_start
                if started is not None and (datetime.now() - started).total_seconds() > STALE_AFTER_S:
                    try:
                        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                    except optuna.exceptions.UpdateFinishedTrialError:
                        continue
                    if cfg and config_key(cfg) in self.valid_keys:
                        self.study.enqueue_trial(cfg, skip_if_exists=False)
                continue
            if not cfg or t.user_attrs.get("duplicate_of") is not None:
                continue
            if t.state == TrialState.COMPLETE:
                self.seen[config_key(cfg)] = t.value
                self.best_value = max(self.best_value, t.value)
            elif t.state == TrialState.FAIL:
                self.seen.setdefault(config_key(cfg), None)
        self.summary.evaluated = 0

    # -- candidates -------------------------------------------------------------------------
    def _untried(self) -> list[Config]:
        return [c for key, c in self._valid_pairs if key not in self.seen and key not in self._inflight]

    def _any_untried(self) -> bool:
        done = sum(1 for key in self.seen if key in self.valid_keys) + len(self._inflight)
        return done < len(self.valid)

    def _enqueue_own_choice(self) -> bool:
        left = self._untried()
        if not left:
            return False
        cfg = left[0] if self.opts.sampler == "exhaustive" else self.rng.choice(left)
        self.study.enqueue_trial(cfg)
        return True

    def _enqueue_seeds(self) -> None:
        seeds = []
        for s in self.space.seeds:
            cfg = {k: int(v) for k, v in s.items() if k in self.space.names}
            if config_key(cfg) in self.valid_keys and config_key(cfg) not in self.seen:
                where = tuple(s.get("shape") or self.shape)
                seeds.append((shape_distance(where, self.shape), cfg))
        for _, cfg in sorted(seeds, key=lambda x: x[0]):
            self.study.enqueue_trial(cfg, user_attrs={"seed": True})

    def _warm_candidates(self) -> list[tuple[float, float, Config, str]]:
        """(shape distance, -TFLOP/s, config, where) from other studies of this family and arch
        in the same storage, and from the table: what was fast on a nearby shape."""
        out: list[tuple[float, float, Config, str]] = []
        prefix = f"{self.family.name}-{self.arch}-{DTYPE}-"
        storage = self.study._storage
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            name = summary.study_name
            if not name.startswith(prefix) or name == self.name:
                continue
            try:
                shape = tuple(int(x) for x in name[len(prefix):].split("x"))
            except ValueError:
                continue
            if len(shape) != 3:
                continue
            study = optuna.load_study(study_name=name, storage=storage)
            done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.user_attrs.get("config") and "duplicate_of" not in t.user_attrs]
            for t in sorted(done, key=lambda t: t.value, reverse=True)[:3]:
                out.append((shape_distance(shape, self.shape), -t.value, t.user_attrs["config"], name))
        if self.opts.table is not None:
            for e in tbl.load(self.opts.table):
                if e.key.family == self.family.name and e.key.arch == self.arch and (e.key.m, e.key.n, e.key.k) != self.shape:
                    out.append((shape_distance((e.key.m, e.key.n, e.key.k), self.shape), -e.tflops, e.config, "table"))
        return sorted(out, key=lambda x: (x[0], x[1]))

    def _enqueue_warm(self) -> int:
        if self.opts.warm_start <= 0:
            return 0
        taken: set[str] = set()
        for _, _, cfg, where in self._warm_candidates():
            cfg = {k: int(v) for k, v in cfg.items() if k in self.space.names}
            key = config_key(cfg)
            if key in self.valid_keys and key not in self.seen and key not in taken:
                self.study.enqueue_trial(cfg, user_attrs={"warm_from": where})
                taken.add(key)
                if len(taken) >= self.opts.warm_start:
                    break
        self.summary.warm_started = len(taken)
        return len(taken)

    def _next(self) -> tuple[optuna.Trial, Config] | None:
        skips = 0
        while True:
            if not self._any_untried():
                return None
            if self.opts.sampler != "tpe" or skips >= MAX_SKIPS:
                if not self._enqueue_own_choice():
                    return None
            try:
                trial = self.study.ask(self.dists)
            except ValueError as e:
                raise SearchError(f"study {self.name} in {self.storage} was made with another version of the space "
                                  f"({str(e).splitlines()[0]}); use a new --storage to start afresh") from None
            cfg = {k: int(v) for k, v in trial.params.items()}
            key = config_key(cfg)
            trial.set_user_attr("config", cfg)
            if key not in self.valid_keys:
                why = self.space.violations(cfg) or self.space.shape_violations(cfg, *self.shape)
                trial.set_user_attr("reason", "invalid: " + "; ".join(why))
                self.study.tell(trial, state=TrialState.PRUNED)
                self.summary.skipped_invalid += 1
                skips += 1
                continue
            if key in self.seen or key in self._inflight:
                # A repeat: answer from what we know so TPE's model stays consistent.
                trial.set_user_attr("duplicate_of", key)
                value = self.seen.get(key)
                if value is not None:
                    self.study.tell(trial, value)
                else:
                    self.study.tell(trial, state=TrialState.PRUNED)
                skips += 1
                continue
            trial.set_user_attr("run", self.run_id)
            return trial, cfg

    # -- one candidate ------------------------------------------------------------------------
    def _evaluate(self, worker: Worker, cfg: Config, outcome: BuildOutcome, best: float) -> dict[str, Any]:
        """Run one compiled candidate on one worker (in a pool thread: no study access here)."""
        t0 = time.perf_counter()
        expected = config_string(self.space, cfg)
        res = worker.evaluate(outcome.artifact, expected, *self.shape)
        if res.get("ok") and res["tflops"] > best:
            # Race hunting before a config may become the best: more fresh inputs and more
            # back-to-back launches, every output checked.
            conf = worker.evaluate(outcome.artifact, expected, *self.shape, time=False,
                                   inputs=self.opts.confirm_inputs, back_to_back=self.opts.confirm_back_to_back)
            if not conf.get("ok"):
                res = {"ok": False, "reason": "failed race hunting: " + str(conf.get("reason"))}
        res["_seconds"] = time.perf_counter() - t0
        return res

    def _precheck(self, trial: optuna.Trial, cfg: Config, outcome: BuildOutcome) -> bool:
        """Record the build; False when the candidate cannot be run (failed or pruned)."""
        self.summary.evaluated += 1
        trial.set_user_attr("compile_s", round(outcome.seconds, 3))
        trial.set_user_attr("cached", outcome.cached)
        trial.set_user_attr("resources", outcome.resources)
        if not outcome.ok:
            self._fail(trial, cfg, outcome.reason or "compile failed", TrialState.FAIL)
            return False
        if outcome.reason:
            self.summary.pruned += 1
            self._fail(trial, cfg, "pruned: " + outcome.reason, TrialState.PRUNED, count=False)
            return False
        return True

    def _conclude(self, trial: optuna.Trial, cfg: Config, outcome: BuildOutcome, res: dict[str, Any]) -> dict[str, Any] | None:
        s = self.summary
        s.run_s += res.pop("_seconds", 0.0)
        if not res.get("ok"):
            return self._fail(trial, cfg, str(res.get("reason")), TrialState.FAIL)
        for k in ("median_us", "spread", "error", "vendor_tflops", "vendor_us", "launches", "sets"):
            trial.set_user_attr(k, res.get(k))
        value = float(res["tflops"])
        self.study.tell(trial, value)
        self.seen[config_key(cfg)] = value
        s.succeeded += 1
        if value > self.best_value:
            self.best_value = value
            s.best = {"config": cfg, **{k: res.get(k) for k in ("tflops", "median_us", "spread", "error", "vendor_tflops", "vendor_us")},
                      "trial": trial.number, "resources": outcome.resources}
            self._record(cfg, res)
        return res

    def _rerank(self) -> None:
        """Re-time the best few configs (and the vendor BLAS beside each) and record the one
        that is fastest on the re-measure: one lucky or unlucky timing does not pick the winner."""
        if self.opts.finalists < 2:
            return
        done = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if "duplicate_of" not in t.user_attrs and t.user_attrs.get("config")]
        top = sorted(done, key=lambda t: t.value, reverse=True)[: self.opts.finalists]
        if len(top) < 2:
            return
        best: tuple[float, Config, dict[str, Any]] | None = None
        for t in top:
            cfg = {k: int(v) for k, v in t.user_attrs["config"].items()}
            outcome = self.builder.build(cfg)
            if not outcome.usable:
                continue
            res = self.worker.evaluate(outcome.artifact, config_string(self.space, cfg), *self.shape)
            if res.get("ok") and (best is None or res["tflops"] > best[0]):
                best = (float(res["tflops"]), cfg, res)
        if best is not None:
            tflops, cfg, res = best
            self.summary.best = {"config": cfg, **{k: res.get(k) for k in ("tflops", "median_us", "spread", "error", "vendor_tflops", "vendor_us")},
                                 "finalists": len(top)}
            self._record(cfg, res, final=True)

    def _fail(self, trial: optuna.Trial, cfg: Config, reason: str, state: TrialState, count: bool = True) -> None:
        trial.set_user_attr("reason", reason[:2000])
        self.study.tell(trial, state=state)
        self.seen[config_key(cfg)] = None
        if count:
            self.summary.failed += 1
        self.summary.failures.append((cfg, reason))
        return None

    def _record(self, cfg: Config, res: dict[str, Any], final: bool = False) -> None:
        if self.opts.table is None:
            return
        info = self.worker.info
        entry = tbl.Entry(
            key=tbl.Key(self.family.name, self.arch, DTYPE, LAYOUT, *self.shape),
            config=cfg, tflops=float(res["tflops"]), time_us=float(res["median_us"]), spread=float(res["spread"]),
            vendor={"name": "torch.matmul", "tflops": res.get("vendor_tflops"), "time_us": res.get("vendor_us")},
            ratio=float(res["tflops"]) / float(res["vendor_tflops"]) if res.get("vendor_tflops") else float("nan"),
            error=float(res["error"]), trials=len(self.seen), date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            device={"name": info.get("name"), "units": info.get("units"), "arch": info.get("arch")},
            toolchain=template_provenance(self.family, self.arch, self.builder, info),
            template_hash=self.family.template_hash(self.arch),
            extra={"run": self.run_id, "finalist_remeasure": final},
        )
        if final and self.baseline is not None and self.baseline.tflops >= entry.tflops:
            entry = self.baseline  # an earlier run's entry is still the fastest: put it back
        if final:
            # The re-measured winner replaces this run's own earlier first-timing entry, and an
            # older run's entry only when it beats it: one recorded figure per careful measure.
            replaced, prev = tbl.record(self.opts.table, entry, max_error=FROBENIUS_MAX, supersede_run=self.run_id)
        else:
            replaced, prev = tbl.record(self.opts.table, entry, max_error=FROBENIUS_MAX)
        self.summary.recorded = self.summary.recorded or replaced

    # -- the loop -------------------------------------------------------------------------------
    def run(self, on_trial: Callable[[SearchSummary, dict[str, Any] | None], None] | None = None) -> SearchSummary:
        """Ask -> compile ahead -> run on whichever worker is free -> tell, until the budget,
        the time limit or the space runs out. Study access stays on this thread."""
        start = time.perf_counter()
        for w in self.workers:
            w.prepare(*self.shape)
        self._enqueue_seeds()
        if self.already == 0:
            self._enqueue_warm()
        lookahead = self.opts.lookahead or max(2, self.builder.jobs * 2) + len(self.workers)
        pending: deque[tuple[optuna.Trial, Config, Future[BuildOutcome]]] = deque()
        running: dict[Future[dict[str, Any]], tuple[optuna.Trial, Config, BuildOutcome, Worker]] = {}
        free = list(self.workers)
        pool = ThreadPoolExecutor(max_workers=len(self.workers), thread_name_prefix="hktune-run")

        def out_of_time() -> bool:
            return self.opts.timeout_s is not None and time.perf_counter() - start > self.opts.timeout_s

        def budget_left() -> bool:
            used = self.already + self.summary.evaluated + len(pending) + len(running)
            return used < self.opts.trials and not out_of_time() and not self._stop

        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < lookahead and budget_left():
                    nxt = self._next()
                    if nxt is None:
                        exhausted = True
                        break
                    trial, cfg = nxt
                    self._inflight.add(config_key(cfg))
                    pending.append((trial, cfg, self.builder.submit(cfg)))
                # Hand ready builds to free workers (wait for a build only when no run is going).
                while free and pending and (pending[0][2].done() or not running):
                    trial, cfg, fut = pending.popleft()
                    outcome = fut.result()
                    self.summary.compile_s += 0.0 if outcome.cached else outcome.seconds
                    if not self._precheck(trial, cfg, outcome):
                        self._inflight.discard(config_key(cfg))
                        if on_trial:
                            on_trial(self.summary, None)
                        continue
                    w = free.pop()
                    running[pool.submit(self._evaluate, w, cfg, outcome, self.best_value)] = (trial, cfg, outcome, w)
                if not running:
                    if not pending:
                        break
                    continue
                done, _ = wait(list(running), timeout=0.05 if pending and free else None, return_when=FIRST_COMPLETED)
                for f in done:
                    trial, cfg, outcome, w = running.pop(f)
                    free.append(w)
                    res = self._conclude(trial, cfg, outcome, f.result())
                    self._inflight.discard(config_key(cfg))
                    if on_trial:
                        on_trial(self.summary, res)
                if (out_of_time() or self._stop) and not running:
                    break
            self._rerank()
        finally:
            # Candidates asked but never run go back as PRUNED, so a resumed search proposes them again.
            for f, (trial, cfg, outcome, w) in running.items():
                f.cancel()
            for trial, cfg, fut in pending:
                fut.cancel()
            for trial in [r[0] for r in running.values()] + [p[0] for p in pending]:
                try:
                    trial.set_user_attr("reason", "not run: the search stopped first")
                    self.study.tell(trial, state=TrialState.PRUNED)
                except Exception:  # noqa: BLE001 - already told, or storage gone
                    pass
            pool.shutdown(wait=False, cancel_futures=True)
            self.summary.wall_s = time.perf_counter() - start
        return self.summary


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
