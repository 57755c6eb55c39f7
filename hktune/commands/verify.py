"""`hktune verify`: compile configs and check them in the AMD ISA emulator (no GPU needed).

Exit codes: 0 every config passed or was rejected by a static check (vmcnt, m0: reported as
"rejected (static check)", never emulated - the search never runs it either); 1 one failed (wrong
outputs, a crash, a timeout, a compile error); 2 bad input; 3 the emulator, the HIP toolchain or
HipKittens is missing.
"""
from __future__ import annotations

import json
import sys
import time

import click
from tabulate import tabulate

from hktune.build.compilers import CompilerMissing
from hktune.emulator import locate
from hktune.emulator import run as emulator_run
from hktune.emulator import verify as emulator_verify
from hktune.emulator.locate import EmulatorMissing
from hktune.emulator.verify import counts, default_shape, distinct_bodies, select
from hktune.family.family import FamilyError
from hktune.family.trees import TreeError
from hktune.family.trees.hipkittens import TREE as HIPKITTENS
from hktune.space.pairwise import covering_array, parse_slice
from hktune.space.space import SpaceError
from hktune.dtypes import DTYPES
from hktune.commands.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_MISSING, Fail, parse_config, positive, positive_seconds, setup


_RESULT = {"passed": "ok", "failed": "FAILED", "rejected": "rejected (static check)"}


def _short(config: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items())


def _configs(space, configs: list[dict], shape: tuple[int, int, int] | None) -> list[dict]:  # noqa: ANN001
    """``configs`` when there is one and each is legal at ``shape`` (or has a default shape)."""
    if not configs:
        raise Fail("no config to verify" + (f" is legal for {'x'.join(map(str, shape))}" if shape else ""))
    for c in configs:
        bad = space.shape_violations(c, *shape) if shape else []
        if bad:
            raise Fail(f"{_short(c)} is not legal for {'x'.join(map(str, shape))}: {bad[0]}")
        if shape is None:
            try:
                default_shape(space, c)
            except ValueError as e:
                raise Fail(str(e)) from None
    return configs


def _pairwise(space, part: tuple[int, int] | None) -> list[dict]:  # noqa: ANN001
    """The seeds plus a covering array of every feasible knob-value pair (or a slice of its rows)."""
    start = select(space, seeds=True)
    rows = covering_array(space, start=start)
    configs = rows[part[0]::part[1]] if part else start + rows
    click.echo(f"pairwise: {len(start)} seeds + {len(rows)} rows cover every feasible pair of the {len(space.names)} "
               f"knobs" + (f"; slice {part[0]}/{part[1]}: {len(configs)} rows" if part else ""), err=True)
    return configs


def _setup_checked(arch: str, hk_root: str | None, jobs: int, dtype: str = "bf16"):  # noqa: ANN202
    """The hipkittens target and its builder, once the emulator, a clang for it and a HipKittens
    checkout are known to be there (exit 3 when one is missing)."""
    try:
        locate.find()
        emulator_run.host_cc()
    except EmulatorMissing as e:
        raise Fail(str(e), EXIT_MISSING) from None
    if HIPKITTENS.find(hk_root) is None:
        raise Fail(f"no HipKittens checkout: pass --hk-root DIR or set HIPKITTENS_ROOT "
                   f"(branch {'main' if arch == 'gfx950' else 'cdna3'} for {arch})", EXIT_MISSING)
    try:
        return setup(arch, "hipkittens", {"hipkittens": hk_root}, jobs, dtype=dtype)
    except (TreeError, SpaceError, FamilyError) as e:
        raise Fail(str(e), EXIT_BAD_INPUT) from None
    except CompilerMissing as e:
        raise Fail(str(e), EXIT_MISSING) from None


@click.command("verify")
@click.option("--arch", required=True, type=click.Choice(["gfx950", "gfx942"]), help="the AMD arch whose code objects to emulate")
@click.option("--dtype", type=click.Choice(list(DTYPES)), metavar="DTYPE", default="bf16", show_default=True,
              help=f"element type of A, Bt and C ({', '.join(DTYPES)})")
@click.option("--config", "config_text", default=None, help="one config: NAME=V,NAME=V,...")
@click.option("--seeds", is_flag=True, help="the space's seed configs")
@click.option("--sample", type=int, default=None, callback=positive,
              help="a random sample of N valid configs, all emulated (one a static check rejects is replaced)")
@click.option("--all", "all_", is_flag=True, help="every valid config (hours: see bench/emulate_all.py)")
@click.option("--pairwise", is_flag=True, help="the seeds plus a covering array: every feasible pair of knob values "
              "in some config (hktune/space/pairwise.py; bench/pairwise.py runs it resumably)")
