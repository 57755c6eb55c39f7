"""`hktune bench`: time configs against the vendor BLAS."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from hktune.record import figures

from hktune.commands.common import (tree_options, EXIT_FAILED, ArchOption, Fail, check_arch, parse_config, positive, setup,
                                    emit_json, existing_table)
from hktune.dtypes import DTYPES
from hktune.record import table as tbl
from hktune.search.problem import config_string
from hktune.run.settings import Settings
from hktune.run.runner import Worker
from hktune.run.targets import open_workers
from hktune.target import space_file as stored_space

REPEATS = 50  # hktune.run.measure.Settings.repeats: the same default as `hktune sweep` and the search

def _stored(space, cfg: dict[str, int], where: str, shape: tuple[int, int, int]) -> dict[str, int]:  # noqa: ANN001
    """A table entry's config: a param added since takes its legacy value, else it is refused."""
    cfg = space.complete(cfg)
    bad = space.violations(cfg)
    if bad:
        raise Fail(f"table entry {where} {shape[0]}x{shape[1]}x{shape[2]}: config is not valid in {space.path.name}: {bad[0]}")
    return cfg


@click.command()
@click.option("--arch", cls=ArchOption, default=None, callback=check_arch, help="with --config: the arch")
@click.option("--family", default=None, help="with --config: template family (default: the one serving --arch)")
@click.option("--dtype", type=click.Choice(list(DTYPES)), metavar="DTYPE", default=None,
              help=f"with --config: element type ({', '.join(DTYPES)}; default bf16); with --table: time only its entries "
                   "of this dtype (default: every entry, each with its own)")
