"""Barrier / wait ablation matrix of the hipkittens templates (issue 23, item 1).

For one config per (arch, schedule), compile the template, then for every ``s_barrier`` and
every vmcnt / lgkmcnt field of every ``s_waitcnt`` of the pipeline (prologue, main loop,
remainder, drain, epilogue; hktune.build.amd.ablate.sites) remove that one site, and judge the
result:

* ``static``   - a static check of the build (vmcnt, m0, lds) rejects it (the reason is kept);
* ``emulator`` - the static checks pass and the emulated GEMM is wrong (or crashes);
* ``harmless`` - the static checks pass and the emulator passes: the checker's argument (every
  cross-wave LDS access still lag+1 barriers from the conflicting access's retire, every
  loaded register / tile retired before its use) is recorded with the row;
(``static+emulator``: caught by a static check and, with --emulate-all, wrong in the emulator too.)

With ``--emulate-all`` the removals the static checks catch are emulated too (the emulator's own
verdict on them, for the matrix; costs ~10 s each). Resumable: rows are appended to a JSONL file
and a rerun skips (config, site) pairs already there.

    PYTHONPATH=. python bench/barrier_ablation.py --jsonl bench/results/barrier-ablation-DATE.jsonl \
        --md bench/results/barrier-ablation-DATE.md [--only gfx950:0] [--jobs 2] [--emulate-all]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hktune.build.amd import ablate
from hktune.build.amd.asm import parse
from hktune.build.compilers.base import CompileJob
from hktune.build.compilers.hip import HipCompiler
from hktune.emulator import emulate
from hktune.emulator.verify import default_shape
from hktune.family.family import load_family

ROOT = Path(__file__).resolve().parents[1]
FAMILY = ROOT / "kernels" / "hipkittens"
HK_ENV = {"gfx950": "HKTUNE_TEST_HK_MAIN", "gfx942": "HKTUNE_TEST_HK_CDNA3"}

# One config per (arch, schedule): HK's 1024 seed (ping-pong), the same block in lockstep, and on
# gfx950 the producer/consumer seed (SCHEDULE 2: HK's micro_02_2stage_8c4p configuration).
BASE = {
    "gfx950": {"BLOCK_M": 128, "BLOCK_N": 128, "K_STEP": 64, "WARPS_M": 2, "WARPS_N": 4, "PREFETCH": 1,
               "SCHEDULE": 0, "VMCNT_0": 3, "VMCNT_1": -1, "LGKMCNT": 4, "OCCUPANCY": 2, "SETPRIO": 1,
               "WGM": 2, "CHUNK": 4},
    "gfx942": {"BLOCK_M": 128, "BLOCK_N": 128, "K_STEP": 64, "WARPS_M": 2, "WARPS_N": 4, "PREFETCH": 1,
               "SCHEDULE": 0, "VMCNT": -1, "LGKMCNT": 0, "OCCUPANCY": 2, "SETPRIO": 1, "WGM": 4, "CHUNK": 16},
}
LOCKSTEP = {"gfx950": {"SCHEDULE": 1, "LGKMCNT": 0, "VMCNT_0": 2, "WARPS_N": 2, "OCCUPANCY": 1},
            "gfx942": {"SCHEDULE": 1}}
PRODUCER_CONSUMER = {"gfx950": {"BLOCK_N": 256, "SCHEDULE": 2, "VMCNT_0": 0, "LGKMCNT": 0, "OCCUPANCY": 3, "WGM": 4,
                                "CHUNK": 16}}
SCHEDULE_NAMES = {0: "ping-pong", 1: "lockstep", 2: "producer/consumer"}


def configs(only: list[str]) -> list[tuple[str, dict]]:
    out = []
    for arch in ("gfx950", "gfx942"):
        for sched in (0, 1, 2):
            if (only and f"{arch}:{sched}" not in only) or (sched == 2 and arch not in PRODUCER_CONSUMER):
                continue
            cfg = dict(BASE[arch])
            cfg.update({0: {}, 1: LOCKSTEP[arch], 2: PRODUCER_CONSUMER.get(arch, {})}[sched])
            out.append((arch, cfg))
    return out


def cfg_text(cfg: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in cfg.items())


def compile_base(arch: str, cfg: dict, work: Path):  # noqa: ANN201
    fam = load_family(FAMILY)
    root = os.environ.get(HK_ENV[arch])
    if not root:
        sys.exit(f"barrier_ablation: error: set {HK_ENV[arch]} to a HipKittens checkout for {arch}")
    space = fam.space(arch)
    job = CompileJob(source=fam.arch(arch).source, out=work / "libhktune.so", arch=arch,
                     defines=space.defines(cfg), flags=fam.flags_for(arch), include_dirs=(Path(root) / "include",))
    res = HipCompiler().compile(job)
    if not res.ok:
        sys.exit(f"barrier_ablation: error: {arch} {cfg_text(cfg)} does not compile:\n{res.log[-2000:]}")
    return res, job, space


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--md", default=None)
    ap.add_argument("--only", action="append", default=[], help="arch:schedule, e.g. gfx950:0 (repeatable)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--emulate-all", action="store_true", help="also emulate removals a static check catches")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--restatic", action="store_true",
                    help="re-judge the rows of the current base builds with the current static checks (the "
                         "emulator verdicts stand: the code is the same); a row a check now catches turns static")
    a = ap.parse_args()
    if a.restatic:
        return restatic(Path(a.jsonl), Path(a.md) if a.md else None, a.only)

    out = Path(a.jsonl)
    done = set()
    if out.exists():
        for ln in out.read_text().splitlines():
            r = json.loads(ln)
            done.add((r["base"], r["site"]))
    t_start = time.perf_counter()
    for arch, cfg in configs(a.only):
        with tempfile.TemporaryDirectory(prefix="hkt-ablate-") as tmp:
            base_res, job, space = compile_base(arch, cfg, Path(tmp) / "base")
            text = base_res.asm.read_text(errors="replace")
            base = base_hash(text)
            base_static = ablate.static_verdicts(base_res.asm)
            assert all(v == "ok" for v in base_static.values()), base_static
            shape = default_shape(space, cfg)
            todo = [s for s in ablate.sites(text) if (base, s.id) not in done]
            print(f"{arch} SCHEDULE={cfg['SCHEDULE']}: {len(ablate.sites(text))} sites, {len(todo)} to do "
                  f"({ablate.region_counts(ablate.sites(text))})", flush=True)

            def one(site: ablate.Site, tmp: str = tmp, text: str = text, job: CompileJob = job,
                    arch: str = arch, cfg: dict = cfg, base: str = base, shape: tuple = shape) -> dict:
                t0 = time.perf_counter()
                work = Path(tmp) / site.id.replace("@", "-")
                work.mkdir(parents=True, exist_ok=True)
                mod = ablate.ablate(text, site)
                asm = work / "ablated.s"
                asm.write_text(mod)
                verdicts = ablate.static_verdicts(asm)
                caught = {k: v for k, v in verdicts.items() if v != "ok"}
                row = {"arch": arch, "schedule": cfg["SCHEDULE"], "config": cfg, "base": base, "site": site.id,
                       "what": site.what, "region": site.region, "text": site.text, "removal": site.removal,
                       "static": caught or "ok", "shape": list(shape)}
                if caught:
                    row["verdict"] = "static"
                else:
                    row["argument"] = ablate.argument(asm)
                if not caught or a.emulate_all:
                    try:
                        co = ablate.assemble(arch, mod, work)
                        res = emulate(co, cfg, space, *shape, timeout_s=a.timeout)
                    except RuntimeError as e:
                        res = {"ok": False, "reason": str(e)}
                    row["emulator"] = {k: res.get(k) for k in ("ok", "error", "bad_elements", "reason", "seconds")}
                    if not caught:
                        row["verdict"] = "harmless" if res.get("ok") else "emulator"
                    elif not res.get("ok"):
                        row["verdict"] = "static+emulator"
                row["wall_s"] = round(time.perf_counter() - t0, 2)
                return row

            with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
                for row in pool.map(one, todo):
                    with out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"  {row['verdict']:16s} {row['site']:16s} {row['region']:10s} {row['text'][:40]:40s} "
                          f"{row['wall_s']:.1f}s", flush=True)
    print(f"wall {time.perf_counter() - t_start:.0f} s")
    if a.md:
        Path(a.md).write_text(summary(out))
    return 0


def base_hash(text: str) -> str:
    """Identity of a base build: its kernel's instructions and markers (not the temporary paths
    that the assembly's directives name)."""
    instrs, _ = parse(text)
    return hashlib.sha256("\n".join(f"{i.op} {i.args} {i.marker}" for i in instrs).encode()).hexdigest()[:16]


