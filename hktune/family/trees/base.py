"""An external include tree a family needs (HipKittens, ThunderKittens): how to find the user's
checkout (its own flag and environment variables), check it serves an arch, which include
directories it gives, and its identity (branch, commit) for provenance and the build cache.

hktune never ships such a tree: users point at their own checkout."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hktune import proc
from hktune.errors import BadInput


class TreeError(BadInput):
    """No usable checkout of a tree for the asked arch (one line, with the fix)."""


@dataclass(frozen=True)
class Tree:
    name: str               # as family.yaml names it under `trees:`
    title: str              # for messages
    option: str             # the CLI flag, e.g. --hk-root
    env_vars: tuple[str, ...]
    marker: str             # a file every checkout has (relative to its root)
    include: tuple[str, ...] = ("include",)
    upstream: str = ""      # where to get a checkout (git URL)
    offline: str = ""       # what works with a checkout but without the GPU (for messages)

    def find(self, explicit: str | Path | None = None) -> Path | None:
        if explicit:
            return Path(explicit).expanduser()
        for var in self.env_vars:
            if os.environ.get(var):
                return Path(os.environ[var]).expanduser()
        return None

    def branch(self, root: Path) -> str | None:
        return None

    def check(self, root: Path, arch: str, want: str | None) -> None:
        """Raise TreeError when ``root`` is not a checkout that serves ``arch`` (``want`` is the
        family's requirement for the arch, e.g. a branch)."""
        if not (root / self.marker).is_file():
            raise TreeError(f"{root} is not a {self.title} checkout (no {self.marker})")

    def include_dirs(self, root: Path) -> list[Path]:
        return [root / d for d in self.include]

    def describe(self, root: Path | None) -> dict[str, str | None]:
        if root is None:
            return {"root": None, "branch": None, "commit": None}
        return {"root": str(root), "branch": self.branch(root), "commit": git_commit(root)}

    def resolve(self, arch: str, want: str | None, explicit: str | Path | None, family: str) -> list[Path]:
        root = self.find(explicit)
        if root is None:
            hint = f" (branch {want} for {arch})" if want else ""
            get = (f"; get one with `git clone{f' -b {want}' if want else ''} {self.upstream}`" if self.upstream else "")
            without = f". {self.offline}" if self.offline else ""
            raise TreeError(f"family {family} needs a {self.title} checkout{hint}: pass {self.option} DIR or set "
                            f"{self.env_vars[0]}{get}{without}; `hktune search --arch host` needs neither a checkout "
                            "nor a GPU")
        self.check(root, arch, want)
        return self.include_dirs(root)


def git_commit(root: Path) -> str | None:
    """The checkout's commit (None for an exported tree without .git)."""
    try:
        out = proc.run(["git", "-C", str(root), "rev-parse", "HEAD"], 10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None
