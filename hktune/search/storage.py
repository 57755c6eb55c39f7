"""Where studies live. A path (default: results/studies.journal) is Optuna's journal file
storage: append-only, file-locked, so a killed search loses nothing and several processes on
one machine can share a study, and its asks stay fast as a study grows (an SQLite study made
TPE's ask 4x slower at 600 trials). Any Optuna RDB URL (sqlite:///..., postgresql://...)
works too, e.g. to share one study between machines."""
from __future__ import annotations

import json
import socket
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


def storage_kind(path: Path) -> str | None:
    """What an existing file's first bytes say it is: "journal" (an Optuna journal: every line a JSON record with an
    ``op_code``), "sqlite" (an SQLite database), else None (empty, unreadable or anything else). Read-only."""
    try:
        with open(path, "rb") as f:
            first = f.readline(65536).strip()
    except OSError:
        return None
    if first.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    try:
        rec = json.loads(first)
    except ValueError:
        return None
    return "journal" if isinstance(rec, dict) and "op_code" in rec else None


def _problem(path: Path, kind: str, what: str) -> str | None:
    """Why an existing file is not ``kind`` (None: it is one, or is empty): a search must not write its records into
    someone's notes."""
    try:
        if path.stat().st_size == 0:
            return None
    except OSError as e:
        return f"cannot read it ({e.strerror})"
    return None if storage_kind(path) == kind else what


def journal_problem(path: Path) -> str | None:
    return _problem(path, "journal", "not an Optuna journal (its first line is not a journal record)")


def sqlite_problem(path: Path) -> str | None:
    return _problem(path, "sqlite", "not an SQLite database")


DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433, "oracle": 1521}


def url_problem(spec: str, timeout_s: float = 1.5) -> str | None:
    """Why an RDB URL cannot work here, found in well under 2 s (None: it may): not a database URL,
    no driver for its scheme, an SQLite file in a folder that does not exist, or a server that
    does not answer on its port. Nothing is created."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(spec)
    except ArgumentError:
        return "not a database URL (e.g. sqlite:///studies.db or postgresql://host/db)"
    try:
        url.get_dialect()
    except NoSuchModuleError:
        return f"no database driver for {url.drivername!r} (e.g. sqlite:///studies.db or postgresql://host/db)"
    except ImportError as e:
        return f"the {url.drivername} driver is not installed ({e})"
    backend = url.get_backend_name()
    if backend == "sqlite":
        db = url.database or ""
        if db not in ("", ":memory:") and not Path(db).expanduser().parent.is_dir():
            return f"the folder of {db} does not exist"
        return None
    port = url.port or DEFAULT_PORTS.get(backend)
    if url.host and port:
        try:
            socket.create_connection((url.host, port), timeout=timeout_s).close()
        except OSError as e:
            return f"cannot reach {url.host}:{port} ({e.strerror or e})"
    return None
