"""bench/scaling.py's report: the machine it ran on, and the markdown tables of the search runs
and of the table-lock contention."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import optuna

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "optuna": optuna.__version__,
            "platform": platform.platform(), "loadavg": list(os.getloadavg())}


def scaling_table(rows: list[dict[str, Any]]) -> str:
    base = {}
    for r in rows:
        if r["workers"] == 1:
            base[(r["storage"], r["compile_s"], r["strategy"])] = r
    head = ["strategy", "storage", "compile s", "workers", "trials", "wall s", "ideal wall s", "speed-up vs 1", "busy share",
            "overhead / trial ms", "study ask+tell ms/trial", "strategy ms/trial", "table record s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        b = base.get((r["storage"], r["compile_s"], r["strategy"]))
        # speed-up in throughput (trials/s), since the budget grows with the workers
        sp = (r["evaluated"] / r["wall_s"]) / (b["evaluated"] / b["wall_s"]) if b else float("nan")
        lines.append("| " + " | ".join([
            r["strategy"], r["storage"], f"{r['compile_s']:g}", str(r["workers"]), str(r["evaluated"]), f"{r['wall_s']:.1f}",
            f"{r['ideal_wall_s']:.1f}", f"{sp:.2f}x", f"{r['busy_share']:.3f}", f"{r['overhead_per_trial_ms']:.0f}",
            f"{r['study_ask_tell_ms_per_trial']:.1f}", f"{r['strategy_ms_per_trial']:.1f}",
            f"{r['timers_s'].get('table_record', 0.0):.2f}"]) + " |")
    return "\n".join(lines)


def lock_table(rows: list[dict[str, Any]]) -> str:
    head = ["writers", "records", "lock timeouts", "table entries at end", "wall s", "mean ms/record", "median ms", "p95 ms", "max ms", "records/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([str(r["writers"]), str(r["records"]), str(r.get("lock_timeouts", 0)),
                                        str(r.get("stored", "")), f"{r['wall_s']:.2f}", f"{r['mean_ms']:.1f}",
                                        f"{r['median_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}",
                                        f"{r['records_per_s']:.0f}"]) + " |")
    return "\n".join(lines)
