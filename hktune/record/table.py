"""The results table: a schema-versioned YAML file of the best verified config per GEMM key.

Writers take a file lock (``<table>.lock``), re-read the table under it, and replace the file
atomically (temp file in the same directory + fsync + ``os.replace``), so two searches writing
one table lose nothing and a reader never sees half a file.
"""
from __future__ import annotations

from hktune.errors import BadInput

import datetime as _dt
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import filelock
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from hktune.dtypes import DTYPES
from hktune.record import figures

SCHEMA = 1
# Relative Frobenius error above which a result is not "verified". bf16 output rounding alone
# gives ~0.003; a wrong kernel gives ~1. Callers (or the table's own `max_error:`) may tighten it.
DEFAULT_MAX_ERROR = 0.02  # only for a key whose dtype hktune does not know; else hktune.dtypes decides
LOCK_TIMEOUT_S = 120.0

_HEADER = "# hktune results table (written by hktune; entries sorted by key)\n"


class TableError(BadInput):
    """The table cannot be read or written; the one-line message names the file."""


@dataclass(frozen=True, order=True)
class Key:
    """What a table entry is the best config for."""

    family: str
    arch: str
    dtype: str
    layout: str
    m: int
    n: int
    k: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.family}/{self.arch}/{self.dtype}/{self.layout} {self.m}x{self.n}x{self.k}"


@dataclass
class Entry:
    """One measured best config; field order is the YAML order in docs/design.md."""

    key: Key
    config: dict[str, int]
    tflops: float
    time_us: float
    spread: float
    vendor: dict[str, Any]
    ratio: float
    error: float
    trials: int
    date: str
    device: dict[str, Any]
    toolchain: dict[str, Any]
    template_hash: str
    # Fields this version does not know (from a newer writer): kept so a rewrite keeps them.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key.as_dict()}
        for f in fields(self):
            if f.name not in ("key", "extra"):
                out[f.name] = getattr(self, f.name)
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def from_dict(cls, d: Any) -> Entry:
        """Build from a YAML mapping; raises TableError (without the file name) when malformed."""
        if not isinstance(d, dict):
            raise TableError("an entry is not a mapping")
        missing = [f.name for f in fields(cls) if f.name != "extra" and f.name not in d]
        if missing:
            raise TableError(f"missing field(s) {', '.join(missing)}")
        kd = d["key"]
        kmissing = [f.name for f in fields(Key) if not isinstance(kd, dict) or f.name not in kd]
        if kmissing:
            raise TableError(f"key lacks {', '.join(kmissing)}")
        try:
            key = Key(*(str(kd[n]) for n in ("family", "arch", "dtype", "layout")), *(_size(kd[n]) for n in "mnk"))
            if not isinstance(d["config"], dict):
                raise TableError("config is not a mapping")
            config = {str(n): _int32(v) for n, v in d["config"].items()}
            date = d["date"]
            # An unquoted ISO date in a hand-edited file loads as a datetime; keep it a string.
            if isinstance(date, (_dt.date, _dt.datetime)):
                date = date.isoformat()
            known = {f.name for f in fields(cls)}
            return cls(
                key=key,
                config=config,
                tflops=float(d["tflops"]),
                time_us=float(d["time_us"]),
                spread=float(d["spread"]),
                vendor=dict(d["vendor"] or {}),
                ratio=float(d["ratio"]),
                error=float(d["error"]),
                trials=_int(d["trials"]),
                date=str(date),
                device=dict(d["device"] or {}),
                toolchain=dict(d["toolchain"] or {}),
                template_hash=str(d["template_hash"]),
                extra=_extras({k: v for k, v in d.items() if k not in known}),
            )
        except (TypeError, ValueError) as e:
            if isinstance(e, TableError):
                raise
            raise TableError(f"bad value ({e})") from None

    def verified(self, max_error: float | None = None) -> bool:
        """Checked against the reference (within its dtype's limit, hktune.dtypes, unless told
        another) and fast enough to be a number at all."""
        if max_error is None:
            dt = DTYPES.get(self.key.dtype)
            max_error = dt.frobenius_max if dt is not None else DEFAULT_MAX_ERROR
        return math.isfinite(self.error) and self.error <= max_error and math.isfinite(self.tflops) and self.tflops > 0


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TableError(f"{v!r} is not an integer")
    return v


