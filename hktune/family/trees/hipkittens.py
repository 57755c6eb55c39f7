"""HipKittens: --hk-root / HIPKITTENS_ROOT. Its two branches have different APIs (main = CDNA4 /
gfx950, cdna3 = CDNA3 / gfx942), so the wrong branch for an arch is caught here, in one line."""
from __future__ import annotations

from pathlib import Path

from hktune.family.trees.base import Tree, TreeError

# Files only one branch has (read off both branches' include trees).
BRANCH_MARKERS = {"main": "include/common/macros.cuh", "cdna3": "include/ops/group/shared/shared.cuh"}


def branch(root: Path) -> str | None:
    """Which HipKittens branch the tree is, from its files (works for exports too)."""
    hits = [b for b, marker in BRANCH_MARKERS.items() if (root / marker).is_file()]
    return hits[0] if len(hits) == 1 else None


class HipKittens(Tree):
    def branch(self, root: Path) -> str | None:
        return branch(root)

    def check(self, root: Path, arch: str, want: str | None) -> None:
        super().check(root, arch, want)
        got = branch(root)
        if want and got and got != want:
            raise TreeError(f"{root} is HipKittens branch {got}, but {arch} needs branch {want} "
                            f"(git checkout {want}, or point --hk-root at a {want} checkout)")


TREE = HipKittens(name="hipkittens", title="HipKittens", option="--hk-root", env_vars=("HIPKITTENS_ROOT",),
                  marker="include/kittens.cuh", upstream="https://github.com/HazyResearch/HipKittens",
                  offline="With the checkout and no AMD GPU, `hktune compile` and `hktune verify` (the ISA emulator) "
                          "work; `hktune toolchain install` gives the compiler where ROCm is missing")
