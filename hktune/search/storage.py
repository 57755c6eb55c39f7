"""Where studies live. A path (default: results/studies.journal) is Optuna's journal file
storage: append-only, file-locked, so a killed search loses nothing and several processes on
one machine can share a study, and its asks stay fast as a study grows (an SQLite study made
TPE's ask 4x slower at 600 trials). Any Optuna RDB URL (sqlite:///..., postgresql://...)
works too, e.g. to share one study between machines."""
from __future__ import annotations

from pathlib import Path

from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend

DEFAULT_NAME = "studies.journal"


def default_storage(results_dir: Path) -> str:
    return str(Path(results_dir).resolve() / DEFAULT_NAME)


def open_storage(spec: str) -> BaseStorage | str:
    """A journal storage for a file path (or 'journal:PATH'); the URL itself for an RDB."""
    if "://" in spec and not spec.startswith("journal:"):
        return spec
    path = Path(spec.removeprefix("journal:")).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))
