#!/usr/bin/env python3
"""Pairwise coverage of the hipkittens spaces in the AMD ISA emulator: a resumable run.

For each arch, the covering array of hktune.space.pairwise over every knob of the space (the
seeds first, then greedy rows until every feasible pair of knob values is in some row) is
compiled and emulated through `hktune verify`'s machinery (build cache, static checks, one run
per distinct body) at each config's default emulation shape. A row a static check rejects is
not emulated, so it covers nothing: once an arch's rows are done, replacement rows are drawn
(greedy, the rejected configs excluded) for the pairs only rejected rows had, up to --rounds.

One JSON line per config goes to --jsonl as soon as its chunk is done, plus one line per chunk
with its wall time; a killed run resumes (configs already there are not run again). Archs are
run in alternating chunks, so a partial run covers both. --summary-only rewrites the markdown.

    PYTHONPATH=. python bench/pairwise.py --hk-main DIR --hk-cdna3 DIR --jobs 2 \\
        --jsonl bench/results/pairwise-2026-12-04.jsonl --budget-s 2400
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hktune.build.builder import Builder  # noqa: E402
from hktune.emulator.locate import TINYGRAD_COMMIT, TINYGRAD_VERSION, EmulatorMissing, find  # noqa: E402
from hktune.emulator.run import host_cc  # noqa: E402
from hktune.emulator.verify import select, verify  # noqa: E402
from hktune.family.family import resolve  # noqa: E402
from hktune.target import make_target  # noqa: E402
from hktune.space import pairwise  # noqa: E402

ARCHS = ("gfx950", "gfx942")


def load(path: Path) -> tuple[list[dict], list[dict]]:
    """(config records, chunk records) of an existing JSONL (a line cut short by a kill is skipped)."""
    recs, chunks = [], []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            (chunks if r.get("chunk") else recs).append(r)
    return recs, chunks


def _t(space, c: dict) -> tuple:  # noqa: ANN001
    return tuple(int(c[k]) for k in space.names)


def plan(space, recs: list[dict]) -> list[dict]:  # noqa: ANN001
    """Seeds + covering array, then replacement rows for the pairs that rejected rows left uncovered."""
    seeds = select(space, seeds=True)
    rows = seeds + pairwise.covering_array(space, start=seeds)
    have = {_t(space, c) for c in rows}
    rows += [r["config"] for r in recs if _t(space, r["config"]) not in have]  # earlier replacements
    done = {_t(space, r["config"]): r for r in recs}
    rejected = [r["config"] for r in recs if r["status"] == "rejected"]
    if rejected and all(_t(space, r) in done for r in rows):
        covering = [r["config"] for r in recs if r.get("body")]
        extra = pairwise.covering_array(space, start=covering, exclude=rejected)
        rows += [c for c in extra if _t(space, c) not in done]
    return rows


def summary(path: Path, md: Path) -> str:
    recs, chunks = load(path)
    lines = [f"# Pairwise coverage of the hipkittens spaces in the ISA emulator ({dt.date.today().isoformat()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs, no GPU; Python "
             f"{platform.python_version()}. Emulator: tinygrad {TINYGRAD_VERSION} + test files at {TINYGRAD_COMMIT[:12]}. "
             f"Source: `{path.name}`; script: `bench/pairwise.py` (covering array: `hktune/space/pairwise.py`, every knob "
             "of the space is a factor). Each config runs at its default emulation shape (2x2 blocks, "
             "2*(PREFETCH+1)+1 K tiles).", "",
             "| arch | rows planned (seeds + array + replacements) | done | emulated bodies | passed | failed | rejected (static check) "
             "| feasible pairs | covered by an emulated body | s / emulation (median) | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    fails = []
    for arch in ARCHS:
        rs = [r for r in recs if r["arch"] == arch]
        space = resolve(arch, "hipkittens").space(arch)
        planned = plan(space, rs)
        feas = pairwise.feasible_pairs(space)
        emulated = [r for r in rs if r.get("body")]
        missing = pairwise.uncovered(space, [r["config"] for r in emulated])
        secs = [r["seconds"] for r in emulated if r.get("seconds") and r.get("lead")]
        wall = sum(c["wall_s"] for c in chunks if c["arch"] == arch)
        n = {s: sum(1 for r in rs if r["status"] == s) for s in ("passed", "failed", "rejected")}
        lines.append(f"| {arch} | {len(planned)} | {len(rs)} ({100 * len(rs) / max(1, len(planned)):.0f} %) | "
                     f"{len({r['body'] for r in emulated})} | {n['passed']} | {n['failed']} | {n['rejected']} | {len(feas)} | "
                     f"{len(feas) - len(missing)} ({100 * (len(feas) - len(missing)) / max(1, len(feas)):.1f} %) | "
                     f"{statistics.median(secs) if secs else 0:.1f} | {wall:.0f} |")
        fails += [r for r in rs if r["status"] == "failed"]
    lines += ["", f"Failures: {len(fails)}."]
    for r in fails[:50]:
        lines.append(f"- {r['arch']} `{','.join(f'{k}={v}' for k, v in r['config'].items())}`: {r.get('reason')}")
    rej = [r for r in recs if r["status"] == "rejected"]
    if rej:
        lines += ["", "Rejected by a static check (not emulated; replaced by rows covering their pairs):"]
        lines += [f"- {r['arch']} `{','.join(f'{k}={v}' for k, v in r['config'].items())}`: {r.get('reason')}" for r in rej]
    text = "\n".join(lines) + "\n"
    md.write_text(text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=ARCHS, action="append", help="default: both")
    ap.add_argument("--hk-main", type=Path, default=os.environ.get("HKTUNE_TEST_HK_MAIN"))
    ap.add_argument("--hk-cdna3", type=Path, default=os.environ.get("HKTUNE_TEST_HK_CDNA3"))
    ap.add_argument("--jsonl", type=Path, default=ROOT / "bench" / "results" / "pairwise.jsonl")
    ap.add_argument("--summary", type=Path, default=None, help="markdown summary (default: --jsonl with .md)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=4, help="configs per chunk (the unit of resumption)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per emulated run")
    ap.add_argument("--budget-s", type=float, default=None, help="start no chunk after this many seconds")
    ap.add_argument("--summary-only", action="store_true")
    args = ap.parse_args()
    md = args.summary or args.jsonl.with_suffix(".md")
    if not args.summary_only:
        try:
            find()
            host_cc()
        except EmulatorMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 3
        archs = args.arch or list(ARCHS)
        roots = {"gfx950": args.hk_main, "gfx942": args.hk_cdna3}
        for a in archs:
            if not roots[a] or not (Path(roots[a]) / "include" / "kittens.cuh").is_file():
                print(f"error: {a} needs a HipKittens tree (--hk-main / --hk-cdna3)", file=sys.stderr)
                return 3
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        active = list(archs)
        with open(args.jsonl, "a") as out:
            while active and (args.budget_s is None or time.monotonic() - t0 < args.budget_s):
                for a in list(active):
                    fam = resolve(a, "hipkittens")
                    space = fam.space(a)
                    recs = [r for r in load(args.jsonl)[0] if r["arch"] == a]
                    done = {_t(space, r["config"]) for r in recs}
                    todo = [c for c in plan(space, recs) if _t(space, c) not in done][:args.chunk]
                    if not todo:
                        active.remove(a)
                        continue
                    tc = time.monotonic()
                    with Builder(make_target(fam, a, space, include_dirs=[Path(roots[a]) / "include"]), jobs=args.jobs) as b:
                        rows = verify(b, todo, jobs=args.jobs, timeout_s=args.timeout)
                    wall = time.monotonic() - tc
                    leads: set = set()
                    for r in rows:
                        lead = bool(r.body) and (r.body, r.shape) not in leads
                        leads.add((r.body, r.shape))
                        out.write(json.dumps({"arch": a, **r.as_dict(), "lead": lead}, default=str) + "\n")
                    out.write(json.dumps({"chunk": True, "arch": a, "n": len(rows), "wall_s": round(wall, 1),
                                          "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}) + "\n")
                    out.flush()
                    print(f"{a}: {len(recs) + len(rows)} done, chunk of {len(rows)} in {wall:.0f} s", file=sys.stderr)
        print(f"stopped after {time.monotonic() - t0:.0f} s ({'complete' if not active else 'budget spent'})", file=sys.stderr)
    print(summary(args.jsonl, md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
