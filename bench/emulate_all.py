#!/usr/bin/env python3
"""Emulate every distinct kernel body of the hipkittens spaces (gfx950 and gfx942) in tinygrad's
AMD ISA emulator: a resumable, parallel run.

Each config is compiled through hktune's Builder (build cache; the vmcnt check runs there),
its code object's body hash (.text + kernel descriptors) looked up, and each (body, shape) is
emulated once at the per-config default shape of `hktune verify` (2x2 blocks, 2*(PREFETCH+1)+1
K tiles). One JSON line per config is appended to --jsonl as soon as it is known, so a killed
run resumes where it stopped (configs already there are skipped; bodies already emulated are
not emulated again). --summary writes a markdown summary of everything in the JSONL.

The whole run is long: ~25k + ~2k valid configs, ~4 s per compile and 5-20 s per distinct body
on a 2-core CPU. --limit N takes N configs per arch (a seeded random sample: the same N on a
resume). Example (the sample in bench/results/):

    PYTHONPATH=. HKTUNE_EMULATOR_DIR=/path/to/tinygrad-amd-emu python bench/emulate_all.py \\
        --hk-main /path/hipkittens-main --hk-cdna3 /path/hipkittens-cdna3 --limit 6 --jobs 2 \\
        --jsonl bench/results/emulate-sample.jsonl --summary bench/results/emulate-sample.md
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hktune.build.builder import Builder  # noqa: E402
from hktune.build.amd import codeobject  # noqa: E402
from hktune.emulator.locate import TINYGRAD_COMMIT, TINYGRAD_VERSION, EmulatorMissing, find  # noqa: E402
from hktune.emulator.run import emulate, host_cc  # noqa: E402
from hktune.emulator.verify import default_shape, device_code_object  # noqa: E402
from hktune.family.family import resolve  # noqa: E402
from hktune.target import make_target  # noqa: E402

HK_ENV = {"gfx950": ("--hk-main", "HKTUNE_TEST_HK_MAIN"), "gfx942": ("--hk-cdna3", "HKTUNE_TEST_HK_CDNA3")}


def load_done(path: Path) -> tuple[set, dict]:
    """(done (arch, build key) pairs, {(arch, body, shape): result}) from an existing JSONL."""
    done, bodies = set(), {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            done.add((r["arch"], r["key"]))
            if r.get("body") and r.get("emulated"):
                bodies[(r["arch"], r["body"], tuple(r["shape"]))] = r["result"]
    return done, bodies


def run_arch(arch: str, hk: Path, args, out, lock: threading.RLock, done: set, bodies: dict) -> None:  # noqa: ANN001
    fam = resolve(arch, "hipkittens")
    space = fam.space(arch)
    configs = space.enumerate()
    random.Random(args.seed).shuffle(configs)
    if args.limit:
        configs = configs[:args.limit]
    builder = Builder(make_target(fam, arch, space, include_dirs=[hk / "include"]), jobs=args.jobs)
    todo = [c for c in configs if (arch, builder.key(c)) not in done]
    print(f"{arch}: {len(configs)} configs, {len(configs) - len(todo)} already done", file=sys.stderr)

    def write(rec: dict) -> None:
        with lock:
            out.write(json.dumps(rec) + "\n")
            out.flush()

    pending: dict[tuple, list[dict]] = {}  # (body, shape) -> records waiting for its run
    inflight: dict[tuple, object] = {}
    pool = ThreadPoolExecutor(max_workers=args.jobs)

    def finish(key: tuple, fut) -> None:  # noqa: ANN001
        res = fut.result()
        with lock:
            bodies[(arch, *key)] = res
            recs = pending.pop(key, [])
        for i, rec in enumerate(recs):
            write({**rec, "result": res, "emulated": i == 0})

    with tempfile.TemporaryDirectory(prefix="hktune-emulate-all-") as tmp, builder:
        chunk = max(4, 4 * args.jobs)
        for i in range(0, len(todo), chunk):
            for o in builder.build_many(todo[i:i + chunk]):
                cfg = {k: o.config[k] for k in space.names}
                shape = default_shape(space, cfg)
                rec = {"arch": arch, "key": o.key, "config": cfg, "shape": list(shape), "body": None,
                       "build_s": round(o.seconds, 2), "cached_build": o.cached, "build_note": o.reason}
                if not o.ok or (o.reason or "").startswith("rejected by") or o.artifact is None:
                    write({**rec, "result": {"ok": False, "reason": o.reason or "no artifact"}, "emulated": False})
                    continue
                co = device_code_object(o.artifact, Path(tmp))
                body = codeobject.load(co).body_hash
                rec["body"] = body
                key = (body, shape)
                with lock:
                    known = bodies.get((arch, *key))
                    if known is None:
                        pending.setdefault(key, []).append(rec)
                        if key not in inflight:
                            fut = pool.submit(emulate, co, cfg, space, *shape,
                                              timeout_s=args.timeout)
                            inflight[key] = fut
                            fut.add_done_callback(lambda f, key=key: finish(key, f))
                if known is not None:
                    write({**rec, "result": known, "emulated": False})
            # keep the compile queue at most one chunk ahead of the emulator
            while sum(not f.done() for f in inflight.values()) > args.jobs:
                time.sleep(0.5)
        pool.shutdown(wait=True)


def summary(path: Path, md: Path) -> str:
    recs = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    lines = [f"# Emulated hipkittens kernel bodies ({dt.date.today().isoformat()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU; Python {platform.python_version()}. "
             f"Source: `{path.name}` ({len(recs)} configs). Emulator: tinygrad {TINYGRAD_VERSION} + test files at "
             f"{TINYGRAD_COMMIT[:12]} (hktune/emulator/locate.py).", "",
             "| arch | configs | build rejected | distinct bodies emulated | passed | failed | s / emulation (median, min-max) | MxNxK |",
             "|---|---|---|---|---|---|---|---|"]
    fails = []
    for arch in ("gfx950", "gfx942"):
        rs = [r for r in recs if r["arch"] == arch]
        if not rs:
            continue
        rejected = [r for r in rs if not r.get("body")]
        runs = [r for r in rs if r.get("emulated")]
        secs = [r["result"]["seconds"] for r in runs if r["result"].get("seconds")]
        passed = sum(1 for r in runs if r["result"].get("ok"))
        shapes = sorted({"x".join(map(str, r["shape"])) for r in runs})
        lines.append(f"| {arch} | {len(rs)} | {len(rejected)} | {len(runs)} | {passed} | {len(runs) - passed} | "
                     + (f"{statistics.median(secs):.1f} ({min(secs):.1f}-{max(secs):.1f})" if secs else "-")
                     + f" | {', '.join(shapes)} |")
        fails += [r for r in rs if not r["result"].get("ok")]
    lines += ["", f"Configs that share a body with an earlier config reuse its run. Failures: {len(fails)}."]
    for r in fails[:50]:
        cfg = ",".join(f"{k}={v}" for k, v in r["config"].items())
        lines.append(f"- {r['arch']} `{cfg}`: {r['result'].get('reason')}")
    text = "\n".join(lines) + "\n"
    md.write_text(text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=["gfx950", "gfx942"], action="append", help="default: both")
    ap.add_argument("--hk-main", type=Path, default=os.environ.get("HKTUNE_TEST_HK_MAIN"))
    ap.add_argument("--hk-cdna3", type=Path, default=os.environ.get("HKTUNE_TEST_HK_CDNA3"))
    ap.add_argument("--jsonl", type=Path, default=ROOT / "bench" / "results" / "emulate-all.jsonl")
    ap.add_argument("--summary", type=Path, default=None, help="markdown summary (default: --jsonl with .md)")
    ap.add_argument("--limit", type=int, default=None, help="configs per arch (a seeded random sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per emulated run")
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
        archs = args.arch or ["gfx950", "gfx942"]
        roots = {"gfx950": args.hk_main, "gfx942": args.hk_cdna3}
        for a in archs:
            if not roots[a] or not (Path(roots[a]) / "include" / "kittens.cuh").is_file():
                print(f"error: {a} needs a HipKittens tree: {HK_ENV[a][0]} DIR or {HK_ENV[a][1]}", file=sys.stderr)
                return 3
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
        done, bodies = load_done(args.jsonl)
        lock = threading.RLock()  # a done-callback may run in the submitting thread
        t0 = time.perf_counter()
        with open(args.jsonl, "a") as out:
            for a in archs:
                run_arch(a, Path(roots[a]), args, out, lock, done, bodies)
        print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(summary(args.jsonl, md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
