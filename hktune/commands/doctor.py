"""`hktune doctor`: what this machine has."""
from __future__ import annotations

import json

import click

from hktune.commands.common import tree_options
from hktune.doctor import collect, render


@click.command()
@tree_options
@click.option("--json", "as_json", is_flag=True, help="the report as JSON on stdout")
def doctor(roots: dict[str, str | None], as_json: bool) -> None:
    """Compilers and versions, GPUs and their arch, torch backend, caches, HipKittens."""
    report = collect(roots)
    click.echo(json.dumps(report, indent=1, default=str) if as_json else render(report))



command = doctor
