"""Template families: kernels/<family>/family.yaml says which compiler, sources, flags and space
serve each arch. Adding a family means adding a folder and a space file; nothing else changes."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml
from pydantic import ValidationError

from hktune.errors import BadInput
from hktune.family import trees
from hktune.family.schema import FamilyDoc
from hktune.space.schema import one_line
from hktune.space.space import Space, load_space


class FamilyError(BadInput):
    """A family is missing, malformed, or does not serve the asked arch."""


def project_root() -> Path:
    """The folder holding kernels/ and configs/ (HKTUNE_HOME, else the checkout this package
    lives in, else the current directory)."""
    env = os.environ.get("HKTUNE_HOME")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2]  # hktune/family/family.py -> the checkout
    if (here / "kernels").is_dir():
        return here
    return Path.cwd()


def family_dirs() -> list[Path]:
    """Where families are looked for: <root>/kernels plus HKTUNE_FAMILY_PATH (os.pathsep list)."""
    dirs = [project_root() / "kernels"]
    extra = os.environ.get("HKTUNE_FAMILY_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs


@dataclass(frozen=True)
class ArchSpec:
    source: Path
    space: Path
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    name: str
    folder: Path
    compiler: str
    flags: tuple[str, ...]
    archs: dict[str, ArchSpec]
    description: str = ""
    target: str = "gpu"
    trees: dict[str, dict[str, str]] = field(default_factory=dict, hash=False, compare=False)
    checks: tuple[str, ...] = ()
    default_for: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ("bf16",)
    sanitizer_known: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ("ABt",)
    # kernels of the family's other dtypes: dtype -> arch -> spec (family.yaml archs.<arch>.dtypes)
    by_dtype: dict[str, dict[str, ArchSpec]] = field(default_factory=dict, hash=False, compare=False)

    def for_dtype(self, dtype: str) -> "Family":
        """The family as it serves ``dtype``: its first dtype is the archs' own sources; another
        dtype is served on the archs that list it, by their kernel for it."""
        if dtype not in self.dtypes:
            raise FamilyError(f"family {self.name} does not serve dtype {dtype} (it serves {', '.join(self.dtypes)})")
        if dtype == self.dtypes[0]:
            return self
        return dataclasses.replace(self, archs=dict(self.by_dtype.get(dtype, {})), dtypes=(dtype,), by_dtype={})

    def arch(self, arch: str) -> ArchSpec:
        try:
            return self.archs[arch]
        except KeyError:
            raise FamilyError(f"family {self.name} does not serve arch {arch} (it serves {', '.join(self.archs)})") from None

    def space(self, arch: str) -> Space:
        return load_space(self.arch(arch).space, arch)

    def flags_for(self, arch: str) -> tuple[str, ...]:
        return self.flags + self.arch(arch).flags

    def template_hash(self, arch: str) -> str:
        """Hash of what decides the arch's kernels: its source, the local headers it includes
        (recursively, by `#include "..."`) and its space file. Notes and other archs' sources
        do not count, so editing them invalidates no cache and no sweep's provenance."""
        h = hashlib.sha256()
        spec = self.arch(arch)
        for p in [*_local_includes(spec.source), spec.space]:
            h.update(p.name.encode())
            h.update(p.read_bytes())
        return h.hexdigest()[:16]

    # -- external trees ---------------------------------------------------------------------
    def include_dirs(self, arch: str, roots: Mapping[str, str | Path | None] | None = None) -> list[Path]:
        """Include dirs of the trees this family needs for ``arch`` (TreeError when one is missing)."""
        out: list[Path] = []
        for name, wants in self.trees.items():
            out += trees.get(name).resolve(arch, wants.get(arch), (roots or {}).get(name), self.name)
        return out

    def trees_found(self, roots: Mapping[str, str | Path | None] | None = None) -> bool:
        return all(trees.get(name).find((roots or {}).get(name)) is not None for name in self.trees)


def _local_includes(source: Path) -> list[Path]:
    """``source`` and the files it includes with quotes that exist beside it, recursively."""
    seen: list[Path] = []
    todo = [source]
    while todo:
        p = todo.pop()
        if p in seen or not p.is_file():
            continue
        seen.append(p)
        for m in _INCLUDE.finditer(p.read_text(errors="replace")):
            todo.append((p.parent / m.group(1)).resolve())
    return seen


