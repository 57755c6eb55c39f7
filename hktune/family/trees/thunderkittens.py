"""ThunderKittens (HipKittens' NVIDIA sibling): --tk-root / THUNDERKITTENS_ROOT. Its include/ and
prototype/ folders go on the include path."""
from __future__ import annotations

from hktune.family.trees.base import Tree

TREE = Tree(name="thunderkittens", title="ThunderKittens", option="--tk-root", env_vars=("THUNDERKITTENS_ROOT",),
            marker="include/kittens.cuh", include=("include", "prototype"),
            upstream="https://github.com/HazyResearch/ThunderKittens",
            offline="With the checkout and nvcc but no GPU, `hktune compile` works")
