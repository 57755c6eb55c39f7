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


YLABEL = "paired ratio to vendor BLAS\n(vendor time / kernel time)"


def trial_ratio(t) -> float:  # noqa: ANN001
    """A verified trial's paired ratio to the vendor: its value (the study's objective); a trial of
    an older hktune whose value was TFLOP/s (no ``ratio`` attribute) is divided by its vendor's."""
    if "ratio" in t.user_attrs or not t.user_attrs.get("vendor_tflops"):
        return float(t.value)
    return float(t.value) / float(t.user_attrs["vendor_tflops"])


def write_report(study, out: Path) -> Path:  # noqa: ANN001
    """Writes history.png, importance.png, knobs.png and report.md into ``out``; returns the .md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    out.mkdir(parents=True, exist_ok=True)
    trials = evaluated_trials(study)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    if not done:
        raise Fail(f"study {study.study_name} has no verified trial yet; nothing to plot", 1)
    # The winner: the study's one best (the table entry's figures, as `show` prints them), never recomputed.
    recorded = study.user_attrs.get("best") or {}
    win = figures.of(recorded) if recorded.get("ratio") is not None else None
    win_config = recorded.get("config") or {}

    # Optimisation history: each verified trial's paired ratio to the vendor BLAS (the study's
    # objective, the same number `show` prints), so the vendor is the line at 1.0, with the best so far.
    xs, ys, best, bests = [], [], -math.inf, []
    for i, t in enumerate(trials, 1):
        if t.state.name == "COMPLETE":
            y = trial_ratio(t)
            xs.append(i)
            ys.append(y)
            best = max(best, y)
        bests.append(best if best > -math.inf else float("nan"))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, s=12, alpha=0.6, label="verified trial")
    ax.step(range(1, len(trials) + 1), bests, where="post", color="C1", lw=2, label="best so far (first timings)")
    ax.axhline(1.0, color="C2", ls="--", label="vendor BLAS (1.0)")
    if win is not None:
        ax.axhline(win.ratio, color="C3", ls=":", label=f"table entry {win.ratio:.3g}x")
    lo, hi = min(ys), max(max(ys), 1.0 if max(ys) > 0.5 else max(ys))
    if hi / max(lo, 1e-12) > 8:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("evaluated config (in order)")
    ax.set_ylabel(YLABEL)
    ax.set_title(f"{study.study_name}: history")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "history.png", dpi=110)
    plt.close(fig)

    # Parameter importance (Optuna's fANOVA over the verified trials).
    try:
        imp = optuna.importance.get_param_importances(study) if len(done) >= 4 else {}
    except (RuntimeError, ValueError):
        imp = {}
    if imp:
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(imp) + 1))
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance (fANOVA)")
        ax.set_title(f"{study.study_name}: parameter importance")
        fig.tight_layout()
        fig.savefig(out / "importance.png", dpi=110)
        plt.close(fig)

    # Performance against each knob: every trial (faint), and per value the median with a bar
    # from the 10th to the 90th percentile of the trials that used it. Powers of two on log2 axes.
    import numpy as np

    params = list(done[0].user_attrs.get("config") or done[0].params)
    cols = 3
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, p in zip(axes.flat, params):
        pts = [((t.user_attrs.get("config") or t.params)[p], trial_ratio(t)) for t in done]
        values = sorted({v for v, _ in pts})
        pow2 = all(isinstance(v, (int, float)) and v > 0 and float(v).is_integer() and (int(v) & (int(v) - 1)) == 0
                   for v in values) and len(values) > 1
        ax.scatter([v for v, _ in pts], [y for _, y in pts], s=8, alpha=0.3, color="C0")
        med = [float(np.median([y for v, y in pts if v == x])) for x in values]
        p10 = [float(np.percentile([y for v, y in pts if v == x], 10)) for x in values]
        p90 = [float(np.percentile([y for v, y in pts if v == x], 90)) for x in values]
        ax.errorbar(values, med, yerr=[np.subtract(med, p10), np.subtract(p90, med)], fmt="o-", color="C1",
                    capsize=3, lw=1.5, label="median, p10-p90")
        if pow2:
            ax.set_xscale("log", base=2)
            ax.set_xticks(values)
            ax.set_xticklabels([str(int(v)) for v in values])
            ax.minorticks_off()
        else:
            ax.set_xticks(values)
        ax.set_xlabel(p + (" (log2 axis)" if pow2 else ""))
        ax.set_ylabel("ratio to vendor (paired)")
        ax.grid(True, alpha=0.3)
    if params:
        axes.flat[0].legend(fontsize=7)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.suptitle(f"{study.study_name}: performance per knob")
    fig.tight_layout()
    fig.savefig(out / "knobs.png", dpi=110)
    plt.close(fig)

    ranked = sorted(done, key=trial_ratio, reverse=True)
    states: dict[str, int] = {}
    for t in trials:
        states[trial_state(t)] = states.get(trial_state(t), 0) + 1
    failed = [t for t in trials if t.state.name == "FAIL"]
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
        cfg = " ".join(f"{k}={val}" for k, val in (t.user_attrs.get("config") or t.params).items())
        lo, hi = t.user_attrs.get("ratio_lo"), t.user_attrs.get("ratio_hi")
        ci = f"{lo:.4g}-{hi:.4g}" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and math.isfinite(lo) and math.isfinite(hi) else ""
        vt = t.user_attrs.get("vendor_tflops")
        vt = f"{vt:.4g}" if isinstance(vt, (int, float)) else ""
        lines.append(f"| {i} | {trial_ratio(t):.4g} | {ci} | {trial_ratio(t) / top:.3f} | {vt} | {cfg} |")
    if imp:
        lines += ["", "Parameter importance: " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items())]
    if failed:
        reasons: dict[str, int] = {}
        for t in failed:
            r = str(t.user_attrs.get("reason", "?")).split(":")[0]
            reasons[r] = reasons.get(r, 0) + 1
        lines += ["", "Failures: " + ", ".join(f"{n}x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))]
    lines += ["", "## History (each verified trial's paired ratio to the vendor BLAS; the dashed line at 1.0 is the vendor)", "",
              "![history](history.png)",
              "", "## Per knob (median and p10-p90 of the trials with each value)", "", "![knobs](knobs.png)"]
    lines += ["", "## Parameter importance", "", "![importance](importance.png)"] if imp else []
    md = out / "report.md"
    md.write_text("\n".join(lines) + "\n")
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
