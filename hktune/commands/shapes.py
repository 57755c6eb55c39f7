"""`hktune shapes`: write a shapes file from a model's linear layers."""
from __future__ import annotations

from pathlib import Path

import click

from hktune.commands.outputs import check_output
from hktune.space.shapes import Shape, load_shapes, write_shapes


def _linear(text: str) -> tuple[int, int, int, str]:
    """IN:OUT[:COUNT[:NAME]] -> (in, out, count, name)."""
    parts = text.split(":")
    try:
        k, n = int(parts[0]), int(parts[1])
        count = int(parts[2]) if len(parts) > 2 and parts[2] else 1
    except (IndexError, ValueError):
        raise click.BadParameter(f"expected IN:OUT[:COUNT[:NAME]], got {text!r}") from None
    if min(k, n, count) <= 0:
        raise click.BadParameter(f"sizes must be positive, got {text!r}")
    return k, n, count, parts[3] if len(parts) > 3 else f"linear {k}->{n}"


@click.command("shapes")
@click.option("--tokens", "tokens", type=int, multiple=True, required=True, help="batch x sequence (M); repeat for several")
@click.option("--linear", "linears", multiple=True, required=True, help="IN:OUT[:COUNT[:NAME]] of an nn.Linear; repeat per layer")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="shapes.yaml or shapes.csv")
def command(tokens: tuple[int, ...], linears: tuple[str, ...], out: Path) -> None:
    """Write the GEMM shapes (M = tokens, N = out, K = in) of a model's linear layers, for
    `hktune search --shapes FILE`."""
    if any(t <= 0 for t in tokens):
        raise click.BadParameter("--tokens must be positive")
    check_output(out, "--out")
    shapes: dict[tuple[int, int, int], Shape] = {}
    for t in tokens:
        for text in linears:
            k, n, count, name = _linear(text)
            key = (t, n, k)
            prev = shapes.get(key)
            shapes[key] = Shape(t, n, k, count + (prev.count if prev else 0), prev.source if prev else name)
    write_shapes(out, list(shapes.values()))
    click.echo(f"wrote {out}: {len(shapes)} shapes ({len(load_shapes(out))} after merging)", err=True)