@click.option("--slice", "slice_", default=None, help="with --pairwise: only the array's rows I, I+N, I+2N, ... "
              "(I/N; the seeds are left out)")
@click.option("--m", type=int, default=None, callback=positive, help="with --n/--k: one shape for every config "
              "(default per config: 2x2 blocks, 2*(PREFETCH+1)+1 K tiles)")
@click.option("--n", type=int, default=None, callback=positive, help="with --m/--k: columns of C")
@click.option("--k", type=int, default=None, callback=positive, help="with --m/--n: the reduction size")
@click.option("--hk-root", default=None, help="HipKittens checkout (else HIPKITTENS_ROOT)")
@click.option("--jobs", type=int, default=1, show_default=True, callback=positive, help="parallel compiles and emulator processes")
@click.option("--timeout", "timeout_s", type=float, default=1800.0, show_default=True, callback=positive_seconds,
              help="seconds per emulated run")
@click.option("--seed", type=int, default=0, show_default=True, help="sampling and input seed")
@click.option("--json", "as_json", is_flag=True, help="one JSON record per config (snake_case keys, configs as objects)")
def command(arch: str, dtype: str, config_text: str | None, seeds: bool, sample: int | None, all_: bool, pairwise: bool,
            slice_: str | None, m: int | None,
            n: int | None, k: int | None, hk_root: str | None, jobs: int, timeout_s: float, seed: int,
            as_json: bool) -> None:
    """Run configs in tinygrad's AMD ISA emulator and compare C with a numpy reference.

    Each distinct compiled kernel body runs once (configs with identical code share the run).
    """
    if sum([bool(config_text), seeds, sample is not None, all_, pairwise]) != 1:
        raise Fail("give exactly one of --config, --seeds, --sample N, --all or --pairwise")
    if slice_ and not pairwise:
        raise Fail("--slice goes with --pairwise")
    try:
        part = parse_slice(slice_) if slice_ else None
    except ValueError as e:
        raise Fail(str(e)) from None
    shape = (m, n, k) if m and n and k else None
    if any((m, n, k)) and shape is None:
        raise Fail("--m, --n and --k go together")
    target, builder = _setup_checked(arch, hk_root, jobs, dtype)
    space = target.space
    cfg = parse_config(config_text, space) if config_text else None
    if pairwise:
        configs = _pairwise(space, part)
    else:
        configs = select(space, config=cfg, seeds=seeds, sample=sample, all_=all_, shape=shape, rng_seed=seed)
    configs = _configs(space, configs, shape)

    def progress(what: str, row) -> None:  # noqa: ANN001
        if what == "emulated":
            r = row.result
            click.echo(f"  emulated {row.body[:12]} at {'x'.join(map(str, row.shape))}: "
                       f"{'ok' if r.get('ok') else 'FAILED'} in {r.get('seconds') or 0:.1f} s", err=True)

    t0 = time.perf_counter()
    with builder:
        try:
            if sample is not None:   # every sampled config emulated: a rejected one is replaced
                rows = emulator_verify.verify_sample(builder, sample, shape=shape, dtype=dtype, rng_seed=seed, jobs=jobs,
                                                     timeout_s=timeout_s, progress=progress)
            else:
                rows = emulator_verify.verify(builder, configs, shape=shape, dtype=dtype, jobs=jobs, timeout_s=timeout_s,
                                              seed=seed, progress=progress)
        except EmulatorMissing as e:
            raise Fail(str(e), EXIT_MISSING) from None
    wall = time.perf_counter() - t0
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=1, default=str))
    else:
        table = [[_short(r.config), (r.body or "")[:12], "x".join(map(str, r.shape)),
                  _RESULT[r.status], r.result.get("error"), r.result.get("seconds"),
                  r.shared if r.body else "", r.result.get("reason") or r.build_reason or ""] for r in rows]
        click.echo(tabulate(table, headers=["config", "body", "MxNxK", "result", "error", "s", "shared", "reason / note"],
                            tablefmt="simple", floatfmt=".3g"))
    n = counts(rows)
    click.echo(f"{len(rows)} configs, {distinct_bodies(rows)} distinct kernel bodies emulated; {n['passed']} passed, "
               f"{n['failed']} failed, {n['rejected']} rejected (static check); {wall:.1f} s wall with {jobs} job(s)",
               err=True)
    if n["failed"]:
        sys.exit(EXIT_FAILED)
