"""Helpers every command shares: option checks, the family/space/builder set-up, config parsing."""
from __future__ import annotations

import os
from pathlib import Path

import click

from hktune.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_MISSING, BadInput, HktuneError  # noqa: F401


class Fail(HktuneError):
    """One line on stderr and a chosen exit code (bad input unless told otherwise)."""

    exit_code = EXIT_BAD_INPUT


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise Fail(f"--{param.name} must be a positive integer, got {value}")
    return value


def _default_table(arch: str) -> Path:
    from hktune.family.family import project_root

    return project_root() / "results" / f"{arch}.yaml"


def _check_writable(path: Path) -> None:
    """Fail before any work if results cannot be saved (nothing is lost later)."""
    d = path.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Fail(f"cannot create results directory {d}: {e.strerror}") from None
    if not os.access(d, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise Fail(f"results directory {d} is not writable")


def roots(hk_root: str | None = None, tk_root: str | None = None) -> dict[str, str | None]:
    """The user's external trees by name (None: found through their environment variables)."""
    return {"hipkittens": hk_root, "thunderkittens": tk_root}


def _setup(arch: str, family: str | None, tree_roots: dict[str, str | None], jobs: int | None,  # noqa: ANN202
           space_file: Path | None = None, dtype: str = "bf16"):
    """Family, space, builder for an arch (with HipKittens include dirs where the family needs them)."""
    from hktune.build.builder import Builder
    from hktune.family.family import known_archs, resolve
    from hktune.space.space import load_space

    if arch not in known_archs():
        raise Fail(f"unknown arch {arch!r} (known: {', '.join(known_archs())})")
    fam = resolve(arch, family, dtype, tree_roots)
    space = load_space(space_file, arch) if space_file else fam.space(arch)
    builder = Builder(fam, arch, space=space, jobs=jobs, include_dirs=fam.include_dirs(arch, tree_roots))
    return fam, space, builder


def _parse_config(text: str, space) -> dict[str, int]:  # noqa: ANN001
    cfg: dict[str, int] = {}
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise Fail(f"--config: expected NAME=VALUE, got {part!r}")
        try:
            cfg[k.strip()] = int(v)
        except ValueError:
            raise Fail(f"--config: {k}={v!r} is not an integer") from None
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
