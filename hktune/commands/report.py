"""`hktune report STUDY`: plots and a Markdown summary of one study."""
from __future__ import annotations

import math
from pathlib import Path

import click

from hktune.commands.common import Fail, studies_storage
from hktune.commands.show import trial_state
from hktune.record import figures
from hktune.errors import Missing
from hktune.search.storage import open_storage
from hktune.family.family import project_root


def _load(study_name: str, storage: str):  # noqa: ANN202
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError:
        names = ", ".join(s.study_name for s in optuna.get_all_study_summaries(open_storage(storage))) or "none"
        raise Fail(f"no study {study_name!r} in {storage} (studies: {names})") from None


def evaluated_trials(study):  # noqa: ANN001, ANN201
    """Trials that were really compiled and run (no repeats, no proposals outside the space)."""
    return [t for t in study.get_trials(deepcopy=False)
            if not str(t.user_attrs.get("reason", "")).startswith(("invalid", "not run"))
            and t.state.name in ("COMPLETE", "FAIL", "PRUNED")]




def trial_ratio(t) -> float:  # noqa: ANN001
    """A verified trial's paired ratio to the vendor: its value (the study's objective); a trial of
    an older hktune whose value was TFLOP/s (no ``ratio`` attribute) is divided by its vendor's."""
    if "ratio" in t.user_attrs or not t.user_attrs.get("vendor_tflops"):
        return float(t.value)
    return float(t.value) / float(t.user_attrs["vendor_tflops"])


def _config(t) -> dict:  # noqa: ANN001
    return t.user_attrs.get("config") or t.params


def _summary(study, trials: list, done: list, win, win_config: dict, imp: dict) -> list[str]:  # noqa: ANN001
    """The Markdown of the report: counts, the winner (the table's figures), the top ten, failures."""
    ranked = sorted(done, key=trial_ratio, reverse=True)
    states: dict[str, int] = {}
    for t in trials:
        states[trial_state(t)] = states.get(trial_state(t), 0) + 1
    counts = ", ".join(f"{n} {st}" for st, n in states.items() if st != "complete")
    lines = [f"# {study.study_name}", "",
             f"{len(trials)} configs evaluated: {len(done)} verified" + (f", {counts}" if counts else "") + ".", "",
             "Speed is the **paired ratio** to the vendor BLAS (vendor time / kernel time, timed in alternating "
             "rounds on the same inputs; > 1: the kernel is faster), the number `hktune show` prints.", ""]
    if win is not None:
        lines += [f"**Winner**: {win.text('the vendor BLAS')}. Decided by the search; the same figures as the table "
                  "and `hktune show`.", "",
                  "`" + " ".join(f"{k}={val}" for k, val in win_config.items()) + "`", ""]
    else:
        lines += ["**No winner decided** (the search stopped before its tournament): the trials below are first "
                  "timings; the same `hktune search` command resumes and decides.", ""]
    lines += ["| rank | ratio to vendor (paired) | 95% CI | vs best trial | vendor TFLOP/s | config |", "|---|---|---|---|---|---|"]
    top = trial_ratio(ranked[0])
    for i, t in enumerate(ranked[:10], 1):
        cfg = " ".join(f"{k}={val}" for k, val in _config(t).items())
        lo, hi = t.user_attrs.get("ratio_lo"), t.user_attrs.get("ratio_hi")
        ci = f"{lo:.4g}-{hi:.4g}" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and math.isfinite(lo) and math.isfinite(hi) else ""
        vt = t.user_attrs.get("vendor_tflops")
        vt = f"{vt:.4g}" if isinstance(vt, (int, float)) else ""
        lines.append(f"| {i} | {trial_ratio(t):.4g} | {ci} | {trial_ratio(t) / top:.3f} | {vt} | {cfg} |")
    if imp:
        lines += ["", "Parameter importance: " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items())]
    reasons: dict[str, int] = {}
    for t in trials:
        if t.state.name == "FAIL":
            r = str(t.user_attrs.get("reason", "?")).split(":")[0]
            reasons[r] = reasons.get(r, 0) + 1
    if reasons:
        lines += ["", "Failures: " + ", ".join(f"{n}x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))]
    lines += ["", "## History (each verified trial's paired ratio to the vendor BLAS; the dashed line at 1.0 is the vendor)", "",
              "![history](history.png)",
              "", "## Per knob (median and p10-p90 of the trials with each value)", "", "![knobs](knobs.png)"]
    lines += ["", "## Parameter importance", "", "![importance](importance.png)"] if imp else []
    return lines


def write_report(study, out: Path) -> Path:  # noqa: ANN001
    """Writes history.png, importance.png, knobs.png and report.md into ``out``; returns the .md."""
    from hktune.commands import report_plots  # matplotlib: the optional `report` extra

    out.mkdir(parents=True, exist_ok=True)
    trials = evaluated_trials(study)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    if not done:
        raise Fail(f"study {study.study_name} has no verified trial yet; nothing to plot", 1)
    # The winner: the study's one best (the table entry's figures, as `show` prints them), never recomputed.
    recorded = study.user_attrs.get("best") or {}
    win = figures.of(recorded) if recorded.get("ratio") is not None else None
    report_plots.history(trials, trial_ratio, study.study_name, win.ratio if win is not None else None,
                         out / "history.png")
    imp = report_plots.importance(study, len(done), out / "importance.png")
    report_plots.per_knob(done, _config, trial_ratio, study.study_name, out / "knobs.png")
    md = out / "report.md"
    md.write_text("\n".join(_summary(study, trials, done, win, recorded.get("config") or {}, imp)) + "\n")
    return md


@click.command("report")
@click.argument("study_name")
@click.option("--storage", default=None, help="journal file or Optuna RDB URL (default: results/studies.journal)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="folder (default: results/reports/STUDY)")
def command(study_name: str, storage: str | None, out: Path | None) -> None:
    """Plots (history as a ratio to the vendor BLAS with best-so-far, parameter importance,
    performance per knob with spread bars) and a one-page Markdown report embedding them.

    STUDY is a study name, as `hktune show --studies` lists them."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise Missing("hktune report needs matplotlib: pip install -e '.[report]'") from None
    storage = studies_storage(storage)
    study = _load(study_name, storage)
    md = write_report(study, out or project_root() / "results" / "reports" / study_name)
    click.echo(f"wrote {md} and its plots")
