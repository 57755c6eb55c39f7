"""Sweep: re-verify and re-time every entry of a results table, paired with the vendor BLAS,
and judge each entry's paired ratio (vendor time / kernel time) against the stored one.

The rule (hktune.record.judge; docs/ci-sweeps.md explains it): a regression is a slowdown of the
paired ratio that is statistically significant (confidence intervals from the measurements' round
ratios) and whose interval reaches the effect size (``--tolerance``, default 3%). An old stored
baseline without a CI whose spread is too wide to judge by is refused ("re-baseline with
--update"), never answered by widening the threshold. A measurement too
imprecise to vouch for "unchanged" (the stored one or the new one), or a change seen on a
disturbed machine, is inconclusive: not a pass, and not a failure either (exit 4, with what to
do). A suspected regression is re-measured (``confirm`` times) and the best verified measurement
is judged.

Provenance: an entry whose device (name, arch, units), toolchain (compiler, torch, backend,
include trees such as the HipKittens commit) or template_hash differs from this environment
was verified somewhere else; it is never trusted, and is race-hunted (more fresh inputs, more
back-to-back launches) as well as re-timed. So is any result that --update would store.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from hktune.errors import EXIT_INCONCLUSIVE, BadInput  # 4: nothing failed, but an entry could not be judged
from hktune.build.builder import Builder
from hktune.build.compilers import CompilerMissing
from hktune.dtypes import DEFAULT as DEFAULT_DTYPE, DTYPES
from hktune.family.family import FamilyError, known_archs
from hktune.family.trees import TreeError
from hktune.record import table as tbl
from hktune.record.entry import make_entry, provenance as template_provenance, record
from hktune.record.judge import DEFAULT_MAX_PRECISION, judge as judge_paired
from hktune.run.devices import DeviceError
from hktune.run.precision import between_spread
from hktune.run.settings import Settings
from hktune.run.runner import Worker, WorkerError
from hktune.run.targets import open_workers
from hktune.search.problem import config_string
from hktune.space.space import SpaceError
from hktune.target import Target, resolve_target, space_file

TOLERANCE = 0.03
HUNT_INPUTS, HUNT_BACK_TO_BACK = 4, 4  # race hunting for entries of another provenance

PASS, IMPROVED, REGRESSION, WRONG, BUILD_FAILED, INVALID, ERROR, SKIPPED, BAD_BASELINE, INCONCLUSIVE, REBASELINED = (
    "pass", "improved", "regression", "wrong", "build failed", "invalid", "error", "skipped", "bad baseline",
    "inconclusive", "re-baselined")
ALL_STATUSES = (REGRESSION, BAD_BASELINE, INCONCLUSIVE, WRONG, BUILD_FAILED, INVALID, ERROR, PASS, IMPROVED,
                REBASELINED, SKIPPED)
FAILING = (REGRESSION, WRONG, BUILD_FAILED, INVALID, ERROR, BAD_BASELINE)
STATUS = {"regressed": REGRESSION, "improved": IMPROVED, "unchanged": PASS, "bad_baseline": BAD_BASELINE,
          "inconclusive": INCONCLUSIVE}

RULE = ("paired ratio (vendor time / kernel time): regression when the slowdown is significant (95% CI above 0) "
        "and its CI reaches the tolerance; inconclusive when either measurement's CI half-width exceeds "
        "max(1.5%, tolerance/2) or the machine was disturbed (load, throttling)")


class SweepError(BadInput):
    """Bad input for a sweep (bad --shapes, unknown --arch): one line for the user."""


@dataclass
class SweepOptions:
    tolerance: float = TOLERANCE   # the effect size that counts
    shapes: frozenset[tuple[int, int, int]] | None = None
    family: str | None = None
    arch: str | None = None
    update: bool = False
    require_all: bool = False
    confirm: int = 1               # re-measures of a suspected regression
    gpu: int | None = None
    roots: dict[str, str | None] = field(default_factory=dict)   # external trees: {name: checkout}
    trial_timeout: float = 120.0
    repeats: int | None = None     # timed launches per measurement (default: measure.Settings)
    jobs: int | None = None        # parallel compiles


@dataclass
class Verdict:
    """What the sweep found for one table entry."""

    entry: tbl.Entry
    status: str
    message: str = ""
    result: dict[str, Any] | None = None   # the measurement judged
    slowdown: float | None = None
    threshold: float | None = None
    provenance: list[str] = field(default_factory=list)  # what differs from this environment
    race_hunted: bool = False
    measurements: int = 0
    updated: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in FAILING


@dataclass
class SweepReport:
    table: Path
    options: SweepOptions
    verdicts: list[Verdict]
    started: str
    seconds: float
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # device string -> worker info
    total_entries: int = 0

    def count(self, status: str) -> int:
        return sum(v.status == status for v in self.verdicts)

    @property
    def ran(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status != SKIPPED]

    def failures(self) -> list[Verdict]:
        """Failing entries; skips count too under --require-all."""
        return [v for v in self.verdicts if v.failed or (self.options.require_all and v.status == SKIPPED)]

    def exit_code(self) -> int:
        """0 clean; 1 a regression, wrong result, build failure (or a skip under --require-all);
        3 nothing runnable (no entry selected, or every one skipped); 4 nothing failed but an entry
        could not be judged (inconclusive: a measurement too noisy or disturbed)."""
        if not self.ran:
            return 3
        if self.failures():
            return 1
        return EXIT_INCONCLUSIVE if self.count(INCONCLUSIVE) else 0

    def headline(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ALL_STATUSES if self.count(s)]
        word = {0: "PASS", 1: "FAIL", 3: "NOTHING RUN", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}[self.exit_code()]
        return f"{word}: {', '.join(parts) or 'no entries selected'} ({len(self.verdicts)} of {self.total_entries} entries)"


# -- the rule -----------------------------------------------------------------------------------
def judge(entry: Any, res: dict[str, Any], tolerance: float = TOLERANCE) -> tuple[str, float, float, str]:
    """(status, slowdown, tolerance, message) of one re-measured entry, by hktune.record.judge."""
    j = judge_paired(entry, res, effect=tolerance, max_precision=max(DEFAULT_MAX_PRECISION, tolerance / 2))
    return STATUS[j.verdict], j.slowdown, tolerance, j.message


# -- selection --------------------------------------------------------------------------------------
def parse_shapes(text: str | None) -> frozenset[tuple[int, int, int]] | None:
    """'MxNxK,MxNxK' -> {(M, N, K), ...}; raises SweepError on anything else."""
    if text is None:
        return None
    out = set()
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        dims = part.lower().split("x")
        try:
            shape = tuple(int(d) for d in dims)
        except ValueError:
            shape = ()
        if len(shape) != 3:
            raise SweepError(f"--shapes: expected MxNxK (e.g. 4096x4096x4096), got {part!r}")
        if min(shape) <= 0:
            raise SweepError(f"--shapes: sizes must be positive, got {part!r}")
        out.add(shape)
    if not out:
        raise SweepError("--shapes: no shape given")
    return frozenset(out)


def select(entries: list[tbl.Entry], opts: SweepOptions) -> list[tbl.Entry]:
    return [e for e in sorted(entries, key=lambda e: e.key)
            if (opts.family is None or e.key.family == opts.family)
            and (opts.arch is None or e.key.arch == opts.arch)
            and (opts.shapes is None or (e.key.m, e.key.n, e.key.k) in opts.shapes)]


# -- provenance ---------------------------------------------------------------------------------------
def _show(v: Any) -> str:
    return "(not recorded)" if v is None else repr(v)


def provenance_diff(entry: tbl.Entry, info: dict[str, Any], toolchain: dict[str, Any], template_hash: str) -> list[str]:
    """What differs between where the entry was measured and this environment, one line each."""
    out = []
    for k in ("name", "arch", "units"):
        old, new = entry.device.get(k), info.get(k)
        if str(old) != str(new):
            out.append(f"device.{k}: {_show(old)} -> {_show(new)}")
    for k in sorted(set(entry.toolchain) | set(toolchain)):
        old, new = entry.toolchain.get(k), toolchain.get(k)
        if str(old) != str(new):
            out.append(f"toolchain.{k}: {_show(old)} -> {_show(new)}")
    if entry.template_hash != template_hash:
        out.append(f"template_hash: {entry.template_hash} -> {template_hash}")
    return out


# -- running --------------------------------------------------------------------------------------
class Group:
    """What one (family, arch, dtype) needs: its target (the family's kernel, flags and space for that dtype),
    builder and a worker, or why not."""

    def __init__(self, family: str, arch: str, opts: SweepOptions, dtype: str = DEFAULT_DTYPE,
                 space_ref: str | None = None) -> None:
        self.family_name, self.arch = family, arch
        self.skip: str | None = None   # the machine lacks something: one line
        self.error: str | None = None  # the table names something this checkout cannot serve
        self.target: Target | None = None
        self.fam = self.space = self.builder = None
        self.worker: Worker | None = None    # not started yet (run_sweep shares one per device)
        try:
            self.target = resolve_target(arch, family, roots=opts.roots)
            # an fp8 entry is built with the family's fp8 flags and judged by its fp8 space (a dtype the family
            # does not serve keeps the default target: _run_entry names the dtype as not served); an entry searched
            # in an opt-in space (its `space:`) by that space
            if (dtype != self.target.dtype.name and dtype in self.target.family.dtypes) or space_ref:
                served = dtype if dtype in self.target.family.dtypes else self.target.dtype.name
                self.target = resolve_target(arch, family, served, roots=opts.roots, space_file=space_file(space_ref))
        except TreeError as e:
            self.skip = str(e)
            return
        except (FamilyError, SpaceError) as e:
            self.error = str(e)
            return
        self.fam, self.space = self.target.family, self.target.space
        settings = Settings(repeats=opts.repeats) if opts.repeats else Settings()
        try:
            self.worker = open_workers(self.target, [opts.gpu], settings, opts.trial_timeout)[0]
        except DeviceError as e:
            self.skip = str(e)
            return
        try:
            self.builder = Builder(self.target, jobs=opts.jobs)
        except CompilerMissing as e:
            self.skip = str(e)

    def close(self) -> None:
        if self.builder is not None:
            self.builder.close()


def _config_problem(space: Any, e: tbl.Entry) -> str | None:
    names = set(space.names)
    missing = [p for p in space.names if p not in e.config]
    unknown = [p for p in e.config if p not in names]
    if missing or unknown:
        return ("config does not match the space " + space.path.name + ": "
                + "; ".join(([f"missing {', '.join(missing)} (no legacy value declared)"] if missing else [])
                            + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
    bad = space.violations(e.config) or space.shape_violations(e.config, e.key.m, e.key.n, e.key.k)
    return f"config is not legal in {space.path.name} for {e.key.m}x{e.key.n}x{e.key.k}: {bad[0]}" if bad else None


def _one(e: tbl.Entry, g: Group, outcome: Any, worker: Any, opts: SweepOptions, table: Path) -> Verdict:
    """Re-verify and re-time one entry (its build already done) and judge it."""
    v = Verdict(e, PASS)
    shape = (e.key.m, e.key.n, e.key.k)
    if not outcome.ok:
        v.status, v.message = BUILD_FAILED, outcome.reason or "compile failed"
        return v
    if not outcome.runnable:
        v.status, v.message = SKIPPED, "built a device-only code object: no runtime for it on this machine"
        return v
    if outcome.reason:
        v.notes.append(f"resources: now {outcome.reason}")
    info = worker.info
    v.provenance = provenance_diff(e, info, template_provenance(g.builder, info), g.target.template_hash)
    expected = config_string(g.space, e.config)

    def measure() -> dict[str, Any]:
        v.measurements += 1
        return worker.evaluate(outcome.artifact, expected, *shape, dtype=e.key.dtype)

    res = measure()
    if not res.get("ok"):
        v.status, v.message = WRONG, str(res.get("reason"))
        return v
    status, slow, limit, why = judge(e, res, opts.tolerance)
    ratios = [res.get("ratio")]
    for _ in range(opts.confirm if status in (REGRESSION, INCONCLUSIVE) else 0):
        again = measure()
        if not again.get("ok"):
            v.status, v.message, v.result = WRONG, "on re-measure: " + str(again.get("reason")), again
            return v
        ratios.append(again.get("ratio"))
        if (again.get("ratio") or 0) > (res.get("ratio") or 0):
            res = again
        # The noise floor, measured: independent re-measurements of the same kernel differ by it.
        res = {**res, "noise": max(res.get("noise") or 0.0, between_spread(ratios))}
        status, slow, limit, why = judge(e, res, opts.tolerance)
        if status not in (REGRESSION, INCONCLUSIVE):
            break
    v.result, v.status, v.slowdown, v.threshold = res, status, slow, limit
    # --update stores an improvement, and re-baselines a regression or a baseline too poor to judge by.
    storable = opts.update and (status in (IMPROVED, REGRESSION, BAD_BASELINE) or not e.verified())
    if v.provenance or storable:
        # Never trust a figure verified elsewhere, nor store one without the search's race hunt.
        v.race_hunted = True
        hunt = worker.evaluate(outcome.artifact, expected, *shape, time=False, inputs=HUNT_INPUTS, back_to_back=HUNT_BACK_TO_BACK,
                               dtype=e.key.dtype)
        if not hunt.get("ok"):
            v.status, v.message = WRONG, "failed race hunting: " + str(hunt.get("reason"))
            return v
    new_t = float(res["tflops"])
    v.message = (f"ratio {e.ratio:.3f} -> {float(res.get('ratio') or float('nan')):.3f}x vendor; "
                 f"{e.tflops:.4g} -> {new_t:.4g} TFLOP/s: {why}")
    if storable:
        v.updated = _store(table, e, res, g, info, force=v.status in (REGRESSION, BAD_BASELINE))
        if v.updated and v.status in (REGRESSION, BAD_BASELINE):
            v.message = f"{v.status}, re-baselined by --update: {v.message}"
            v.status = REBASELINED
    return v


def _store(table: Path, e: tbl.Entry, res: dict[str, Any], g: Group, info: dict[str, Any], force: bool = False) -> bool:
    """Record a faster verified result through the one recording rule (locked, atomic, faster-only)."""
    new = make_entry(e.key, e.config, res, trials=e.trials, info=info, builder=g.builder,
                     template_hash=g.target.template_hash,
                     extra={"sweep": True, **({"space": g.target.space_ref} if g.target.space_ref else {})})
    replaced, _ = record(table, new, force=force)
    return replaced


def run_sweep(table: Path, opts: SweepOptions, log: Callable[[str], None] = lambda s: None) -> SweepReport:
    """Sweep ``table``. Raises TableError (bad table) or SweepError (bad options) before any work."""
    if opts.arch is not None and opts.arch not in known_archs():
        raise SweepError(f"unknown arch {opts.arch!r} (known: {', '.join(known_archs())})")
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries = tbl.load(table)
    chosen = select(entries, opts)
    report = SweepReport(table, opts, [], started, 0.0, total_entries=len(entries))
    groups: dict[tuple[str, str, str, str | None], list[tbl.Entry]] = defaultdict(list)
    for e in chosen:
        groups[(e.key.family, e.key.arch, e.key.dtype, e.extra.get("space"))].append(e)
    workers: dict[str, Any] = {}  # device string -> Worker, started on first use
    done = 0
    try:
        for (family, arch, dtype, space_ref), group_entries in groups.items():
            g = Group(family, arch, opts, dtype, space_ref)
            if g.space is not None:   # a param added since the entry was stored takes its legacy value
                group_entries = [replace(e, config=g.space.complete(e.config)) for e in group_entries]
            try:
                futures = {}
                if g.skip is None and g.error is None:
                    for e in group_entries:
                        if _config_problem(g.space, e) is None:
                            futures[id(e)] = g.builder.submit(e.config)  # compile ahead of the runs
                for e in group_entries:
                    t = time.perf_counter()
                    v = _run_entry(e, g, futures, workers, opts, table)
                    v.seconds = time.perf_counter() - t
                    report.verdicts.append(v)
                    done += 1
                    log(f"[{done}/{len(chosen)}] {e.key}: {v.status}" + (f": {v.message}" if v.message else ""))
            finally:
                g.close()
    finally:
        for dev, w in workers.items():
            if w.info:
                report.devices[dev] = dict(w.info)
            w.close()
    report.seconds = time.perf_counter() - t0
    return report


def _run_entry(e: tbl.Entry, g: Group, futures: dict[int, Any], workers: dict[str, Any], opts: SweepOptions,
               table: Path) -> Verdict:
    if g.error is not None:
        return Verdict(e, ERROR, g.error)
    if g.space is not None:   # the table's own problems first: they do not need this machine's GPU
        if e.key.dtype not in DTYPES or e.key.dtype not in g.fam.dtypes or e.key.layout not in g.fam.layouts:
            return Verdict(e, ERROR, f"dtype/layout {e.key.dtype}/{e.key.layout} is not served by family {g.fam.name}")
        problem = _config_problem(g.space, e)
        if problem:
            return Verdict(e, INVALID, problem)
    if g.skip is not None:
        return Verdict(e, SKIPPED, g.skip)
    outcome = futures[id(e)].result()
    assert g.worker is not None
    w = workers.get(g.worker.device)
    if w is None:
        w = g.worker
        try:
            w.start()
        except WorkerError as err:
            g.skip = str(err)  # every later entry of this group is skipped the same way
            return Verdict(e, SKIPPED, g.skip)
        workers[w.device] = w
    return _one(e, g, outcome, w, opts, table)
