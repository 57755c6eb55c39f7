"""`hktune compile`: compile only (no GPU), with resource usage."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from hktune.dtypes import DTYPES
from hktune.commands.common import EXIT_FAILED, ArchOption, Fail, check_arch, parse_config, positive, setup, tree_options
from hktune.build.builder import outcome_dict
from hktune.build.hiplink import link_and_load
from hktune.emulator.verify import default_shape

@click.command("compile")
@click.option("--arch", cls=ArchOption, required=True, callback=check_arch, help="arch to compile for (no such device needed)")
@click.option("--family", default=None, help="template family (default: the one serving --arch)")
@click.option("--dtype", type=click.Choice(list(DTYPES)), metavar="DTYPE", default="bf16", show_default=True,
              help=f"element type of A, Bt and C ({', '.join(DTYPES)})")
@click.option("--config", "config_text", default=None, help="one config: NAME=V,NAME=V,...")
@click.option("--all", "all_", is_flag=True, help="every valid config of the space")
@click.option("--m", type=int, default=None, callback=positive, help="with --n and --k: only configs legal for this shape")
@click.option("--n", type=int, default=None, callback=positive, help="with --m and --k: columns of C")
@click.option("--k", type=int, default=None, callback=positive, help="with --m and --n: the reduction size")
@click.option("--limit", type=int, default=None, callback=positive, help="at most this many configs")
@click.option("--jobs", type=int, default=None, callback=positive, help="parallel compiles (default: cores)")
@tree_options
@click.option("--space", "space_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="this space file instead of the family's (e.g. an opt-in one such as bench/tk-sched.yaml)")
@click.option("--json", "as_json", is_flag=True, help="one JSON record per config on stdout (snake_case keys, configs as objects)")
@click.option("--link", "link_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="hipkittens: also link each build's host + device library into DIR and dlopen it (docs/hipkittens.md)")
def compile_(arch: str, family: str | None, dtype: str, config_text: str | None, all_: bool, m: int | None, n: int | None,
             k: int | None, limit: int | None, jobs: int | None, roots: dict[str, str | None], space_file: Path | None,
             as_json: bool, link_dir: Path | None) -> None:
    """Compile only (no GPU needed): one config or the whole space, with resource usage."""
    from tabulate import tabulate

    if bool(config_text) == all_:
        raise Fail("give exactly one of --config or --all")
    shape = (m, n, k) if m and n and k else None
    if any((m, n, k)) and shape is None:
        raise Fail("--m, --n and --k go together")
    target, builder = setup(arch, family, roots, jobs, space_file, dtype)
    space = target.space
    if link_dir is not None and target.compiler != "hip":
        raise Fail(f"--link links HIP libraries; family {target.name} uses {target.compiler}")
    configs = [parse_config(config_text, space)] if config_text else space.enumerate(shape)
    if limit:
        configs = configs[:limit]
    t0 = time.perf_counter()
    with builder:
        outcomes = sorted(builder.build_many(configs), key=lambda o: [o.config[p] for p in space.names])
    wall = time.perf_counter() - t0
    if as_json:
        click.echo(json.dumps([outcome_dict(o) for o in outcomes], indent=1))
    else:
        keys: list[str] = []
        for o in outcomes:
            keys += [r for r in o.resources if r not in keys]
        rows = [[" ".join(f"{p}={o.config[p]}" for p in space.names), "ok" if o.ok else "FAILED",
                 *[o.resources.get(r, "") for r in keys], f"{o.seconds:.1f}", "cached" if o.cached else "",
                 o.reason or ""] for o in outcomes]
        click.echo(tabulate(rows, headers=["config", "build", *keys, "s", "", "pruned / failed"], tablefmt="simple"))
    ok = sum(o.ok for o in outcomes)
    fresh = [o.seconds for o in outcomes if not o.cached]
    click.echo(f"{len(space.enumerate(shape))} valid configs in the space ({space.raw_size()} raw); compiled {len(outcomes)}: "
               f"{ok} ok, {len(outcomes) - ok} failed, {sum(1 for o in outcomes if o.ok and o.reason)} pruned; "
               f"{(sum(fresh) / len(fresh)) if fresh else 0:.2f} s per compile, {wall:.1f} s wall with {builder.jobs} jobs "
               f"({builder.compiler_version})", err=True)
    if link_dir is not None and not _link_all(builder, outcomes, link_dir, shape):
        sys.exit(EXIT_FAILED)
    if ok < len(outcomes):
        sys.exit(EXIT_FAILED)


def _link_all(builder, outcomes, link_dir: Path, shape) -> bool:  # noqa: ANN001
    """Link and dlopen every built config (not one a static check rejected); one line each."""
    clean = True
    for o in outcomes:
        if not o.ok or o.artifact is None or (o.reason or "").startswith("rejected by"):
            click.echo(f"not linked ({o.reason or 'build failed'}): {o.config}", err=True)
            continue
        rep = link_and_load(builder, o, link_dir, shape or default_shape(builder.space, o.config))
        click.echo(("linked " if rep.ok else "LINK/LOAD FAILED ") + rep.line, err=True)
        if not rep.ok:
            click.echo("\n".join(rep.log[-15:]), err=True)
        clean &= rep.ok
    return clean




command = compile_
