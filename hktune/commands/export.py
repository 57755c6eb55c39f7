"""`hktune export`: write the C++ header from tables."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--table", "tables", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True, required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("hktune_configs.h"), show_default=True)
@click.option("--min-ratio", type=float, default=0.0, show_default=True, help="leave out entries slower than this x vendor BLAS")
def export(tables: tuple[Path, ...], out: Path, min_ratio: float) -> None:
    """Write a C++ header with the tuned configs, legality predicates and a shape lookup."""
    from hktune.record import table as tbl
    from hktune.export.header import export_header
    from hktune.family.family import resolve

    entries = [e for t in tables for e in tbl.load(t)]
    text = export_header(entries, lambda fam, arch: resolve(arch, fam).space(arch), out, min_ratio=min_ratio,
                         table=", ".join(str(t) for t in tables))
    click.echo(f"wrote {out}: {len(entries)} entries, {len(text.splitlines())} lines", err=True)




command = export
