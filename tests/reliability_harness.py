"""The fault-injection suite's view from outside (tests/test_reliability.py): hktune run as a user
types it, the study and the table read back, the invariants every scenario keeps, and the
planted-fault families a scenario searches."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
FAULTY = HERE / "families" / "faulty" / "gemm.cpp"
RACY = HERE / "families" / "racy" / "gemm.cpp"
# --trial-timeout: long where nothing hangs (a loaded 2-core machine must not time out a good
# trial: a fresh worker's first one takes ~3 s there, FAULT=8's ~1 s more), short where the fault
# is a hang or a slow kernel (each costs this much wall time; FAULT=11 runs >= 10.5 s, so it is
# always killed).
TRIAL_TIMEOUT, HANG_TIMEOUT = 60, 10
SHAPE = ["--m", "64", "--n", "64", "--k", "64"]
STUDY = "rel-host-bf16-64x64x64"


def hk(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# -- the study and the table, read from outside ------------------------------------------------------
def trials(results: Path, study: str = STUDY) -> list[dict]:
    """Every trial of a study as {number, state, value, config, reason}; [] when there is none yet.
    Reads whichever storage the search used: the journal file, or an SQLite database."""
    import optuna

    journal, db = results / "studies.journal", results / "studies.db"
    if journal.exists():
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(journal)))
    elif db.exists():
        storage = f"sqlite:///{db}"
    else:
        return []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        st = optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        return []
    return [{"number": t.number, "state": t.state.name, "value": t.value, "config": t.user_attrs.get("config"),
             "reason": t.user_attrs.get("reason"), "duplicate": "duplicate_of" in t.user_attrs}
            for t in st.get_trials(deepcopy=False)]


def complete(ts: list[dict]) -> dict[int, float]:
    return {t["number"]: t["value"] for t in ts if t["state"] == "COMPLETE"}


def entries(table: Path) -> list[dict]:
    """A table's entries; [] when there is no table, or (a scenario planted it) a malformed one:
    that one must stay byte for byte as it was, which the scenario checks itself."""
    from hktune.record import table as tbl

    try:
        return [e.to_dict() for e in tbl.load(table)]
    except tbl.TableError:
        return []


@dataclass
class Snapshot:
    complete: dict[int, float]
    entries: list[dict]
    table_bytes: bytes | None


def snapshot(results: Path, table: Path, study: str = STUDY) -> Snapshot:
    return Snapshot(complete(trials(results, study)), entries(table), table.read_bytes() if table.exists() else None)


@dataclass
class Outcome:
    """One scenario run, as the report shows it."""

    scenario: str
    kind: str
    run: int
    expected: str
    survived: bool = False
    lost_trials: int = 0
    lost_entries: int = 0
    bad_entries: int = 0
    exit_code: int | None = None
    seconds: float = 0.0
    detail: str = ""
    problems: list[str] = field(default_factory=list)


def audit(out: Outcome, before: Snapshot, after: Snapshot) -> None:
    """The invariants every scenario must keep, counted (the report shows them) then asserted."""
    def _worse(now: dict, old: dict) -> bool:
        from hktune.record.table import Entry, better

        return better(Entry.from_dict(old), Entry.from_dict(now))

    out.lost_trials = sum(1 for n, v in before.complete.items() if after.complete.get(n) != v)
    after_keys = {json.dumps(e["key"], sort_keys=True): e for e in after.entries}
    for e in before.entries:
        now = after_keys.get(json.dumps(e["key"], sort_keys=True))
        # "Slower" by the table's own rule: the paired ratio to the vendor BLAS when both have one
        # (robust to the machine's load), else TFLOP/s.
        if now is None or _worse(now, e):
            out.lost_entries += 1
    out.bad_entries = sum(1 for e in after.entries
                          if e["config"].get("FAULT", 0) not in (0, 8) or not 0 < e["error"] < 1e-2 or not e["tflops"] > 0)
    if out.lost_trials:
        out.problems.append(f"{out.lost_trials} finished trial(s) lost")
    if out.lost_entries:
        out.problems.append(f"{out.lost_entries} table entr(y/ies) lost or made slower")
    if out.bad_entries:
        out.problems.append(f"{out.bad_entries} wrong or unverified table entr(y/ies)")


# -- families made for one scenario -----------------------------------------------------------------------
ALL_FAULTS = list(range(12))  # faulty's 0-8 and racy's 9-11; on the other's source a value is a correct kernel


def variant(root: Path, faults: list[int], source: Path = FAULTY, blocks: tuple[int, ...] = (16, 32),
            space_text: str | None = None, name: str = "rel") -> Path:
    """A family `name` in root/families, on a planted-fault source, whose space is BLOCK x FAULT
    with FAULT's values in the order given, then the rest of ALL_FAULTS. Every variant has the
    same values (an Optuna study cannot resume over a space whose values changed), so the
    exhaustive order (BLOCK-major: (16, faults[0]), (16, faults[1]), ...) picks the scenario's."""
    d = root / "families" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "family.yaml").write_text(yaml.safe_dump({
        "name": name, "compiler": "gcc", "flags": ["-O2", "-std=c++17", "-fopenmp", "-pthread"],
        "archs": {"host": {"source": str(source), "space": "space.yaml"}}}))
    values = faults + [f for f in ALL_FAULTS if f not in faults]
    (d / "space.yaml").write_text(space_text if space_text is not None else yaml.safe_dump({
        "family": name, "params": {"BLOCK": list(blocks), "FAULT": values},
        "shape_constraints": ["M % BLOCK == 0", "N % BLOCK == 0"], "limits": {"host": {}}}, sort_keys=False))
    return root / "families"


def search(root: Path, results: Path, *extra: str, family: str = "rel", trials_: int = 3,
           env: dict | None = None, shape: list[str] = SHAPE, timeout: float = TRIAL_TIMEOUT) -> subprocess.CompletedProcess:
    return hk("search", *shape, "--arch", "host", "--family", family, "--sampler", "exhaustive",
              "--trials", str(trials_), "--trial-timeout", str(timeout), "--table", str(results / "host.yaml"),
              "--quiet", *extra, env={"HKTUNE_FAMILY_PATH": str(root / "families"), **(env or {})})


def fresh(base: Path, tmp_path: Path) -> Path:
    results = tmp_path / "results"
    shutil.copytree(base, results, ignore=shutil.ignore_patterns("*.lock"))
    return results
