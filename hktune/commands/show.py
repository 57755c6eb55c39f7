"""`hktune show`: a table's entries, or the studies and their trials. Read-only: it never creates
a file, and a missing table or storage is bad input (exit 2), not an empty listing."""
from __future__ import annotations

from pathlib import Path

import click

from hktune.commands.common import Fail, emit_json, existing_table, requires, studies_storage
from hktune.family.family import project_root
from hktune.record import table as tbl
from hktune.search.storage import open_storage


@click.command()
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="a table file (default: every results/*.yaml of this checkout)")
@click.option("--studies", is_flag=True, help="list the studies in the storage instead of table entries")
@click.option("--storage", default=None, help="with --studies: journal file or Optuna RDB URL (default: results/studies.journal)")
@click.option("--study", "study_name", default=None, help="with --studies: the trials of one study")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout (snake_case keys, configs as objects)")
def show(table: Path | None, studies: bool, storage: str | None, study_name: str | None, as_json: bool) -> None:
    """Show a table's entries, or the studies and their trials."""
    from tabulate import tabulate

    requires(None, "--study", "--studies", study_name is not None, studies)
    requires(None, "--storage", "--studies", storage is not None, studies)
    if studies and table is not None:
        raise Fail("--table does not apply with --studies (give --storage for the studies' journal)")
    if studies:
        records = study_records(studies_storage(storage), study_name)
        if as_json:
            emit_json(records)
        elif not records:
            click.echo(f"no studies in {storage}")
        else:
            click.echo(tabulate([_display(r) for r in records], headers="keys", tablefmt="simple", floatfmt=".4g"))
        return
    paths = [existing_table(table)] if table else sorted((project_root() / "results").glob("*.yaml"))
    entries = [e for p in paths for e in tbl.load(p)]
    if as_json:
        emit_json([e.to_dict() for e in entries])
        return
    if not entries:
        click.echo(f"no entries in {table}" if table else f"no entries in {project_root() / 'results'}/*.yaml")
        return
    df = tbl.to_frame(entries)
    click.echo(tabulate(df, headers="keys", tablefmt="simple", showindex=False, floatfmt=".4g"))


def study_records(storage: str, name: str | None = None) -> list[dict]:
    """Studies (or one study's trials) as records with stable snake_case keys; configs are objects."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = open_storage(storage)
    if name is None:
        out = []
        for s in optuna.get_all_study_summaries(st):
            trials = optuna.load_study(study_name=s.study_name, storage=st).get_trials(deepcopy=False)
            mine = [t for t in trials if "duplicate_of" not in t.user_attrs]
            out.append({"study": s.study_name,
                        "verified": sum(t.state == TrialState.COMPLETE for t in mine),
                        "failed": sum(t.state == TrialState.FAIL for t in mine),
                        "pruned": sum(t.state == TrialState.PRUNED for t in mine),
                        # the study's objective: the paired ratio to the vendor BLAS (TFLOP/s over the
                        # vendor's where a target gives no paired ratio), higher is better
                        "best_ratio": max((t.value for t in trials if t.state == TrialState.COMPLETE), default=None)})
        return out
    try:
        study = optuna.load_study(study_name=name, storage=st)
    except KeyError:
        names = ", ".join(s.study_name for s in optuna.get_all_study_summaries(st)) or "none"
        raise Fail(f"no study {name!r} in {storage} (studies: {names})") from None
    out = []
    for t in study.get_trials(deepcopy=False):
        if "duplicate_of" in t.user_attrs:
            continue
        out.append({"trial": t.number, "state": t.state.name.lower(), "ratio": t.value,
                    "vendor_tflops": t.user_attrs.get("vendor_tflops"),
                    "config": dict(t.user_attrs.get("config") or t.params), "reason": t.user_attrs.get("reason") or None})
    return out


_TITLES = {"study": "study", "verified": "verified", "failed": "failed", "pruned": "pruned/skipped",
           "best_ratio": "best ratio to vendor", "trial": "trial", "state": "state", "ratio": "ratio to vendor",
           "vendor_tflops": "vendor TFLOP/s", "config": "config", "reason": "reason"}


def _display(r: dict) -> dict:
    d = {}
    for k, v in r.items():
        if k == "config":
            v = " ".join(f"{a}={b}" for a, b in v.items())
        elif k == "reason":
            v = (v or "")[:120]
        d[_TITLES.get(k, k)] = v
    return d


command = show
