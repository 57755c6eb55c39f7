"""Regenerate docs/reliability.md: run the fault-injection suite (tests/test_reliability.py)
several times and measure how often the planted races are caught, then write what happened.

    python tests/reliability_report.py [--runs 3] [--race-samples 200] [--out docs/reliability.md]

The suite appends one JSON line per scenario run to HKTUNE_RELIABILITY_LOG; this script sets
it, repeats every scenario HKTUNE_RELIABILITY_RUNS times, and aggregates the lines.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORPHAN = "SIGKILL during a hang: no orphan worker"  # the known defect, explained in the report
ROOT = HERE.parent


def run_suite(runs: int, log: Path) -> tuple[int, str, float]:
    """Run the suite; (pytest's exit code, its summary line, seconds)."""
    env = {**os.environ, "HKTUNE_RELIABILITY_RUNS": str(runs), "HKTUNE_RELIABILITY_LOG": str(log)}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rxX", "-p", "no:cacheprovider",
                        str(HERE / "test_reliability.py")], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    return p.returncode, (lines[-1].strip("= ") if lines else p.stderr.strip()[-200:]), time.perf_counter() - t0


def race_rates(samples: int) -> list[dict]:
    """How often each racy kernel is caught by the search's checks, verification by verification."""
    os.environ.setdefault("HKTUNE_CACHE_DIR", tempfile.mkdtemp(prefix="hktune-race-cache-"))
    os.environ["HKTUNE_FAMILY_PATH"] = str(HERE / "families")
    sys.path.insert(0, str(ROOT))
    from hktune.build.builder import Builder
    from hktune.family.family import resolve
    from hktune.target import make_target
    from hktune.run.runner import Worker
    from hktune.search.driver import config_string

    fam = resolve("host", "racy")
    space = fam.space("host")
    rows = []
    with Builder(make_target(fam, "host", space), jobs=2) as b, Worker("cpu", timeout_s=120) as w:
        for fault, what in ((9, "tile written by a second thread after return"),
                            (10, "unsynchronised partial sums (OpenMP, lost updates)")):
            cfg = {"FAULT": fault, "BLOCK": 16}
            o = b.build(cfg)
            expected = config_string(space, cfg)
            for label, kw, n in (("one launch on one input", {"time": False, "inputs": 1, "back_to_back": 1}, samples),
                                 ("verification (2 inputs x 2 launches)", {"time": False}, samples),
                                 ("race hunting (4 inputs x 4 launches)", {"time": False, "inputs": 4, "back_to_back": 4}, samples),
                                 ("full trial (verification, timing, timed outputs re-checked)", {}, max(3, samples // 40))):
                caught = sum(not w.evaluate(o.artifact, expected, 64, 64, 64, **kw).get("ok") for _ in range(n))
                rows.append({"fault": fault, "what": what, "check": label, "n": n, "caught": caught})
    return rows


def aggregate(log: Path) -> "OrderedDict[str, dict]":
    out: OrderedDict[str, dict] = OrderedDict()
    for line in log.read_text().splitlines() if log.exists() else []:
        d = json.loads(line)
        a = out.setdefault(d["scenario"], {"kind": d["kind"], "expected": d["expected"], "runs": 0, "survived": 0,
                                           "lost_trials": 0, "lost_entries": 0, "bad_entries": 0, "codes": set(),
                                           "seconds": 0.0, "detail": d["detail"], "problems": []})
        a["runs"] += 1
        a["survived"] += bool(d["survived"] and not d["problems"])
        for k in ("lost_trials", "lost_entries", "bad_entries"):
            a[k] += d[k]
        if d["exit_code"] is not None:
            a["codes"].add(d["exit_code"])
        a["seconds"] += d["seconds"]
        a["problems"] += d["problems"]
        if not d["survived"]:
            a["detail"] = d["detail"]
    return out


def _cell(s: str) -> str:
    # Temporary folders and this checkout's path say nothing to a reader: shorten them.
    s = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/\s]+", "<tmp>", str(s)).replace(str(ROOT) + "/", "")
    return s.replace("|", "\\|").replace("\n", " ")


def environment() -> str:
    import torch

    from hktune.run.device_info import _cpu_name

    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return (f"{_cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}, {gxx}; "
            f"commit {commit}{' + uncommitted changes' if dirty else ''}; load average at the end "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def render(runs: int, suite: tuple[int, str, float], agg: "OrderedDict[str, dict]", races: list[dict], env: str) -> str:
    code, summary, secs = suite
    total = sum(a["runs"] for a in agg.values())
    lost = sum(a["lost_trials"] + a["lost_entries"] + a["bad_entries"] for a in agg.values())
    defects = {k: a for k, a in agg.items() if a["survived"] < a["runs"] and k != ORPHAN}
    lines = [
        "# Reliability: planted faults, kills and bad input",
        "",
        "Generated by `python tests/reliability_report.py` (do not edit by hand): it runs the fault-injection",
        f"suite `tests/test_reliability.py` with every scenario repeated {runs} times, then measures how often",
        "the planted races are caught. What each scenario checks:",
        "",
        "- **survived**: the search finished (exit 0) with the fault's trial FAILED with its reason and the",
        "  next config run after it; or, for bad input, it stopped at once with one clear line on stderr and",
        "  the documented exit code (2 bad input, 3 missing tool, 1 nothing verified);",
        "- **trials lost**: COMPLETE trials of the study before the scenario that are not COMPLETE (with the",
        "  same value) after it;",
        "- **entries lost**: table entries that disappeared or were replaced by a slower figure;",
        "- **wrong entries**: table entries that are not a correct kernel (FAULT not in (0, 8)) or not verified",
        "  (relative error not in (0, 1e-2)).",
        "",
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} on {env}.",
        f"pytest: {summary} (exit {code}), {secs:.0f} s for {runs} run(s) of every scenario.",
        "",
        f"**{total} scenario runs; {sum(a['survived'] for a in agg.values())} survived as documented; "
        f"{lost} finished trials or table entries lost or wrong.**",
        "",
        "| scenario | kind | runs | survived | trials lost | entries lost | wrong entries | exit | expected | what happened (last run, or a failing one) | s/run |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for name, a in agg.items():
        lines.append("| " + " | ".join(_cell(c) for c in [
            name, a["kind"], a["runs"], a["survived"], a["lost_trials"], a["lost_entries"], a["bad_entries"],
            ", ".join(map(str, sorted(a["codes"]))) or "–", a["expected"], a["detail"][:220],
            f"{a['seconds'] / max(a['runs'], 1):.0f}"]) + " |")
    lines += ["", "## Races: how often each is caught", "",
              "A planted race is only useful if the search's checks catch it every time. Per check, on the",
              "racy family (`tests/families/racy`), each row is repeated on fresh inputs:", "",
              "| FAULT | race | check | runs | caught |", "|---:|---|---|---:|---:|"]
    for r in races:
        lines.append(f"| {r['fault']} | {r['what']} | {r['check']} | {r['n']} | {r['caught']} ({r['caught'] / r['n']:.0%}) |")
    lines += [
        "",
        "FAULT=9 (a second thread finishes the last tile 50 ms after the launch returns) is deterministic",
        "for the harness: it checks right after the launches, so the tile is still the NaN poison (a pass",
        "would need the checking process to stall for 50 ms after every one of the launches it checks). It",
        "is the race the suite plants. FAULT=10 is a true data race (two OpenMP threads read-modify-write one",
        "shared buffer): it loses updates only when the two threads overlap in time, which the scheduler",
        "decides. The one-launch row shows how often a single launch goes wrong; on a 2-core machine busy",
        "with other work the threads often run one after the other and the result is right (during",
        "development one full trial, timing included, passed that way). Because a pass is possible, it is",
        "**not** among the suite's pass/fail scenarios; the counter-based intermittent fault (faulty FAULT=5,",
        "wrong on every third launch) stands for it there, and FAULT=9 is the race that is caught every time.",
        "",
        "## Known defects",
        "",
    ]
    for name, a in defects.items():
        lines.append(f"- **{name}**: {a['runs'] - a['survived']} of {a['runs']} run(s) did not behave as documented: "
                     f"{_cell(a['detail'])}")
    lines += [
        f"- **{ORPHAN}**: a search SIGKILLed while its worker is inside a hanging kernel leaves that worker running: the worker",
        "  has its own session (so that a hang can be killed as a group) and only exits when it reads its closed",
        "  stdin, which a hung kernel never does. On a GPU the orphan holds the device. Tracked by the strict",
        "  xfail `test_sigkill_during_a_hang_leaves_no_orphan_worker`, which starts passing once the worker",
        "  dies with its parent (e.g. `prctl(PR_SET_PDEATHSIG, SIGKILL)` at worker start, or a watchdog",
        "  thread polling `os.getppid()`).",
        "- Trials that a killed search had already asked (compile-ahead) stay RUNNING in the study until they are",
        "  older than `search.STALE_AFTER_S` (20 min), because a live search may share the study; their configs",
        "  remain candidates, so nothing is lost, but `hktune show --studies` lists them as running.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of every scenario")
    ap.add_argument("--race-samples", type=int, default=200, help="verifications per race and check")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hktune-reliability-") as d:
        log = Path(d) / "log.jsonl"
        print(f"running tests/test_reliability.py, {args.runs} run(s) of every scenario ...", file=sys.stderr)
        suite = run_suite(args.runs, log)
        agg = aggregate(log)
    print(f"pytest: {suite[1]}; measuring the races ...", file=sys.stderr)
    races = race_rates(args.race_samples)
    args.out.write_text(render(args.runs, suite, agg, races, environment()))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if suite[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
