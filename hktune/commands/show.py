"""`hktune show`: a table's entries, or the studies and their trials. Read-only: it never creates
a file, and a missing table or storage is bad input (exit 2), not an empty listing."""
from __future__ import annotations

from pathlib import Path

import click

from hktune.commands.common import Fail, emit_json, existing_table, requires, studies_storage
from hktune.record import figures
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
        storage = studies_storage(storage)
        try:
            records = study_records(storage, study_name)
        except Fail:
            raise
        except Exception as e:  # noqa: BLE001 - a damaged storage (a journal's later line, a database's table) is one line
            raise Fail(f"--storage {storage}: cannot read its studies ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
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
        emit_json([{**e.to_dict(), "unreliable": figures.of(e).unreliable() or None} for e in entries])
        return
    if not entries:
        click.echo(f"no entries in {table}" if table else f"no entries in {project_root() / 'results'}/*.yaml")
        return
    df = tbl.to_frame(entries).rename(columns=_TABLE_TITLES)
    click.echo(tabulate(df, headers="keys", tablefmt="simple", showindex=False, floatfmt=".4g"))


def study_records(storage: str, name: str | None = None) -> list[dict]:
    """Studies (or one study's trials) as records with stable snake_case keys; configs are objects."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = open_storage(storage)
    if name is None:
        out = []
        for s in optuna.get_all_study_summaries(st):
            study = optuna.load_study(study_name=s.study_name, storage=st)
            mine = study.get_trials(deepcopy=False)
            out.append({"study": s.study_name,
                        "verified": sum(t.state.name == "COMPLETE" for t in mine),
                        "failed": sum(t.state.name == "FAIL" for t in mine),
                        "pruned": sum(trial_state(t) == "pruned" for t in mine),
                        "interrupted": sum(trial_state(t) == "interrupted" for t in mine),
                        **study_best(study)})
        return out
    try:
        study = optuna.load_study(study_name=name, storage=st)
    except KeyError:
        names = ", ".join(s.study_name for s in optuna.get_all_study_summaries(st)) or "none"
        raise Fail(f"no study {name!r} in {storage} (studies: {names})") from None
    out = []
    for t in study.get_trials(deepcopy=False):
        out.append({"trial": t.number, "state": trial_state(t), "ratio": t.value,
                    "vendor_tflops": t.user_attrs.get("vendor_tflops"),
                    "config": dict(t.user_attrs.get("config") or t.params), "reason": t.user_attrs.get("reason") or None})
    return out


def trial_state(t) -> str:  # noqa: ANN001
    """A trial's state as the user reads it: a trial a stopped or killed search never finished is
    'interrupted' (Optuna keeps it PRUNED so a resumed search runs it again), not 'pruned'."""
    if t.state.name == "PRUNED" and not str(t.user_attrs.get("reason") or "").startswith("pruned"):
        return "interrupted"
    return t.state.name.lower()


def study_best(study) -> dict:  # noqa: ANN001
    """The study's one best: the decided winner (the table entry's figures, stored on the study as
    ``best`` by the search), else, before a winner is decided, the best trial's first timing."""
    best = study.user_attrs.get("best")
    if best and best.get("ratio") is not None:
        f = figures.of(best)
        return {"best_ratio": f.ratio, "best_ratio_lo": f.lo, "best_ratio_hi": f.hi, "best": "winner",
                "unreliable": f.unreliable() or None}
    done = [t.value for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return {"best_ratio": max(done, default=None), "best_ratio_lo": None, "best_ratio_hi": None,
            "best": "best trial (no winner decided)" if done else None, "unreliable": None}


_TITLES = {"study": "study", "verified": "verified", "failed": "failed", "pruned": "pruned", "interrupted": "interrupted",
           "best_ratio": "best: ratio to vendor (paired)", "best_ratio_lo": "95% CI lo", "best_ratio_hi": "95% CI hi",
           "best": "best is", "trial": "trial", "state": "state", "ratio": "ratio to vendor (paired)",
           "vendor_tflops": "vendor TFLOP/s", "config": "config", "reason": "reason"}
_TABLE_TITLES = {"ratio": "ratio to vendor (paired)", "ratio_ci": "95% CI", "tflops": "TFLOP/s",
                 "vendor_tflops": "vendor TFLOP/s"}


def _display(r: dict) -> dict:
    d = {}
    for k, v in r.items():
        if k == "config":
            v = " ".join(f"{a}={b}" for a, b in v.items())
        elif k == "reason":
            v = (v or "")[:120]
        elif k == "unreliable":
            v = "unreliable: " + "; ".join(v) if v else ""
            k = "note"
        d[_TITLES.get(k, k)] = v
    return d


command = show
