"""A file a command writes (a header, a shapes file, a report): never over this command's inputs or over saved results.

``check_output`` runs before any work. It refuses a path that is one of the command's inputs, or a file that holds
results hktune saved (a results table, an Optuna study journal or SQLite database), whatever the command: a slip of
`--out t.yaml` for `--out t.h` must not turn a table into a header. Other existing files (an older header, report or
shapes file) are replaced, as asked."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from hktune.commands.common import Fail
from hktune.search.storage import storage_kind

_HEAD = 8192
_TABLE = (re.compile(rb"^schema:\s*\d", re.M), re.compile(rb"^entries:", re.M))


def saved_results(path: Path) -> str | None:
    """What saved results ``path`` holds, from its first bytes: 'a results table', 'an Optuna study journal', 'an
    SQLite database'; None for anything else (or a file that cannot be read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return None
    kind = storage_kind(path)
    if kind:
        return {"sqlite": "an SQLite database", "journal": "an Optuna study journal"}[kind]
    if all(p.search(head) for p in _TABLE):
        return "a results table"
    return None


def check_output(path: Path, option: str, inputs: Iterable[Path | None] = ()) -> None:
    """Fail (one line, exit 2) when writing ``path`` would replace an input of this command or saved results."""
    if not path.is_file():
        return
    for p in inputs:
        if p is not None and Path(p).is_file() and path.samefile(p):
            raise Fail(f"{option} {path}: is this command's input {p}; not overwritten (give another path)")
    what = saved_results(path)
    if what:
        raise Fail(f"{option} {path}: holds {what}; not overwritten (give another path)")