@click.option("--config", "config_text", default=None, help="one config NAME=V,... to time")
@click.option("--m", type=int, default=None, callback=positive, help="with --config: rows of A and C")
@click.option("--n", type=int, default=None, callback=positive, help="with --config: rows of Bt, columns of C")
@click.option("--k", type=int, default=None, callback=positive, help="with --config: the reduction size")
@click.option("--shapes", "shapes_text", default=None, help="with --config: several shapes MxNxK,MxNxK,... (one worker for all)")
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="time every entry of a table")
@click.option("--space", "space_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="with --config: the space file the config belongs to (an opt-in space such as bench/tk-n144-fp8.yaml; "
                   "default: the family's)")
@click.option("--gpu", type=int, default=None, help="GPU index (default: the first of the arch)")
@tree_options
@click.option("--repeats", type=int, default=REPEATS, show_default=True, callback=positive, help="timed launches per measurement")
@click.option("--json", "as_json", is_flag=True, help="one JSON record per config on stdout (snake_case keys, configs as objects)")
def bench(arch: str | None, family: str | None, dtype: str | None, config_text: str | None, m: int | None, n: int | None, k: int | None,
          shapes_text: str | None, table: Path | None, space_file: Path | None, gpu: int | None, roots: dict[str, str | None],
          repeats: int, as_json: bool) -> None:
    """Time one config, or a table's entries, paired with the vendor BLAS (alternating rounds on the
    same inputs); the paired ratio (vendor time / kernel time) comes with its 95% CI. The dtype picks
    the kernel, the inputs and the vendor call (bf16: torch.matmul; fp8_e4m3: torch._scaled_mm)."""
    from tabulate import tabulate

    if space_file is not None and table is not None:
        raise Fail("--space goes with --config: a table's entries are timed in the space each was searched in")
    jobs_ = _jobs(table, arch, family, dtype, config_text, (m, n, k), shapes_text)
    rows, out = [], []
    workers: dict[str, Worker] = {}
    try:
        for arch_, fam_name, dtype_, cfg, shape, entry in jobs_:
            # a table entry is built and checked under the space it was searched in (its `space:`, else the family's)
            tgt, builder = setup(arch_, fam_name, roots, None, stored_space(entry.extra.get("space")) if entry else space_file,
                                 dtype=dtype_)
            fam, space = tgt.family, tgt.space
            cfg = parse_config(config_text, space) if cfg is None else _stored(space, cfg, f"{fam_name} {arch_}", shape)
            bad = space.shape_violations(cfg, *shape)
            if bad:
                raise Fail(f"config is not legal for {shape[0]}x{shape[1]}x{shape[2]}: {bad[0]}")
            o = builder.build(cfg)
            builder.close()
            if not o.ok:
                res = {"ok": False, "reason": o.reason}
            else:
                w = open_workers(tgt, [gpu], Settings(repeats=repeats))[0]
                if w.device not in workers:
                    workers[w.device] = w
                    w.start()
                res = workers[w.device].evaluate(o.artifact, config_string(space, cfg), *shape, dtype=tgt.dtype.name)
            res.pop("samples_us", None)
            f = figures.of(res) if res.get("ok") else None
            why = f.unreliable() if f else []
            out.append({"arch": arch_, "family": fam.name, "dtype": tgt.dtype.name, "vendor": tgt.dtype.vendor_name, "m": shape[0], "n": shape[1], "k": shape[2],
                        "config": dict(cfg), **res, "stored_tflops": entry.tflops if entry else None,
                        "stored_ratio": entry.ratio if entry else None, "unreliable": why or None})
            ci = f"{f.lo:.4g}-{f.hi:.4g}" if f and f.lo is not None else ""
            note = res.get("reason") or ("unreliable: " + "; ".join(why) if why else "")
            rows.append([fam.name, arch_, tgt.dtype.name, "x".join(map(str, shape)), "ok" if res.get("ok") else "FAILED",
                         res.get("ratio"), ci, res.get("tflops"), res.get("vendor_tflops"),
                         entry.ratio if entry else None, note])
    finally:
        for w in workers.values():
            w.close()
    if as_json:
        emit_json(out)
    else:
        click.echo(tabulate(rows, headers=["family", "arch", "dtype", "MxNxK", "check", "ratio to vendor (paired)", "95% CI", "TFLOP/s",
                                           "vendor TFLOP/s", "stored ratio", "note"], tablefmt="simple", floatfmt=".4g"))
    if not all(o.get("ok") for o in out):
        sys.exit(EXIT_FAILED)




command = bench


def _jobs(table: Path | None, arch: str | None, family: str | None, dtype: str | None, config_text: str | None,
          mnk: tuple[int | None, int | None, int | None], shapes_text: str | None) -> list[tuple]:
    """(arch, family, dtype, config or None, shape, entry or None) per measurement: a table's entries
    (those of ``dtype`` when given), or one --config at each shape (dtype default bf16)."""
    if table:
        existing_table(table)
        if config_text or arch or any(mnk):
            raise Fail("--table times the table's entries: --arch, --config, --m, --n and --k do not apply with it")
        jobs = [(e.key.arch, e.key.family, e.key.dtype, e.config, (e.key.m, e.key.n, e.key.k), e)
                for e in tbl.load(table) if dtype is None or e.key.dtype == dtype]
        if not jobs:
            raise Fail(f"no entries of dtype {dtype} in {table}")
        return jobs
    if shapes_text and any(mnk):
        raise Fail("--shapes and --m/--n/--k: give one of them")
    if config_text and arch and (shapes_text or all(mnk)):
        shapes = [mnk] if not shapes_text else [_shape(s) for s in shapes_text.split(",") if s.strip()]
        return [(arch, family, dtype or "bf16", None, shape, None) for shape in shapes]
    raise Fail("give --table, or --arch, --config and --m, --n, --k (or --shapes)")


def _shape(text: str) -> tuple[int, int, int]:
    try:
        m, n, k = (int(x) for x in text.lower().strip().split("x"))
    except ValueError:
        raise Fail(f"--shapes: expected MxNxK, got {text!r}") from None
    if min(m, n, k) <= 0:
        raise Fail(f"--shapes: sizes must be positive, got {text!r}")
    return m, n, k
