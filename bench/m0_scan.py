"""Flag rate of the M0 check (hktune.build.amd.m0) on a random sample of hipkittens configs, and
optionally the emulator's verdict on some flagged and some unflagged ones (run directly, since
`hktune verify` no longer emulates a config a static check rejects).

    PYTHONPATH=. python bench/m0_scan.py --arch gfx950 --hk-root DIR --sample 60 \
        [--emulate-flagged 3 --emulate-ok 3] [--json out.jsonl]

Compiles go through the build cache; prints one line per config and a summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hktune.build.amd import m0
from hktune.build.builder import Builder
from hktune.emulator.verify import default_shape, device_code_object, select
from hktune.family.family import resolve
from hktune.target import make_target


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="gfx950")
    ap.add_argument("--hk-root", required=True)
    ap.add_argument("--sample", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", action="store_true", help="also the space's seeds")
    ap.add_argument("--config", action="append", default=[], help="extra config K=V,... (repeatable)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--emulate-flagged", type=int, default=0)
    ap.add_argument("--emulate-ok", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    fam = resolve(a.arch, "hipkittens")
    space = fam.space(a.arch)
    configs = select(space, sample=a.sample, rng_seed=a.seed)
    if a.seeds:
        configs = select(space, seeds=True) + configs
    for text in a.config:
        configs.insert(0, {k: int(v) for k, v in (kv.split("=") for kv in text.split(","))})
    seen: set[tuple] = set()
    configs = [c for c in configs if not (tuple(c.values()) in seen or seen.add(tuple(c.values())))]
    rows = []
    t0 = time.perf_counter()
    with Builder(make_target(fam, a.arch, space, roots={"hipkittens": a.hk_root}), jobs=a.jobs) as b:
        for o in b.build_many(configs):
            if not o.ok or o.asm is None:
                verdict = "compile failed"
            else:
                verdict = m0.build_check(o.asm)
            cfg = {k: o.config[k] for k in space.names}
            rows.append({"config": cfg, "m0": verdict, "vmcnt_reason": o.reason, "artifact": str(o.artifact),
                         "cached": o.cached})
            print(("FLAG " if verdict != "ok" else "ok   ") + ",".join(f"{k}={v}" for k, v in cfg.items())
                  + ("" if verdict == "ok" else "  " + verdict), flush=True)
    n_flag = sum(r["m0"] not in ("ok", "compile failed") for r in rows)
    print(f"{len(rows)} configs, {n_flag} flagged by m0, "
          f"{sum(r['m0'] == 'compile failed' for r in rows)} compile failures; {time.perf_counter() - t0:.0f} s",
          flush=True)

    todo = [r for r in rows if r["m0"] not in ("ok", "compile failed")][: a.emulate_flagged]
    todo += [r for r in rows if r["m0"] == "ok"][: a.emulate_ok]
    if todo:
        from concurrent.futures import ThreadPoolExecutor

        from hktune.emulator.run import emulate

        def one(r: dict) -> tuple[dict, tuple, dict]:
            co = device_code_object(Path(r["artifact"]), Path(tmp))
            shape = default_shape(space, r["config"])
            return r, shape, emulate(co, r["config"], space, *shape)

        with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(a.jobs) as pool:
            for r, shape, res in pool.map(one, todo):
                r["emulator"] = {"ok": bool(res.get("ok")), "reason": res.get("reason"), "seconds": res.get("seconds"),
                                 "shape": list(shape)}
                print(f"emulated {'FLAG' if r['m0'] != 'ok' else 'ok  '} -> {'pass' if res.get('ok') else 'FAIL'} "
                      f"({(res.get('reason') or '')[:120]}) {res.get('seconds') or 0:.1f} s  "
                      + ",".join(f"{k}={v}" for k, v in r["config"].items()), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
