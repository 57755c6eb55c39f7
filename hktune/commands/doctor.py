"""`hktune doctor`: what this machine has."""
from __future__ import annotations

import json

import click

from hktune.doctor import collect, render


@click.command()
@click.option("--hk-root", default=None, help="HipKittens checkout (else HIPKITTENS_ROOT)")
@click.option("--tk-root", default=None, help="ThunderKittens checkout (else THUNDERKITTENS_ROOT)")
@click.option("--json", "as_json", is_flag=True, help="the report as JSON on stdout")
def doctor(hk_root: str | None, tk_root: str | None, as_json: bool) -> None:
    """Compilers and versions, GPUs and their arch, torch backend, caches, HipKittens."""
    report = collect(hk_root, tk_root)
    click.echo(json.dumps(report, indent=1, default=str) if as_json else render(report))



command = doctor
