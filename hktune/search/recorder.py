"""The study side of a search: open (or resume) the problem's Optuna study, read its history,
start and finish trials, and close trials that a killed search left RUNNING.

The study is the record of every evaluation (config, objective, measurement, build, reason it
failed). Strategies never touch it: the driver reads its history once and feeds it to them.

Stale trials: each RUNNING trial names its owner (host, pid, run). A RUNNING trial whose owner
process on this host no longer exists was left by a killed search: it is closed PRUNED (no result) and its
config becomes a candidate again. Trials owned by live processes, or by other hosts sharing an
RDB study, are never touched (their configs may then be evaluated twice, never lost).
"""
from __future__ import annotations

import os
import random
import socket
import time
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hktune.search.problem import SearchError, config_key
from hktune.search.storage import open_storage
from hktune.space.space import Config

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StudyRecorder:
    def __init__(self, name: str, storage: str, run_id: str) -> None:
        self.name, self.storage, self.run_id = name, storage, run_id
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "run": run_id}
        self._space_checked = False   # the study's earlier trials checked against this run's space (start)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = self._open()

    def _open(self) -> optuna.Study:
        # Several nodes starting at once race to create the schema and the study in a shared
        # database; the loser's error is transient, so try again before giving up.
        last: Exception | None = None
        for attempt in range(6):
            try:
                store = optuna.storages.get_storage(open_storage(self.storage))
                study = optuna.create_study(study_name=self.name, storage=store, direction="maximize",
                                            sampler=optuna.samplers.RandomSampler(), load_if_exists=True)
                # the storage object and the study's id, through the storage's public API (a trial is
                # created in one storage call by start(); Optuna's Study offers no such call)
                self.storage_backend = store
                self.study_id = store.get_study_id_from_name(self.name)
                return study
            except Exception as e:  # noqa: BLE001 - any storage failure is one line for the user
                last = e
                if "://" not in self.storage or isinstance(e, ImportError):
                    break
                time.sleep(0.5 * (attempt + 1) + random.random())
        raise SearchError(f"cannot open study storage {self.storage}: {str(last).splitlines()[0]}") from None

    # -- history --------------------------------------------------------------------------------
    def close_stale(self) -> list[Config]:
        """Close the RUNNING trials no live search owns (PRUNED: not a result); return their
        configs, to run again first."""
        again: list[Config] = []
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = t.user_attrs.get("owner") or {}
            if owner.get("host") != self.owner["host"] or not owner.get("pid") or _alive(int(owner["pid"])):
                continue
            try:
                self.study.tell(t.number, state=TrialState.PRUNED)
            except (ValueError, RuntimeError):
                continue
            if t.user_attrs.get("config"):
                again.append({k: int(v) for k, v in t.user_attrs["config"].items()})
        return again

    def unsafe_keys(self) -> set[str]:
        """Configs that ever failed race hunting or a re-check in this study."""
        return {config_key(t.user_attrs["config"]) for t in self.study.get_trials(deepcopy=False)
                if t.user_attrs.get("unsafe") and t.user_attrs.get("config")}

    def mark_unsafe(self, config: Config, dists: dict[str, Any], reason: str, of_trial: int) -> None:
        """Record that a config that once passed failed a later re-check (a FAILED trial that
        names it): from now on it is failed in this study, and never warm-starts another."""
        self.study.add_trial(optuna.trial.create_trial(
            params=dict(config), distributions=dists, state=TrialState.FAIL,
            user_attrs={"config": dict(config), "unsafe": True, "recheck_of": of_trial, "reason": reason[:2000],
                        "run": self.run_id}))

    def history(self) -> list[tuple[Config, float | None, FrozenTrial]]:
        """Every evaluated config of the study: (config, objective or None when it failed or was
        pruned after compiling, trial). A config marked unsafe by any trial counts as failed.
        Pruned configs count: a resumed or repeated search neither re-proposes nor re-counts them."""
        unsafe = self.unsafe_keys()
        out = []
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)):
            cfg = t.user_attrs.get("config")
            if not cfg:
                continue
            if t.state == TrialState.PRUNED and not str(t.user_attrs.get("reason", "")).startswith("pruned:"):
                continue   # asked but never run (a stopped or dead search): a candidate again, not a result
            ok = t.state == TrialState.COMPLETE and config_key(cfg) not in unsafe
            out.append(({k: int(v) for k, v in cfg.items()}, t.value if ok else None, t))
        return out

    # -- one trial ------------------------------------------------------------------------------
    def start(self, config: Config, dists: dict[str, Any], attrs: dict[str, Any] | None = None) -> optuna.Trial:
        """A RUNNING trial for ``config``, written in one storage call (params, distributions and
        user attributes at once: with a journal file every call is an fsync, and the GPU waits
        for them)."""
        params = {k: config[k] for k in dists}
        for k, v in params.items():
            if v not in getattr(dists[k], "choices", (v,)):
                raise SearchError(f"study {self.name} in {self.storage} was made with another version of the space "
                                  f"({k}={v} is not one of its values); use a new --storage to start afresh")
        self._check_space(dists)
        template = optuna.trial.FrozenTrial(
            number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.now(), datetime_complete=None,
            params=params, distributions=dict(dists), intermediate_values={}, trial_id=-1, system_attrs={},
            user_attrs={**(attrs or {}), "config": {k: int(v) for k, v in config.items()}, "run": self.run_id,
                        "owner": self.owner})
        trial_id = self.storage_backend.create_new_trial(self.study_id, template_trial=template)
        return optuna.trial.Trial(self.study, trial_id)

    def _check_space(self, dists: dict[str, Any]) -> None:
        """Once per run: the study's earlier trials were made over the same knobs and values."""
        if self._space_checked:
            return
        for t in self.study.get_trials(deepcopy=False):
            for k, d in t.distributions.items():
                if k not in dists or d != dists[k]:
                    raise SearchError(f"study {self.name} in {self.storage} was made with another version of the space "
                                      f"({k}: {getattr(d, 'choices', d)}); use a new --storage to start afresh")
            break
        self._space_checked = True

    def finish(self, trial: optuna.Trial, value: float | None, state: TrialState = TrialState.COMPLETE,
               attrs: dict[str, Any] | None = None) -> None:
        for k, v in (attrs or {}).items():
            trial.set_user_attr(k, v)
        if state == TrialState.COMPLETE:
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=state)

    def abandon(self, trial: optuna.Trial) -> None:
        """A candidate asked but never run: PRUNED, so a resumed search proposes it again."""
        try:
            trial.set_user_attr("reason", "not run: the search stopped first")
            self.study.tell(trial, state=TrialState.PRUNED)
        except Exception:  # noqa: BLE001 - already told, or storage gone
            pass
