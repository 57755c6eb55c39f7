"""`hktune export`: write the C++ header from tables."""
from __future__ import annotations

import math
import os
from pathlib import Path

import click

from hktune.commands.common import Fail, emit_json, existing_table
from hktune.commands.outputs import check_output
from hktune.dtypes import DTYPES
from hktune.export.header import ABI_DTYPE_LAYOUT, ratio_ok, export_header, ident, ordered
from hktune.family.family import resolve
from hktune.record import table as tbl


@click.command()
@click.option("--table", "tables", type=click.Path(dir_okay=False, path_type=Path), multiple=True, required=True,
              help="a results table (repeat for several)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("hktune_configs.h"), show_default=True,
              help="the header to write (its folder must exist)")
@click.option("--min-ratio", type=float, default=0.0, show_default=True, help="leave out entries slower than this x vendor BLAS")
@click.option("--dtype", "only", type=click.Choice(list(DTYPES)), metavar="DTYPE", multiple=True,
              help="export only the entries of this dtype (repeat for several; default: every dtype, each under "
                   f"its own names: {', '.join(DTYPES)})")
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON on stdout")
def export(tables: tuple[Path, ...], out: Path, min_ratio: float, only: tuple[str, ...], as_json: bool) -> None:
    """Write a C++ header with the tuned configs, legality predicates and a shape lookup, keyed by
    dtype: per (family, arch, dtype) its space's config struct and lookup, and per dtype the launch
    signature (a scaled dtype's scales after C)."""
    for t in tables:
        existing_table(t)
    if out.is_dir():
        raise Fail(f"--out {out}: is a folder; give a header file path")
    d = out.parent if str(out.parent) else Path(".")
    if not d.is_dir():
        raise Fail(f"--out {out}: folder {d} does not exist")
    if not os.access(d, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise Fail(f"--out {out}: not writable")
    check_output(out, "--out", tables)
    if not math.isfinite(min_ratio):
        raise Fail(f"--min-ratio must be a finite number, got {min_ratio}")
    entries = [e for t in tables for e in tbl.load(t) if not only or e.key.dtype in only]
    if not entries:
        of = f" of dtype {', '.join(only)}" if only else ""
        raise Fail(f"nothing to export: no entries{of} in {', '.join(map(str, tables))} (run `hktune search` first)")
    for key in sorted({e.key for e in entries}):
        layouts = resolve(key.arch, key.family, key.dtype).layouts
        if key.layout not in layouts:
            raise Fail(f"entry {key.family}/{key.arch}/{key.dtype} {key.m}x{key.n}x{key.k}: layout {key.layout} is not "
                       f"served by family {key.family} (it serves {', '.join(layouts)})")
    text = export_header(entries, lambda fam, arch, dtype: resolve(arch, fam, dtype).space(arch), None,
                         min_ratio=min_ratio, table=", ".join(str(t) for t in tables))
    try:
        out.write_text(text)
    except OSError as e:
        raise Fail(f"--out {out}: cannot write ({e.strerror})") from None
    kept = [e for e in entries if ratio_ok(e, min_ratio)]
    pairs = sorted({(e.key.family, e.key.arch) for e in entries})
    n = sum(len(ordered(e for e in kept if (e.key.family, e.key.arch) == p)) for p in pairs)
    below = len(entries) - len(kept)
    if as_json:
        emit_json({"out": str(out), "entries": n, "below_min_ratio": below, "lines": len(text.splitlines()),
                   "lookups": [f"lookup_{ident(f)}_{ident(a)}" + _suffix(d, lay)
                               for f, a, d, lay in sorted({(e.key.family, e.key.arch, e.key.dtype, e.key.layout) for e in entries})]})
    else:
        click.echo(f"wrote {out}: {n} entries" + (f" ({below} left out below --min-ratio {min_ratio:g})" if below else "")
                   + f", {len(text.splitlines())} lines", err=True)


def _suffix(dtype: str, layout: str) -> str:
    return "" if (dtype, layout) == ABI_DTYPE_LAYOUT else f"_{ident(dtype)}_{ident(layout)}"


command = export