_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def load_family(folder: Path) -> Family:
    path = folder / "family.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise FamilyError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise FamilyError(f"{path}: a family needs 'compiler' and an 'archs' mapping")
    try:
        d = FamilyDoc.model_validate(doc)
    except ValidationError as e:
        raise FamilyError(f"{path}: {one_line(e)}") from None
    root = project_root()

    def spec_of(source: str, space_path: str, flags: list[str]) -> ArchSpec:
        space = Path(space_path)
        if not space.is_absolute():
            # A space path is relative to the project root, or to the family folder for
            # families that live outside the project (tests, user plug-ins).
            space = root / space if (root / space).exists() else folder / space
        return ArchSpec(folder / source, space, tuple(flags))

    archs = {str(arch): spec_of(spec.source, spec.space, spec.flags) for arch, spec in d.archs.items()}
    by_dtype: dict[str, dict[str, ArchSpec]] = {}
    for arch, spec in d.archs.items():
        for name, ds in spec.dtypes.items():
            by_dtype.setdefault(name, {})[str(arch)] = spec_of(ds.source, ds.space, spec.flags + ds.flags)
    return Family(
        name=d.name or folder.name, folder=folder, compiler=d.compiler, flags=tuple(d.flags), archs=archs,
        description=d.description, target=d.target or ("host" if d.compiler == "gcc" else "gpu"), trees=dict(d.trees), checks=tuple(d.checks),
        default_for=tuple(d.default_for), dtypes=tuple(d.dtypes), sanitizer_known=tuple(d.sanitizer_known), layouts=tuple(d.layouts),
        by_dtype=by_dtype,
    )


def discover() -> dict[str, Family]:
    """Every family on the family path (the first of a name wins). Each family.yaml is parsed once
    per process while it is unchanged (its size and modification time are the cache key)."""
    stamps = []
    for d in family_dirs():
        if not d.is_dir():
            continue
        for sub in sorted(d.iterdir()):
            f = sub / "family.yaml"
            if f.is_file():
                st = f.stat()
                stamps.append((sub, st.st_mtime_ns, st.st_size))
    return dict(_load_all(project_root(), tuple(stamps)))


@functools.lru_cache(maxsize=8)
def _load_all(root: Path, stamps: tuple[tuple[Path, int, int], ...]) -> dict[str, Family]:
    found: dict[str, Family] = {}
    for sub, _, _ in stamps:
        fam = load_family(sub)
        found.setdefault(fam.name, fam)
    return found


def resolve(arch: str, family: str | None = None, dtype: str = "bf16",
            roots: Mapping[str, str | Path | None] | None = None, families: dict[str, Family] | None = None) -> Family:
    """The family to use for an arch: the named one; else the arch's declared default family
    (``default_for``) when its trees are found; else the only project family left that serves
    the arch. Plug-in families (HKTUNE_FAMILY_PATH) must be named. ``families``: those already
    discovered (hktune.target parses every family.yaml once)."""
    fams = discover() if families is None else families
    if family is not None:
        if family not in fams:
            raise FamilyError(f"unknown family {family!r} (known: {', '.join(sorted(fams)) or 'none'})")
        fams[family].arch(arch)
        fam = fams[family].for_dtype(dtype)
        if arch not in fam.archs:
            raise FamilyError(f"family {family} serves dtype {dtype} on {', '.join(fam.archs) or 'no arch'}, not on {arch}")
        return fam
    serving = [f for f in fams.values() if arch in f.archs]
    if not serving:
        known = sorted({a for f in fams.values() for a in f.archs})
        raise FamilyError(f"unknown arch {arch!r} (known: {', '.join(known)})")
    serving = [f.for_dtype(dtype) for f in serving if dtype in f.dtypes]
    serving = [f for f in serving if arch in f.archs]
    if not serving:
        raise FamilyError(f"no family serves dtype {dtype} on {arch}")
    if len(serving) == 1:
        return serving[0]
    own = [f for f in serving if f.folder.parent == project_root() / "kernels"]
    defaults = [f for f in own if arch in f.default_for and f.trees_found(roots)]
    if len(defaults) == 1:
        return defaults[0]
    rest = [f for f in own if arch not in f.default_for]
    if len(rest) == 1:
        return rest[0]
    raise FamilyError(f"several families serve {arch} ({', '.join(f.name for f in serving)}): pass --family")


def known_archs() -> list[str]:
    return sorted({a for f in discover().values() for a in f.archs})
