"""External trees families can need; a new one is a module here plus one line in TREES."""
from __future__ import annotations

import importlib

from hktune.family.trees.base import Tree, TreeError

TREES = {
    "hipkittens": "hktune.family.trees.hipkittens",
    "thunderkittens": "hktune.family.trees.thunderkittens",
}


def get(name: str) -> Tree:
    if name not in TREES:
        raise TreeError(f"unknown tree {name!r} (known: {', '.join(TREES)})")
    return importlib.import_module(TREES[name]).TREE


__all__ = ["TREES", "Tree", "TreeError", "get"]
