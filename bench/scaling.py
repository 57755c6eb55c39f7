"""Scaling of the search orchestration with the number of workers (CPU only: no GPU, no compiler).

    python bench/scaling.py [--workers 1,2,4,8,64] [--trial-s 0.3] [--compile-s 0] [--jobs 8]
                            [--per-worker 64 | --trials 256] [--strategy tpe] [--writers 1,4,16]
                            [--md bench/results/scaling-cpu-DATE.md] [--json ...]

Drives the REAL search loop (hktune.search.driver.Search with its executor and study recorder,
in one process, one thread per worker) with fake workers and a fake builder:

* the builder "compiles" a config in ``--compile-s`` seconds on a pool of ``--jobs`` threads;
* each worker's ``evaluate`` sleeps a trial time (``--trial-s`` +-10%, deterministic from the
  seed and the config) and answers a verified result from a synthetic, seeded landscape; race
  hunting (``time=False``) sleeps half a trial time.

Per run: wall time, speed-up over 1 worker, the workers' busy share (their own evaluate time
over workers x wall), the orchestration overhead per trial ((wall x workers - busy) / trials),
and the time the driver's thread spends in the study (recorder start = enqueue+ask, finish =
tell) and in the strategy's asks. Storage: a journal file; PostgreSQL too when
HKTUNE_TEST_PG_URL is set. The finalists' tournament, the sanitizer and warm start are off.

Separately, table-lock contention: N processes each recording entries into one table through
hktune.record.table.record; the time per record with 1, 4 and 16 writers.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scaling_lock import lock_contention
from scaling_report import lock_table, machine, scaling_table

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHAPE = (4096, 4096, 4096)
VENDOR_TFLOPS = 700.0


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2.0**64


def parse_config(expected: str) -> dict[str, int]:
    return {a: int(b) for a, b in (p.split("=") for p in expected.split(","))}


def landscape(seed: int, cfg: dict[str, int]) -> float | None:
    """Synthetic TFLOP/s of a config (None: it fails); smooth in each knob plus seeded noise."""
    key = tuple(sorted(cfg.items()))
    if _unit(seed, "fail", key) < 0.04:
        return None
    smooth = sum(_unit(seed, "knob", k, v) for k, v in cfg.items()) / max(1, len(cfg))
    return 250.0 + 500.0 * smooth + 60.0 * _unit(seed, "noise", key)


# -- the fake build and run side ------------------------------------------------------------------------
class FakeBuilder:
    """Compiles in ``compile_s`` seconds on ``jobs`` threads (Search needs submit, build, jobs,
    compiler_version, include_dirs)."""

    compiler_version = "fake"
    include_dirs: tuple = ()

    def __init__(self, compile_s: float = 0.0, jobs: int = 8) -> None:
        self.compile_s, self.jobs = compile_s, jobs
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="fake-build")
        self.count = 0

    def _build(self, cfg: dict[str, int]):
        from hktune.build.builder import BuildOutcome

        if self.compile_s > 0:
            time.sleep(self.compile_s)
        self.count += 1
        return BuildOutcome(config=dict(cfg), key="fake", ok=True, seconds=self.compile_s, cached=self.compile_s == 0,
                            artifact=Path("fake.so"), log_path=None)

    def submit(self, cfg: dict[str, int]) -> Future:
        if self.compile_s <= 0:
            f: Future = Future()
            f.set_result(self._build(cfg))
            return f
        return self.pool.submit(self._build, cfg)

    def build(self, cfg: dict[str, int]):
        return self.submit(cfg).result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class FakeWorker:
    """One 'GPU': evaluate sleeps a trial time and answers from the synthetic landscape. Keeps
    every timed evaluation's (config key, start, end) in ``log`` (its own clock)."""

    device = "cuda"

    def __init__(self, index: int, seed: int = 0, trial_s: float = 0.3, jitter: float = 0.1) -> None:
        self.index, self.seed, self.trial_s, self.jitter = index, seed, trial_s, jitter
        self.info = {"name": "FakeGPU", "units": 132, "arch": "sm_90", "backend": "fake", "torch": None}
        self.log: list[tuple[str, float, float]] = []
        self.hunts: list[tuple[float, float]] = []

    def prepare(self, m: int, n: int, k: int) -> dict[str, Any]:
        return {"ok": True}

    def evaluate(self, lib: Any, expected: str, m: int, n: int, k: int, time_: bool = True, **kw: Any) -> dict[str, Any]:
        timed = kw.pop("time", time_)
        cfg = parse_config(expected)
        key = json.dumps(sorted(cfg.items()))
        dt = self.trial_s * (1.0 + self.jitter * (2.0 * _unit(self.seed, "time", key) - 1.0))
        if not timed:
            dt *= 0.5
        t0 = time.perf_counter()
        time.sleep(dt)
        t1 = time.perf_counter()
        (self.log.append((key, t0, t1)) if timed else self.hunts.append((t0, t1)))
        tf = landscape(self.seed, cfg)
        if tf is None:
            return {"ok": False, "reason": "synthetic failure (wrong result)"}
        if not timed:
            return {"ok": True}
        flops = 2.0 * m * n * k
        return {"ok": True, "tflops": tf, "median_us": flops / (tf * 1e12) * 1e6, "spread": 0.01, "error": 1e-3,
                "vendor_tflops": VENDOR_TFLOPS, "vendor_us": flops / (VENDOR_TFLOPS * 1e12) * 1e6,
                "ratio": tf / VENDOR_TFLOPS, "launches": 20, "sets": 1}