def restatic(jsonl: Path, md: Path | None, only: list[str]) -> int:
    rows = [json.loads(ln) for ln in jsonl.read_text().splitlines()]
    changed = 0
    for arch, cfg in configs(only):
        with tempfile.TemporaryDirectory(prefix="hkt-ablate-") as tmp:
            base_res, _, _ = compile_base(arch, cfg, Path(tmp) / "base")
            text = base_res.asm.read_text(errors="replace")
            by_id = {s.id: s for s in ablate.sites(text)}
            mine = [r for r in rows if (r["arch"], r["schedule"]) == (arch, cfg["SCHEDULE"])]
            if not mine:
                continue
            latest = mine[-1]["base"]
            mine = [r for r in mine if r["base"] == latest]
            if any(r["site"] not in by_id or by_id[r["site"]].text != r["text"] for r in mine):
                sys.exit(f"barrier_ablation: error: {arch} SCHEDULE={cfg['SCHEDULE']} compiles to other code than "
                         "its rows were judged on: rerun the ablation")
            for r in mine:
                asm = Path(tmp) / "ablated.s"
                asm.write_text(ablate.ablate(text, by_id[r["site"]]))
                caught = {k: v for k, v in ablate.static_verdicts(asm).items() if v != "ok"}
                if caught and r["verdict"] in ("harmless", "emulator"):
                    r.update(static=caught, verdict="static+emulator" if r["verdict"] == "emulator" else "static",
                             restatic=True)
                    r.pop("argument", None)
                    changed += 1
                    print(f"  now static: {arch} SCHEDULE={cfg['SCHEDULE']} {r['site']}: {next(iter(caught.values()))[:120]}")
                elif not caught and r["verdict"].startswith("static"):
                    sys.exit(f"barrier_ablation: error: {r['site']} is no longer caught: rerun it with the emulator")
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{changed} rows now caught statically")
    if md:
        md.write_text(summary(jsonl))
    return 0


