"""The three figures of `hktune report` (matplotlib, the optional `report` extra: this module is
imported only when the command runs). Each takes the study's trials and writes one PNG."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

YLABEL = "paired ratio to vendor BLAS\n(vendor time / kernel time)"


def history(trials: list, ratio: Callable, title: str, entry_ratio: float | None, path: Path) -> None:  # noqa: ANN401
    """Each verified trial's paired ratio to the vendor (the study's objective, the number `show`
    prints), the best so far, the vendor's line at 1.0 and the table entry's ratio."""
    xs, ys, best, bests = [], [], -math.inf, []
    for i, t in enumerate(trials, 1):
        if t.state.name == "COMPLETE":
            y = ratio(t)
            xs.append(i)
            ys.append(y)
            best = max(best, y)
        bests.append(best if best > -math.inf else float("nan"))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, s=12, alpha=0.6, label="verified trial")
    ax.step(range(1, len(trials) + 1), bests, where="post", color="C1", lw=2, label="best so far (first timings)")
    ax.axhline(1.0, color="C2", ls="--", label="vendor BLAS (1.0)")
    if entry_ratio is not None:
        ax.axhline(entry_ratio, color="C3", ls=":", label=f"table entry {entry_ratio:.3g}x")
    lo, hi = min(ys), max(max(ys), 1.0 if max(ys) > 0.5 else max(ys))
    if hi / max(lo, 1e-12) > 8:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("evaluated config (in order)")
    ax.set_ylabel(YLABEL)
    ax.set_title(f"{title}: history")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def importance(study, n_done: int, path: Path) -> dict[str, float]:  # noqa: ANN001
    """Optuna's fANOVA importance over the verified trials (>= 4 of them), plotted when there is
    any; returns it (empty when it cannot be computed)."""
    try:
        imp = optuna.importance.get_param_importances(study) if n_done >= 4 else {}
    except (RuntimeError, ValueError):
        imp = {}
    if imp:
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(imp) + 1))
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance (fANOVA)")
        ax.set_title(f"{study.study_name}: parameter importance")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return imp


def _is_pow2_axis(values: list) -> bool:
    return len(values) > 1 and all(isinstance(v, (int, float)) and v > 0 and float(v).is_integer()
                                   and (int(v) & (int(v) - 1)) == 0 for v in values)


def per_knob(done: list, config_of: Callable, ratio: Callable, title: str, path: Path) -> None:
    """Performance against each knob: every trial (faint), and per value the median with a bar from
    the 10th to the 90th percentile of the trials that used it. Powers of two on log2 axes."""
    params = list(config_of(done[0]))
    cols = 3
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, p in zip(axes.flat, params):
        pts = [(config_of(t)[p], ratio(t)) for t in done]
        values = sorted({v for v, _ in pts})
        ax.scatter([v for v, _ in pts], [y for _, y in pts], s=8, alpha=0.3, color="C0")
        per_value = [[y for v, y in pts if v == x] for x in values]
        med = [float(np.median(ys)) for ys in per_value]
        p10 = [float(np.percentile(ys, 10)) for ys in per_value]
        p90 = [float(np.percentile(ys, 90)) for ys in per_value]
        ax.errorbar(values, med, yerr=[np.subtract(med, p10), np.subtract(p90, med)], fmt="o-", color="C1",
                    capsize=3, lw=1.5, label="median, p10-p90")
        pow2 = _is_pow2_axis(values)
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
    fig.suptitle(f"{title}: performance per knob")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
