"""`hktune report STUDY`: plots and a Markdown summary of one study."""
from __future__ import annotations

import math
from pathlib import Path

import click


def _load(study_name: str, storage: str):  # noqa: ANN202
    import optuna

    from hktune.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError:
        names = ", ".join(s.study_name for s in optuna.get_all_study_summaries(open_storage(storage))) or "none"
        raise click.ClickException(f"no study {study_name!r} in {storage} (studies: {names})") from None


def evaluated_trials(study):  # noqa: ANN001, ANN201
    """Trials that were really compiled and run (no repeats, no proposals outside the space)."""
    return [t for t in study.get_trials(deepcopy=False)
            if "duplicate_of" not in t.user_attrs and not str(t.user_attrs.get("reason", "")).startswith(("invalid", "not run"))
            and t.state.name in ("COMPLETE", "FAIL", "PRUNED")]


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
        raise click.ClickException(f"study {study.study_name} has no verified trial yet")

    # Optimisation history with best-so-far, in the order configs were evaluated.
    xs, ys, best, bests = [], [], -math.inf, []
    for i, t in enumerate(trials, 1):
        if t.state.name == "COMPLETE":
            xs.append(i)
            ys.append(t.value)
            best = max(best, t.value)
        bests.append(best if best > -math.inf else float("nan"))
    vendor = [t.user_attrs.get("vendor_tflops") for t in done if t.user_attrs.get("vendor_tflops")]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, s=10, alpha=0.6, label="verified trial")
    ax.plot(range(1, len(trials) + 1), bests, color="C1", label="best so far")
    if vendor:
        vmed = sorted(vendor)[len(vendor) // 2]
        ax.axhline(vmed, color="C2", ls="--", label=f"vendor BLAS (median {vmed:.4g})")
    ax.set_xlabel("evaluated config")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(study.study_name)
    ax.legend()
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
        fig.tight_layout()
        fig.savefig(out / "importance.png", dpi=110)
        plt.close(fig)

    # TFLOP/s against each knob.
    params = list(done[0].user_attrs.get("config") or done[0].params)
    cols = 3
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, p in zip(axes.flat, params):
        vals = [(t.user_attrs.get("config") or t.params)[p] for t in done]
        ax.scatter(vals, [t.value for t in done], s=8, alpha=0.5)
        ax.set_xlabel(p)
        ax.set_ylabel("TFLOP/s")
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "knobs.png", dpi=110)
    plt.close(fig)

    ranked = sorted(done, key=lambda t: t.value, reverse=True)
    win = ranked[0]
    v = win.user_attrs.get("vendor_tflops")
    failed = [t for t in trials if t.state.name == "FAIL"]
    lines = [f"# {study.study_name}", "",
             f"{len(trials)} configs evaluated: {len(done)} verified, {len(failed)} failed, "
             f"{len(trials) - len(done) - len(failed)} pruned.", "",
             f"**Winner**: {win.value:.4g} TFLOP/s (trial {win.number}, error {win.user_attrs.get('error', float('nan')):.2e}), "
             + (f"{win.value / v:.3f}x the vendor BLAS timed beside it ({v:.4g} TFLOP/s)." if v else "no vendor timing."), "",
             "`" + " ".join(f"{k}={val}" for k, val in (win.user_attrs.get("config") or win.params).items()) + "`", "",
             "| rank | TFLOP/s | vs winner | vendor | config |", "|---|---|---|---|---|"]
    for i, t in enumerate(ranked[:10], 1):
        cfg = " ".join(f"{k}={val}" for k, val in (t.user_attrs.get("config") or t.params).items())
        lines.append(f"| {i} | {t.value:.4g} | {t.value / win.value:.3f} | {t.user_attrs.get('vendor_tflops') or float('nan'):.4g} | {cfg} |")
    if imp:
        lines += ["", "Parameter importance: " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items())]
    if failed:
        reasons: dict[str, int] = {}
        for t in failed:
            r = str(t.user_attrs.get("reason", "?")).split(":")[0]
            reasons[r] = reasons.get(r, 0) + 1
        lines += ["", "Failures: " + ", ".join(f"{n}x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))]
    lines += ["", "![history](history.png)", "", "![knobs](knobs.png)"] + (["", "![importance](importance.png)"] if imp else [])
    md = out / "report.md"
    md.write_text("\n".join(lines) + "\n")
    return md


@click.command("report")
@click.argument("study_name")
@click.option("--storage", default=None, help="journal file or Optuna RDB URL (default: results/studies.journal)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="folder (default: results/reports/STUDY)")
def command(study_name: str, storage: str | None, out: Path | None) -> None:
    """PNG plots (history with best-so-far, parameter importance, TFLOP/s per knob) and a Markdown summary."""
    from hktune.family.family import project_root
    from hktune.search.storage import default_storage

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.ClickException("hktune report needs matplotlib: pip install 'hktune[report]'") from None
    storage = storage or default_storage(project_root() / "results")
    study = _load(study_name, storage)
    md = write_report(study, out or project_root() / "results" / "reports" / study_name)
    click.echo(f"wrote {md} and its plots")
