"""Helpers every command shares: option checks, the family/space/builder set-up, config parsing."""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

import click

from hktune.build.builder import Builder
from hktune.family import trees
from hktune.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_MISSING, BadInput, HktuneError  # noqa: F401
from hktune.family.family import known_archs, project_root
from hktune.search.storage import default_storage, journal_problem, sqlite_problem, url_problem
from hktune.target import Target, resolve_target


class Fail(HktuneError):
    """One line on stderr and a chosen exit code (bad input unless told otherwise)."""

    exit_code = EXIT_BAD_INPUT


def _flag(param: click.Parameter) -> str:
    """The option as the user typed it (--timeout, not its keyword timeout_s)."""
    return max(param.opts, key=len) if getattr(param, "opts", None) else f"--{param.name}"


def positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise Fail(f"{_flag(param)} must be a positive integer, got {value}")
    return value


def default_table(arch: str) -> Path:
    return project_root() / "results" / f"{arch}.yaml"


def check_writable(path: Path) -> None:
    """Fail before any work if results cannot be saved (nothing is lost later)."""
    d = path.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Fail(f"cannot create results directory {d}: {e.strerror}") from None
    if not os.access(d, os.W_OK):
        raise Fail(f"results directory {d} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise Fail(f"table {path} is not writable")


def tree_param(name: str) -> str:
    """The keyword a tree's flag fills: --hk-root -> hk_root."""
    return trees.get(name).option.lstrip("-").replace("-", "_")


def tree_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """One flag per external tree (hktune/family/trees: its ``option``, e.g. --hk-root), gathered
    into the command's ``roots`` argument ({tree name: checkout or None}); a new tree gets its
    flag on every command that builds, with no edit here."""
    params = {name: tree_param(name) for name in trees.TREES}

    @functools.wraps(f)
    def command(*args: Any, **kwargs: Any) -> Any:
        kwargs["roots"] = {name: kwargs.pop(param) for name, param in params.items()}
        return f(*args, **kwargs)

    for name in reversed(list(trees.TREES)):
        t = trees.get(name)
        command = click.option(t.option, params[name], default=None, help=f"{t.title} checkout (else {t.env_vars[0]})")(command)
    return command


def setup(arch: str, family: str | None, tree_roots: dict[str, str | None], jobs: int | None,
           space_file: Path | None = None, dtype: str = "bf16") -> tuple[Target, Builder]:
    """The target (resolved once, here at the boundary) and its builder."""
    target = resolve_target(arch, family, dtype, tree_roots, space_file)
    return target, Builder(target, jobs=jobs)


def parse_config(text: str, space) -> dict[str, int]:  # noqa: ANN001
    cfg: dict[str, int] = {}
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise Fail(f"--config: expected NAME=VALUE, got {part!r}")
        if k.strip() in cfg:
            raise Fail(f"--config: {k.strip()} is given twice")
        try:
            cfg[k.strip()] = int(v)
        except ValueError:
            raise Fail(f"--config: {k}={v!r} is not an integer") from None
    cfg = space.complete(cfg)   # a knob added since the config was written takes its legacy value
    bad = space.violations(cfg)
    if bad:
        raise Fail(f"--config is not a valid config of {space.path.name}: {bad[0]}")
    return cfg


_interrupt_note: list[str] = []


def note_interrupt(message: str) -> None:
    """What a Ctrl-C should tell the user (e.g. how many trials are saved); the last one wins."""
    _interrupt_note[:] = [message]


def interrupted_message() -> str:
    return _interrupt_note[-1] if _interrupt_note else "interrupted"


def positive_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A duration in seconds: refused before any work unless it is a positive, finite number."""
    if value is not None and not (value > 0 and value != float("inf")):
        raise Fail(f"{_flag(param)} must be a positive number of seconds, got {value:g}")
    return value


class ArchOption(click.Option):
    """--arch: the help lists the archs the installed families serve (read when help is shown,
    so plug-in families on HKTUNE_FAMILY_PATH count too)."""

    def get_help_record(self, ctx: click.Context):  # noqa: ANN201
        try:
            archs = ", ".join(known_archs()) or "none found"
        except Exception:  # noqa: BLE001 - help must never fail
            archs = "see `hktune doctor`"
        base = self.help or "target arch"
        self.help = f"{base} (one of: {archs})"
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = base


def check_arch(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an unknown --arch at once, listing the known ones."""
    if value is None:
        return value

    archs = known_archs()
    if value not in archs:
        raise Fail(f"--arch: unknown arch {value!r} (known: {', '.join(archs) or 'none'})")
    return value


def is_url(spec: str) -> bool:
    """An Optuna RDB URL (scheme://...), as opposed to a journal file path."""
    import re

    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", spec)) and not spec.startswith("journal:")


def check_storage(spec: str, *, must_exist: bool) -> str:
    """A --storage value that is a URL, or a journal path in an existing folder (and, for a
    read-only command, an existing file). Nothing is created here."""
    if is_url(spec):
        why = url_problem(spec)
        if why:
            raise Fail(f"--storage {spec}: {why}")
        if spec.startswith("sqlite:///"):
            db = Path(spec.removeprefix("sqlite:///").split("?")[0])
            if must_exist and str(db) not in ("", ":memory:") and not db.is_file():
                raise Fail(f"--storage {spec}: no such SQLite file {db}")
            why = sqlite_problem(db) if db.is_file() else None
            if why:
                raise Fail(f"--storage {spec}: {db} is {why}")
        return spec
    if "://" in spec:
        raise Fail(f"--storage {spec!r}: not a URL (scheme://...) or a journal file path")
    path = Path(spec.removeprefix("journal:")).expanduser()
    if path.is_dir():
        raise Fail(f"--storage {spec}: is a folder; give a journal file path or a URL (scheme://...)")
    if not path.is_file() and path.suffix != ".journal":
        raise Fail(f"--storage {spec!r}: neither a URL (scheme://..., e.g. sqlite:///studies.db) nor a journal file "
                   "(an existing file, or a new path ending in .journal)")
    if must_exist and not path.is_file():
        raise Fail(f"--storage {spec}: no such journal file (give an existing journal path or a URL like sqlite:///studies.db)")
    if not path.parent.is_dir():
        raise Fail(f"--storage {spec!r}: neither a URL (scheme://...) nor a path in an existing folder ({path.parent} does not exist)")
    why = journal_problem(path) if path.is_file() else None
    if why:
        raise Fail(f"--storage {spec}: {why}; nothing was written to it")
    return spec


def studies_storage(storage: str | None) -> str:
    """The studies' storage a read-only command uses: the given one, else results/studies.journal;
    it must exist (one-line error otherwise)."""
    if storage is None:
        storage = default_storage(project_root() / "results")
        if not Path(storage).is_file():
            raise Fail(f"no studies yet: {storage} does not exist (run `hktune search` first, or give --storage)")
    check_storage(storage, must_exist=True)
    return storage


def existing_table(path: Path) -> Path:
    """A read-only command's --table: it must exist (a typo must not read as 'no entries')."""
    if path.is_dir():
        raise Fail(f"--table {path}: is a folder, not a table file")
    if not path.is_file():
        raise Fail(f"--table {path}: no such table")
    return path


def requires(ctx: click.Context, option: str, needs: str, given: bool, present: bool) -> None:
    """An option that only applies with another one says so instead of being ignored."""
    if given and not present:
        raise Fail(f"{option} only applies with {needs}")


def emit_json(obj: object) -> None:
    """--json output: one JSON document on stdout, stable snake_case keys."""
    import json

    click.echo(json.dumps(obj, indent=1, default=str))


def trials_saved_message(n: int) -> str:
    return f"interrupted: {n} trial{'s' if n != 1 else ''} saved; the same command resumes"
