"""Reading studies back out of an Optuna storage, for `hktune show --studies`."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hktune.search.storage import open_storage


def study_rows(storage: str, name: str | None = None) -> tuple[list[list], list[str]]:
    """Without a name, one row per study; with one, one row per trial of that study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage)
    if name is None:
        rows = []
        for s in optuna.get_all_study_summaries(storage):
            st = optuna.load_study(study_name=s.study_name, storage=storage)
            trials = st.get_trials(deepcopy=False)
            counts = {state: sum(1 for t in trials if t.state == state and "duplicate_of" not in t.user_attrs)
                      for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)}
            best = max((t.value for t in trials if t.state == TrialState.COMPLETE), default=None)
            rows.append([s.study_name, counts[TrialState.COMPLETE], counts[TrialState.FAIL], counts[TrialState.PRUNED], best])
        return rows, ["study", "verified", "failed", "pruned/skipped", "best TFLOP/s"]
    st = optuna.load_study(study_name=name, storage=storage)
    rows = []
    for t in st.get_trials(deepcopy=False):
        if "duplicate_of" in t.user_attrs:
            continue
        cfg = t.user_attrs.get("config") or t.params
        rows.append([t.number, t.state.name, t.value, t.user_attrs.get("vendor_tflops"),
                     " ".join(f"{k}={v}" for k, v in cfg.items()), (t.user_attrs.get("reason") or "")[:120]])
    return rows, ["trial", "state", "TFLOP/s", "vendor", "config", "reason"]