# -- instrumentation -----------------------------------------------------------------------------------------
class Timer:
    """Wraps methods on an object and adds their wall time (seconds, calls) under a name."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}
        self.n: dict[str, int] = {}
        self.lock = threading.Lock()

    def wrap(self, obj: Any, method: str, name: str) -> None:
        fn = getattr(obj, method)

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                dt = time.perf_counter() - t0
                with self.lock:
                    self.s[name] = self.s.get(name, 0.0) + dt
                    self.n[name] = self.n.get(name, 0) + 1

        setattr(obj, method, timed)


def cuda_family():
    from hktune.family.family import resolve

    fam = resolve("sm_90", "cuda")
    space = fam.space("sm_90")
    space.seeds = []  # the harness measures the loop, not the shipped seeds
    return fam, space


def run_search(workers: int, trials: int, trial_s: float = 0.3, compile_s: float = 0.0, jobs: int = 8,
               seed: int = 0, strategy: str = "tpe", storage: str | None = None, tmp: str | None = None,
               jitter: float = 0.1) -> dict[str, Any]:
    """One search with ``workers`` fake workers; its measures."""
    import optuna

    from hktune.search.driver import Search, SearchOptions
    from hktune.target import make_target

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fam, space = cuda_family()
    own_tmp = None
    if tmp is None:
        own_tmp = tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        tmp = own_tmp.name
    try:
        store = storage or str(Path(tmp) / f"scaling-{strategy}-{workers}w-{seed}.journal")
        table = Path(tmp) / f"table-{strategy}-{workers}w-{seed}.json"
        ws = [FakeWorker(i, seed, trial_s, jitter) for i in range(workers)]
        builder = FakeBuilder(compile_s, jobs)
        opts = SearchOptions(*SHAPE, trials=trials, sampler=strategy, seed=seed, storage=store, table=table,
                             finalists=1, sanitize=False, warm_start=0)
        t_init = time.perf_counter()
        s = Search(make_target(fam, "sm_90", space, include_dirs=()), builder, ws, opts)
        init_s = time.perf_counter() - t_init
        # sqlite/postgres studies are shared by name: use a fresh name per run
        tm = Timer()
        tm.wrap(s.recorder, "start", "study_ask")      # enqueue_trial + ask + set_user_attr
        tm.wrap(s.recorder, "finish", "study_tell")    # set_user_attr + tell
        tm.wrap(s.strategy, "ask", "strategy_ask")
        tm.wrap(s.strategy, "observe", "strategy_observe")
        tm.wrap(s, "record_best", "table_record")
        t0 = time.perf_counter()
        summ = s.run()
        wall = time.perf_counter() - t0
        builder.close()
        logs = [e for w in ws for e in w.log]
        busy = sum(b - a for _, a, b in logs) + sum(b - a for w in ws for a, b in w.hunts)
        keys = [k for k, _, _ in logs]
        n = len(logs)
        from optuna.trial import TrialState

        states = [t.state for t in s.study.get_trials(deepcopy=False)]
        out = {
            "workers": workers, "trials": trials, "evaluated": n, "distinct": len(set(keys)),
            "recorded_complete": states.count(TrialState.COMPLETE), "recorded_fail": states.count(TrialState.FAIL),
            "recorded_other": len(states) - states.count(TrialState.COMPLETE) - states.count(TrialState.FAIL),
            "wall_s": wall, "init_s": init_s, "busy_s": busy, "hunts": sum(len(w.hunts) for w in ws),
            "busy_share": busy / (workers * wall) if wall else 0.0,
            "overhead_per_trial_ms": 1e3 * (wall * workers - busy) / max(1, n),
            "ideal_wall_s": busy / workers,
            "timers_s": {k: round(v, 4) for k, v in tm.s.items()}, "timer_calls": dict(tm.n),
            "best_ratio": (summ.best or {}).get("ratio"),
            "summary": {"evaluated": summ.evaluated, "succeeded": summ.succeeded, "failed": summ.failed},
            "storage": "journal" if storage is None else storage.split("://")[0],
            "trial_s": trial_s, "compile_s": compile_s, "jobs": jobs, "strategy": strategy,
        }
        out["study_ask_tell_s"] = tm.s.get("study_ask", 0.0) + tm.s.get("study_tell", 0.0)
        out["study_ask_tell_ms_per_trial"] = 1e3 * out["study_ask_tell_s"] / max(1, n)
        out["strategy_ms_per_trial"] = 1e3 * (tm.s.get("strategy_ask", 0.0) + tm.s.get("strategy_observe", 0.0)) / max(1, n)
        events = sorted([(a, 1) for _, a, _ in logs] + [(b, -1) for _, _, b in logs], key=lambda e: (e[0], e[1]))
        level = peak = 0
        for _, d in events:
            level += d
            peak = max(peak, level)
        out["max_concurrent"] = peak  # most timed evaluations overlapping, from the workers' own clocks
        out["first_to_last_s"] = (max(b for _, _, b in logs) - min(a for _, a, _ in logs)) if logs else 0.0
        return out
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()


# -- the benchmark -----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="1,2,4,8,64")
    ap.add_argument("--trial-s", type=float, default=0.3)
    ap.add_argument("--compile-s", default="0", help="comma list of compile times to run (e.g. 0,1)")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--per-worker", type=int, default=64, help="trial budget per worker (weak scaling)")
    ap.add_argument("--trials", type=int, default=0, help="a fixed trial budget instead (strong scaling)")
    ap.add_argument("--max-trials", type=int, default=4096)
    ap.add_argument("--strategy", default="tpe", help="comma list of strategies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--writers", default="1,4,16")
    ap.add_argument("--records", type=int, default=25, help="records per writer in the contention test")
    ap.add_argument("--tmpdir", default=None, help="where the journal and tables go (default: the system temp dir, "
                    "a disk as for a real search; /dev/shm to leave out file sync costs)")
    ap.add_argument("--include", action="append", help="JSON output of an earlier run whose rows to report too")
    ap.add_argument("--md", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    split = lambda s: [x for x in s.split(",") if x]
    storages: list[str | None] = [None]
    if os.environ.get("HKTUNE_TEST_PG_URL"):
        storages.append(os.environ["HKTUNE_TEST_PG_URL"])
    info = machine()
    print(f"machine: {info}", flush=True)
    rows: list[dict[str, Any]] = []
    locks: list[dict[str, Any]] = []
    for prev in args.include or []:  # rows of an earlier output (e.g. another strategy's runs)
        doc = json.loads(Path(prev).read_text())
        rows += [r for r in doc["scaling"] if r.get("evaluated")]  # (a finished study re-opened runs nothing)
        locks += doc["lock_contention"] if not split(args.writers) else []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:  # the study journal and table live here
        runs = [(st, sg, cs, w) for st in storages for sg in split(args.strategy) for cs in map(float, split(args.compile_s))
                for w in map(int, split(args.workers))]
        for store, strat, cs, w in runs:
            trials = args.trials or min(args.max_trials, args.per_worker * w)
            # a fresh study name per run (the name holds the shape only): seeds apart per run
            seed = args.seed + 1000 * w + 10 * int(cs * 10) + (1 if store else 0) + 100 * split(args.strategy).index(strat)
            r = run_search(w, trials, args.trial_s, cs, args.jobs, seed, strat, store, tmp)
            r["loadavg_after"] = list(os.getloadavg())
            rows.append(r)
            print(json.dumps({k: v for k, v in r.items() if k not in ("summary",)}), flush=True)
        for n in map(int, split(args.writers)):
            locks.append(lock_contention(n, args.records, tmp))
            print(json.dumps(locks[-1]), flush=True)
    info["loadavg_end"] = list(os.getloadavg())
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = [f"# Search orchestration scaling, CPU only ({date})", "",
          f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, Optuna {info['optuna']}; "
          f"load average at start {info['loadavg'][0]:.2f}/{info['loadavg'][1]:.2f}/{info['loadavg'][2]:.2f}, "
          f"at end {info['loadavg_end'][0]:.2f}.", "",
          f"Fake workers: {args.trial_s:g} s per trial (+-10%), race hunting of each new best 0.5 trial; fake builder on "
          f"{args.jobs} threads. Strategies {args.strategy}, finalists=1 (no tournament), no sanitizer, no warm start. "
          f"Budget: {'%d trials' % args.trials if args.trials else '%d trials per worker' % args.per_worker}. "
          f"Speed-up is in throughput (trials/s) over 1 worker. Study journal and table in {args.tmpdir or tempfile.gettempdir()}.", "", scaling_table(rows), "",
          f"Table-lock contention ({args.records} records per writer process, one table):", "", lock_table(locks), ""]
    text = "\n".join(md)
    print(text)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"date": date, "machine": info, "args": vars(args) | {"md": str(args.md), "json": str(args.json)},
                                         "scaling": rows, "lock_contention": locks}, indent=1, default=str))


if __name__ == "__main__":
    main()
