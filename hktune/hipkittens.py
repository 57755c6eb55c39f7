"""Finding the user's HipKittens checkout: include dir, branch and commit.

HipKittens is never part of hktune; users point at their own checkout with --hk-root,
HIPKITTENS_ROOT or THUNDERKITTENS_ROOT. Its two branches have different APIs (main = CDNA4 /
gfx950, cdna3 = CDNA3 / gfx942), so the wrong branch for an arch is caught here, in one line.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hktune.family import Family

ENV_VARS = ("HIPKITTENS_ROOT", "THUNDERKITTENS_ROOT")
# Files only one branch has (read off both branches' include trees).
BRANCH_MARKERS = {"main": "include/common/macros.cuh", "cdna3": "include/ops/group/shared/shared.cuh"}


class HipKittensError(ValueError):
    """No usable HipKittens checkout for the asked arch."""


def find_root(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    for var in ENV_VARS:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    return None


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def commit(root: Path) -> str | None:
    """The checkout's commit (None for an exported tree without .git)."""
    return _git(root, "rev-parse", "HEAD")


def branch(root: Path) -> str | None:
    """Which HipKittens branch the tree is, from its files (works for exports too)."""
    hits = [b for b, marker in BRANCH_MARKERS.items() if (root / marker).is_file()]
    return hits[0] if len(hits) == 1 else None


def include_dirs_for(family: Family, arch: str, explicit: str | Path | None = None) -> list[Path]:
    """The include dirs a family needs for an arch ([] for families without HipKittens)."""
    branches = family.extra.get("hk_branch")
    if not branches:
        return []
    want = branches.get(arch)
    root = find_root(explicit)
    if root is None:
        raise HipKittensError(f"family {family.name} needs a HipKittens checkout: pass --hk-root DIR or set HIPKITTENS_ROOT "
                              f"(branch {want} for {arch})")
    if not (root / "include" / "kittens.cuh").is_file():
        raise HipKittensError(f"{root} is not a HipKittens checkout (no include/kittens.cuh)")
    got = branch(root)
    if want and got and got != want:
        raise HipKittensError(f"{root} is HipKittens branch {got}, but {arch} needs branch {want} "
                              f"(git checkout {want}, or point --hk-root at a {want} checkout)")
    return [root / "include"]


def describe(root: Path | None) -> dict[str, str | None]:
    if root is None:
        return {"root": None, "branch": None, "commit": None}
    return {"root": str(root), "branch": branch(root), "commit": commit(root)}