def summary(jsonl: Path) -> str:
    rows = [json.loads(ln) for ln in jsonl.read_text().splitlines()]
    # a rerun after a template change appends rows of a new base build: the latest base counts
    latest = {(r["arch"], r["schedule"]): r["base"] for r in rows}
    stale = [r for r in rows if latest[(r["arch"], r["schedule"])] != r["base"]]
    rows = [r for r in rows if latest[(r["arch"], r["schedule"])] == r["base"]]
    lines = ["# Barrier / wait ablation of the hipkittens templates", "",
             "Generated by `bench/barrier_ablation.py` from the JSONL next to this file (one row per removal, with "
             "the static checks' verdicts, the checker's argument for a harmless removal and the emulator's result); "
             "see docs/hipkittens.md \"Barrier model and the barrier / wait ablation\".", "",
             "| arch | schedule | removal | sites | caught by static | + emulator also wrong | caught by emulator only "
             "| harmless (static argument + emulator pass) |", "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["arch"], r["schedule"], r["what"], r["region"]) for r in rows})
    for arch, sched, what, region in keys:
        rs = [r for r in rows if (r["arch"], r["schedule"], r["what"], r["region"]) == (arch, sched, what, region)]
        c = {v: sum(r["verdict"] == v for r in rs) for v in ("static", "static+emulator", "emulator", "harmless")}
        lines.append(f"| {arch} | {SCHEDULE_NAMES[sched]} | {what} ({region}) | {len(rs)} | "
                     f"{c['static'] + c['static+emulator']} | {c['static+emulator']} | {c['emulator']} | "
                     f"{c['harmless']} |")
    walls = sum(r["wall_s"] for r in rows)
    lines.append(f"\n{len(rows)} removals; summed per-removal wall time {walls:.0f} s"
                 + (f" ({len(stale)} rows of earlier base builds not counted)." if stale else "."))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
