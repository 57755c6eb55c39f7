"""Which results tables hktune.torch reads, and their entries per arch.

Order of discovery: the paths given to :func:`use_table`; else ``HKTUNE_TABLE`` (an
``os.pathsep``-separated list); else every ``<project>/results/*.yaml``. Tables are read once
and kept; :func:`use_table` and :func:`reload` re-read them (so does a change of HKTUNE_TABLE).
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable

from hktune.export.header import ABI_DTYPE_LAYOUT
from hktune.family.family import project_root
from hktune.record.table import Entry, TableError, load

log = logging.getLogger("hktune.torch")

_lock = threading.Lock()
_explicit: list[Path] | None = None
_loaded: tuple[tuple, list[Entry]] | None = None  # (discovery key, entries)
_generation = 0  # bumped whenever the entries may have changed; plans are cached per generation


def use_table(paths: str | os.PathLike | Iterable[str | os.PathLike] | None) -> None:
    """Read tuned configs from these table files (None: back to HKTUNE_TABLE / results/*.yaml).

    Each file is read now, so a missing or malformed table fails here, with its name."""
    global _explicit
    if paths is None:
        chosen = None
    else:
        items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        chosen = [Path(p) for p in items]
        for p in chosen:
            if not p.is_file():
                raise TableError(f"{p}: no such table file")
            load(p)
    with _lock:
        _explicit = chosen
    reload()


def reload() -> None:
    """Forget the loaded tables and every cached plan; the next GEMM reads the tables again."""
    global _loaded, _generation
    with _lock:
        _loaded = None
        _generation += 1


def table_paths() -> list[Path]:
    """The table files the next lookup reads, in discovery order."""
    if _explicit is not None:
        return list(_explicit)
    env = os.environ.get("HKTUNE_TABLE")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return sorted((project_root() / "results").glob("*.yaml"))


def _read_all(paths: list[Path], explicit: bool) -> list[Entry]:
    entries: list[Entry] = []
    for p in paths:
        if explicit and not Path(p).is_file():   # a typo in HKTUNE_TABLE: said, not read as "no entries"
            log.warning("hktune.torch: no table at %s (named by HKTUNE_TABLE or use_table): its GEMMs go to torch", p)
            continue
        try:
            entries += load(p)
        except TableError as e:
            if explicit:
                raise
            # results/ may hold other YAML files (shapes, summaries): not tables, skipped.
            log.warning("hktune.torch: skipping %s", e)
    return entries


def generation() -> int:
    """Changes whenever the entries may have changed (cache key for plans)."""
    _entries()
    return _generation


def _entries() -> list[Entry]:
    global _loaded, _generation
    key = (tuple(_explicit) if _explicit is not None else None, os.environ.get("HKTUNE_TABLE"))
    with _lock:
        if _loaded is not None and _loaded[0] == key:
            return _loaded[1]
    paths = table_paths()
    entries = _read_all(paths, explicit=_explicit is not None or bool(key[1]))
    with _lock:
        if _loaded is not None:
            _generation += 1  # the discovery changed under us (HKTUNE_TABLE set or changed)
        _loaded = (key, entries)
    log.debug("%d table entries from %s", len(entries), ", ".join(map(str, paths)) or "no table")
    return entries


def entries_for(arch: str, dtype: str = ABI_DTYPE_LAYOUT[0]) -> list[Entry]:
    """Verified entries of ``dtype`` (default bf16) in the C ABI's layout (ABt) for ``arch``, every
    family: a bf16 GEMM never picks an fp8 entry, nor the other way round."""
    layout = ABI_DTYPE_LAYOUT[1]
    return [e for e in _entries() if e.key.arch == arch and e.key.dtype == dtype and e.key.layout == layout and e.verified()]
