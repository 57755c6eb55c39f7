"""Table-lock contention for bench/scaling.py: N processes each recording entries into one table
through hktune.record.table.record, timed record by record."""
from __future__ import annotations

import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _writer(args: tuple[str, int, int, Any]) -> list[float]:
    path, who, count, barrier, timeout = args
    sys.path.insert(0, str(ROOT))
    from hktune.record import table as tbl

    times: list[float] = []
    failed: list[float] = []
    barrier.wait()
    for i in range(count):
        key = tbl.Key("cuda", "sm_90", "bf16", "ABt", 256 * (who + 1), 256 * (i + 1), 4096)
        e = tbl.Entry(key=key, config={"BLOCK_M": 128}, tflops=500.0 + i, time_us=100.0, spread=0.01,
                      vendor={"name": "torch.matmul", "tflops": 700.0, "time_us": 90.0}, ratio=0.7 + i * 1e-3,
                      error=1e-3, trials=10, date="2026-12-01T00:00:00+00:00",
                      device={"name": "FakeGPU", "units": 132, "arch": "sm_90"}, toolchain={}, template_hash="x",
                      extra={})
        t0 = time.perf_counter()
        try:
            tbl.record(path, e, max_error=0.02, timeout=timeout)
        except tbl.TableError:
            failed.append(time.perf_counter() - t0)  # timed out waiting for the lock
            continue
        times.append(time.perf_counter() - t0)
    return times, failed


def lock_contention(writers: int, per_writer: int, tmp: str, timeout: float = 120.0) -> dict[str, Any]:
    path = str(Path(tmp) / f"contention-{writers}.json")
    ctx = mp.get_context("spawn")
    with ctx.Manager() as mgr:
        barrier = mgr.Barrier(writers)
        with ctx.Pool(writers) as pool:
            t0 = time.perf_counter()
            res = pool.map(_writer, [(path, w, per_writer, barrier, timeout) for w in range(writers)])
            wall = time.perf_counter() - t0
    from hktune.record import table as tbl

    flat = sorted(t for r, _ in res for t in r) or [float("nan")]
    timeouts = sum(len(f) for _, f in res)
    stored = len(tbl.load(path))
    return {"writers": writers, "records": len(flat), "lock_timeouts": timeouts, "stored": stored, "wall_s": wall,
            "mean_ms": 1e3 * statistics.fmean(flat), "median_ms": 1e3 * statistics.median(flat),
            "p95_ms": 1e3 * flat[int(0.95 * (len(flat) - 1))], "max_ms": 1e3 * flat[-1],
            "records_per_s": len(flat) / wall}
