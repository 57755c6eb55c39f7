#!/usr/bin/env python3
"""Compile a sample of the hipkittens space with a device-only HIP compiler and check each build.

Developer tool (not used by the engine). For every chosen config: compile to assembly with the
family's flags and the space's -D defines, read the resource usage (hktune.build.compilers.hip.collect_resources), count
MFMAs, run the vmcnt checker (hktune.build.amd.vmcnt) and apply the space's prune rules. One JSON line
per config goes to OUT/results.jsonl; a summary is printed.

  python bench/hipkittens_compile_sweep.py --arch gfx950 --hk-root $HIPKITTENS_ROOT \
      --cc hip-device-cc --out /tmp/sweep950 --structural --jobs 2

--structural compiles one config per combination of the compile-relevant knobs (every knob but
WGM and CHUNK, which only change index arithmetic; those are drawn at random), i.e. every
distinct kernel body of the valid space; --sample N draws N configs at random instead.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hktune.build.amd import vmcnt  # noqa: E402
from hktune.build.compilers.hip import collect_resources  # noqa: E402
from hktune.family.family import load_family  # noqa: E402

RUNTIME_ONLY = ("WGM", "CHUNK")


def choose(space, structural: bool, sample: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    valid = space.enumerate()
    picked: list[dict] = []
    if structural:
        groups: dict[tuple, list[dict]] = {}
        for c in valid:
            groups.setdefault(tuple(v for k, v in c.items() if k not in RUNTIME_ONLY), []).append(c)
        picked = [rng.choice(g) for g in groups.values()]
    elif sample:
        picked = rng.sample(valid, min(sample, len(valid)))
    for s in space.seeds:
        cfg = {k: v for k, v in s.items() if k in space.names}
        if cfg not in picked:
            picked.append(cfg)
    return picked


def compile_one(args, fam, space, cfg: dict, idx: int) -> dict:
    arch = args.arch
    spec = fam.arch(arch)
    defines = space.defines(cfg)
    out = Path(args.out) / f"c{idx:05d}"
    argv = [args.cc, *fam.flags_for(arch), *(f"-D{k}={v}" for k, v in defines.items()),
            f"-I{Path(args.hk_root) / 'include'}", "-Rpass-analysis=kernel-resource-usage",
            "-S", "-o", f"{out}.s", str(spec.source)]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True)
    secs = time.monotonic() - t0
    row = {"idx": idx, "config": cfg, "ok": p.returncode == 0, "seconds": round(secs, 2)}
    if p.returncode != 0:
        row["error"] = "\n".join(l for l in p.stderr.splitlines() if "error" in l)[:2000]
        Path(f"{out}.err").write_text(p.stderr)
        return row
    asm = Path(f"{out}.s")
    res, _notes = collect_resources(p.stderr, asm, None)  # the merge the product runs
    row["resources"] = res
    row["mfma"] = res.get("mfma_count")
    env = space.env(cfg)
    row["reg_est"] = env.get("HKT_REG_EST")
    fs = vmcnt.check_file(asm)
    bad = vmcnt.unsafe(fs)
    tile_ok = [f.slack for f in fs if f.status == "ok" and f.kind == "tile" and f.slack is not None]
    row["vmcnt_unsafe"] = len(bad)
    row["vmcnt_ok"] = sum(1 for f in fs if f.status == "ok")
    row["tile_min_slack"] = min(tile_ok) if tile_ok else None
    if bad:
        row["vmcnt_first"] = str(bad[0])
    spills = (res.get("vgpr_spills") or 0) + (res.get("sgpr_spills") or 0)
    row["pruned"] = []
    if spills > space.prune.get("max_spills", 1 << 30):
        row["pruned"].append(f"spills {spills}")
    occ_req = cfg.get("OCCUPANCY")
    if space.prune.get("min_occupancy_met") and occ_req and (res.get("occupancy") or 0) < occ_req:
        row["pruned"].append(f"occupancy {res.get('occupancy')} < {occ_req}")
    if not args.keep and not bad:
        asm.unlink(missing_ok=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True)
    ap.add_argument("--hk-root", required=True, help="HipKittens checkout of the arch's branch (has include/)")
    ap.add_argument("--cc", default="hip-device-cc")
    ap.add_argument("--out", required=True)
    ap.add_argument("--structural", action="store_true")
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep every .s (default: only unsafe ones)")
    args = ap.parse_args()
    fam = load_family(ROOT / "kernels" / "hipkittens")
    space = fam.space(args.arch)
    cfgs = choose(space, args.structural, args.sample, args.seed)
    if args.limit:
        cfgs = cfgs[: args.limit]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    print(f"{args.arch}: {len(space.enumerate())} valid configs, compiling {len(cfgs)}", flush=True)
    t0 = time.monotonic()
    rows = []
    with open(Path(args.out) / "results.jsonl", "w") as fh, ThreadPoolExecutor(args.jobs) as pool:
        for n, row in enumerate(pool.map(lambda ic: compile_one(args, fam, space, ic[1], ic[0]), enumerate(cfgs)), 1):
            rows.append(row)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            if n % 50 == 0:
                print(f"  {n}/{len(cfgs)} done, {time.monotonic() - t0:.0f} s", flush=True)
    ok = [r for r in rows if r["ok"]]
    secs = sorted(r["seconds"] for r in rows)
    print(f"compiled {len(ok)}/{len(rows)} ok; seconds/compile median {secs[len(secs)//2]:.2f}, "
          f"max {secs[-1]:.2f}; wall {time.monotonic() - t0:.0f} s")
    print(f"pruned (spills / occupancy): {sum(1 for r in ok if r['pruned'])}; "
          f"vmcnt unsafe builds: {sum(1 for r in ok if r['vmcnt_unsafe'])}")
    for r in rows:
        if not r["ok"]:
            print("FAILED", r["config"], r.get("error", "")[:300])
    return 0 if len(ok) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
