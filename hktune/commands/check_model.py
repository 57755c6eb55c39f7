"""``hktune check-model``: a Llama-style MLP block with torch's Linear and with hktune's.

Reports the error between the two outputs, the end-to-end speed ratio and how many GEMMs ran
tuned / padded / through torch (hktune/torch/check.py does the work)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from hktune.commands.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_MISSING, Fail, positive
from hktune.family.family import FamilyError
from hktune.record.table import TableError
from hktune.run.settings import Settings
from hktune.space.space import SpaceError


@click.command("check-model")
@click.option("--hidden", type=int, default=None, callback=positive, help="H (default 4096 on GPU, 256 on CPU)")
@click.option("--intermediate", type=int, default=None, callback=positive, help="I (default 14336 on GPU, 896 on CPU)")
@click.option("--tokens", type=int, default=None, callback=positive, help="T (default 4096 on GPU, 128 on CPU)")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
@click.option("--table", "tables", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="results table(s) (default: HKTUNE_TABLE, else results/*.yaml)")
@click.option("--dtype", type=click.Choice(["bf16"]), default="bf16", show_default=True, help="element type of the block")
@click.option("--iters", type=int, default=None, callback=positive, help="A B B A rounds of timed bursts (default 20 on GPU, 6 on CPU: the fewest with a 95% CI)")
@click.option("--warmup", type=click.IntRange(min=0), default=2, show_default=True, help="untimed runs of each variant before timing")
@click.option("--heat-s", type=click.FloatRange(min=0), default=Settings.heat_ms / 1000, show_default=True,
              help="GPU: seconds of both variants back to back before timing (the card's power-capped steady state)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the random weights and inputs")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def command(**options: object) -> None:
    """Run an MLP block (gate/up/down, SiLU) with and without hktune; compare error and speed."""
    # Not cli._errors: that imports the search stack (optuna), which this command does not need.
    try:
        _check_model(**options)  # type: ignore[arg-type]
    except (TableError, FamilyError, SpaceError) as e:
        raise Fail(str(e), EXIT_BAD_INPUT) from None


def _check_model(hidden: int | None, intermediate: int | None, tokens: int | None, device: str | None,
                 tables: tuple[Path, ...], dtype: str, iters: int | None, warmup: int, heat_s: float, seed: int,
                 as_json: bool) -> None:
    import torch

    import hktune.torch as ht
    from hktune.torch.check import CPU_DEFAULTS, GPU_DEFAULTS, markdown, run_check

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise Fail(f"--device {device!r}: {e}", EXIT_BAD_INPUT) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise Fail(f"--device {device}: torch {torch.__version__} sees no GPU", EXIT_MISSING)
    if dev.type not in ("cpu", "cuda"):
        raise Fail(f"--device {device}: only cpu and cuda (ROCm included) are supported", EXIT_BAD_INPUT)
    sizes = GPU_DEFAULTS if dev.type == "cuda" else CPU_DEFAULTS
    if tables:
        ht.use_table(list(tables))
    elif os.environ.get("HKTUNE_TABLE"):   # a typo in it must not read as "no entries" (every GEMM to torch)
        missing = [p for p in ht.table_paths() if not p.is_file()]
        if missing:
            raise Fail(f"HKTUNE_TABLE names {missing[0]}: no such table", EXIT_BAD_INPUT)
    r = run_check(hidden or sizes["hidden"], intermediate or sizes["intermediate"], tokens or sizes["tokens"],
                  dev, iters=iters or (20 if dev.type == "cuda" else 6), warmup=warmup, seed=seed,
                  heat_s=heat_s)
    click.echo(json.dumps(r.to_dict(), indent=1) if as_json else markdown(r))
    if not r.ok:
        raise Fail(f"hktune's output differs from torch's: relative error {r.rel_error:.3g}", EXIT_FAILED)
