"""tree_identity: what names an include tree in build keys and table provenance."""
from __future__ import annotations

import subprocess
from pathlib import Path

from hktune.build.builder import tree_identity


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_a_checkout_is_named_by_its_commit_and_an_ignored_copy_by_its_files(tmp_path: Path):
    """A tree that is its own checkout: its commit. A copy the enclosing repository ignores (e.g.
    `.tk/` beside a project's sources): a hash of its files, so an edit changes the key."""
    repo = tmp_path / "project"
    (repo / "tk" / "include").mkdir(parents=True)
    (repo / "tk" / "include" / "k.cuh").write_text("// v1\n")
    (repo / ".gitignore").write_text("tk/\n")
    git(repo, "init", "-q")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "init")
    first = tree_identity(repo / "tk")
    assert first.startswith("files:")
    (repo / "tk" / "include" / "k.cuh").write_text("// v2\n")
    assert tree_identity(repo / "tk") != first
    own = tmp_path / "tree"
    (own / "include").mkdir(parents=True)
    (own / "include" / "k.cuh").write_text("// v1\n")
    git(own, "init", "-q")
    git(own, "add", ".")
    git(own, "commit", "-q", "-m", "tree")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=own, capture_output=True, text=True).stdout.strip()
    assert tree_identity(own) == head
    assert tree_identity(own / "include") == head              # its include/ folder: the same checkout
