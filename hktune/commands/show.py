"""`hktune show`: a table's entries, or the studies and their trials."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="a table (default: every results/*.yaml)")
@click.option("--studies", is_flag=True, help="list the studies in the storage instead")
@click.option("--storage", default=None, help="journal file or Optuna RDB URL (default: results/studies.journal)")
@click.option("--study", "study_name", default=None, help="with --studies: the trials of one study")
@click.option("--json", "as_json", is_flag=True)
def show(table: Path | None, studies: bool, storage: str | None, study_name: str | None, as_json: bool) -> None:
    """Show a table's entries, or the studies and their trials."""
    from tabulate import tabulate

    from hktune.record import table as tbl
    from hktune.family.family import project_root

    if studies:
        from hktune.search.report import study_rows

        from hktune.search.storage import default_storage

        storage = storage or default_storage(project_root() / "results")
        rows, headers = study_rows(storage, study_name)
        click.echo(json.dumps([dict(zip(headers, r)) for r in rows], indent=1, default=str) if as_json
                   else tabulate(rows, headers=headers, tablefmt="simple"))
        return
    paths = [table] if table else sorted((project_root() / "results").glob("*.yaml"))
    entries = [e for p in paths for e in tbl.load(p)]
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=1, default=str))
        return
    if not entries:
        click.echo("no entries" + (f" in {table}" if table else " in results/*.yaml"))
        return
    df = tbl.to_frame(entries)
    click.echo(tabulate(df, headers="keys", tablefmt="simple", showindex=False, floatfmt=".4g"))




command = show