INT32_MAX = 2**31 - 1      # the exported header's `int`


def _size(v: Any) -> int:
    """M, N or K: a positive int the header's lookup can hold."""
    if not 0 < _int(v) <= INT32_MAX:
        raise TableError(f"size {v} is not in 1..{INT32_MAX}")
    return v


def _int32(v: Any) -> int:
    if not -INT32_MAX - 1 <= _int(v) <= INT32_MAX:
        raise TableError(f"config value {v} does not fit a 32-bit int")
    return v


class _Extras(BaseModel):
    """The optional fields hktune writes beside the headline figures, typed (a newer writer's other fields pass)."""

    model_config = ConfigDict(extra="allow")
    space: StrictStr | None = None
    method: StrictStr | None = None
    warnings: list[StrictStr] | None = None
    ratio_lo: float | None = None
    ratio_hi: float | None = None
    precision: float | None = None
    noise: float | None = None
    converged: StrictBool | None = None
    rounds: StrictInt | None = None
    ratios: list[float] | None = None


def _extras(extra: dict[str, Any]) -> dict[str, Any]:
    try:
        _Extras.model_validate(extra)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise TableError(f"{where}: {err['msg'].lower()} (got {err.get('input')!r})") from None
    return extra


# -- reading ---------------------------------------------------------------------------------
def _read(path: Path) -> tuple[list[Entry], dict[str, Any]]:
    """Entries and the other top-level fields (kept on rewrite). A missing or empty file is empty."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return [], {}
    except OSError as e:
        raise TableError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise TableError(f"{path}: not a table (not UTF-8 text)") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TableError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if doc is None:
        return [], {}
    if not isinstance(doc, dict):
        raise TableError(f"{path}: not a table (expected a mapping with 'schema' and 'entries')")
    schema = doc.get("schema")
    if schema is None:
        raise TableError(f"{path}: no schema version (expected 'schema: {SCHEMA}')")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA:
        raise TableError(f"{path}: schema {schema} is newer than this hktune's ({SCHEMA}); upgrade hktune (refusing to read or write it)")
    if schema != SCHEMA:
        raise TableError(f"{path}: unsupported schema {schema!r} (this hktune reads schema {SCHEMA})")
    raw = doc.get("entries")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise TableError(f"{path}: 'entries' is not a list")
    entries = []
    for i, d in enumerate(raw):
        try:
            entries.append(Entry.from_dict(d))
        except TableError as e:
            raise TableError(f"{path}: entry {i}: {e}") from None
    meta = {k: v for k, v in doc.items() if k not in ("schema", "entries")}
    return entries, meta


def load(path: Path | str) -> list[Entry]:
    """All entries of a table ([] when the file does not exist)."""
    return _read(Path(path))[0]


def lookup(entries: Iterable[Entry], key: Key) -> Entry | None:
    """The entry for ``key`` (the fastest, should a hand-merged file hold duplicates)."""
    hits = [e for e in entries if e.key == key]
    return max(hits, key=lambda e: e.tflops) if hits else None


# -- writing ---------------------------------------------------------------------------------
def _dump(entries: list[Entry], meta: dict[str, Any]) -> str:
    doc: dict[str, Any] = {"schema": SCHEMA, **meta, "entries": [e.to_dict() for e in sorted(entries, key=lambda e: e.key)]}
    # default_flow_style=None: scalar-only mappings (key, config, vendor, ...) on one line, as in
    # the design doc; a wide width so a long config never wraps mid-mapping.
    return _HEADER + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=4096, allow_unicode=True)


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically; on any failure the old file is untouched."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            # mkstemp makes 0600 files; a results table is meant to be shared and committed.
            try:
                mode = os.stat(path).st_mode & 0o777
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise TableError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    # Make the rename itself durable; not all filesystems allow fsync on a directory.
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save(path: Path | str, entries: list[Entry], meta: dict[str, Any] | None = None) -> None:
    """Write the whole table atomically (no lock: use :func:`record` from concurrent writers)."""
    _write(Path(path), _dump(list(entries), meta or {}))


def _lock(path: Path, timeout: float) -> filelock.BaseFileLock:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TableError(f"{path}: cannot create its directory ({e.strerror or e})") from None
    return filelock.FileLock(str(path) + ".lock", timeout=timeout)


def better(new: Entry, old: Entry) -> bool:
    """Is ``new`` faster than ``old``? By the paired ratio to the vendor BLAS when both have one
    (robust to the card's clock and power state), else by TFLOP/s."""
    if math.isfinite(new.ratio) and math.isfinite(old.ratio) and new.ratio > 0 and old.ratio > 0:
        return new.ratio > old.ratio
    return new.tflops > old.tflops


def record(
    path: Path | str, entry: Entry, max_error: float | None = None, timeout: float = LOCK_TIMEOUT_S,
    supersede_run: str | None = None, force: bool = False,
) -> tuple[bool, Entry | None]:
    """Put ``entry`` in the table if it is verified and faster than the one stored for its key.

    ``supersede_run``: a stored entry whose ``extra['run']`` equals it was written earlier by the
    same search run (a first, single timing), so the run's final, re-measured figure replaces it
    even when lower; entries of other runs are still only replaced by faster ones.

    ``force``: replace the stored entry even when slower (a sweep's --update re-baselining after a
    genuine slowdown, or over a baseline too imprecise to judge by).

    ``max_error`` defaults to the table's top-level ``max_error`` field, else DEFAULT_MAX_ERROR.
    A stored entry that fails verification is replaced by any verified one.
    Returns (replaced?, the previous entry for the key or None).
    """
    path = Path(path)
    lock = _lock(path, timeout)
    try:
        with lock:
            entries, meta = _read(path)
            limit = max_error if max_error is not None else meta.get("max_error")
            limit = float(limit) if limit is not None else None
            previous = lookup(entries, entry.key)
            if not entry.verified(limit):
                return False, previous
            same_run = force or (supersede_run is not None and previous is not None and previous.extra.get("run") == supersede_run)
            if previous is not None and previous.verified(limit) and not same_run and not better(entry, previous):
                return False, previous
            kept = [e for e in entries if e.key != entry.key]
            _write(path, _dump(kept + [entry], meta))
            return True, previous
    except filelock.Timeout:
        raise TableError(f"{path}: timed out after {timeout:g}s waiting for {lock.lock_file}") from None
    except OSError as e:
        raise TableError(f"{path}: cannot lock ({e.strerror or e})") from None


# -- showing ---------------------------------------------------------------------------------
COLUMNS = ["family", "arch", "dtype", "layout", "m", "n", "k", "ratio", "ratio_ci", "tflops", "vendor_tflops",
           "error", "trials", "device", "date", "config", "note"]


def to_frame(entries: Iterable[Entry]) -> pd.DataFrame:
    """One flat row per entry, sorted by key, for ``hktune show``: the paired ratio to the vendor
    with its 95% CI first, absolute TFLOP/s of the same measurement second (hktune.record.figures),
    and a note when the figure cannot be trusted."""
    rows = []
    for e in sorted(entries, key=lambda e: e.key):
        f = figures.of(e)
        why = f.unreliable()
        how = ", ".join(x for x in (f.method, f"noise {f.noise:.1%}" if f.noise is not None else None) if x)
        rows.append({
            **e.key.as_dict(),
            "ratio": f.ratio if f.ratio is not None else float("nan"),
            "ratio_ci": f"{f.lo:.4g}-{f.hi:.4g}" if f.lo is not None and f.hi is not None else "",
            "tflops": e.tflops,
            "vendor_tflops": f.vendor_tflops if f.vendor_tflops is not None else float("nan"),
            "error": e.error,
            "trials": e.trials,
            "device": str(e.device.get("name", "")),
            "date": e.date,
            "config": " ".join(f"{k}={v}" for k, v in e.config.items()),
            "note": "; ".join(([how] if how else []) + (["unreliable: " + "; ".join(why)] if why else [])),
        })
    return pd.DataFrame(rows, columns=COLUMNS)
