"""The target: what one run of hktune is about, resolved once at the boundary.

``resolve_target(arch, family, dtype, roots)`` is called where the user's words come in (the
command line, hktune.torch, bench, sweep): it finds the family (family.yaml parsed once), the
arch's spec and space, the dtype object, the compile flags and include trees, and computes the
template hash. Everything below (build, run, search, record, the emulator) takes the Target and
never re-resolves anything from an arch string.

``make_target(family, arch, ...)`` builds one from a family already in hand (tests, replays).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from hktune import dtypes
from hktune.dtypes import DType
from hktune.family.family import ArchSpec, Family, FamilyError, discover, project_root, resolve
from hktune.space.space import Space, load_space

Roots = Mapping[str, "str | Path | None"]


@dataclass(frozen=True)
class Target:
    """One (family, arch, dtype, layout) with everything resolved."""

    family: Family
    arch: str
    spec: ArchSpec
    space: Space = field(compare=False)
    dtype: DType
    layout: str
    flags: tuple[str, ...]
    include_dirs: tuple[Path, ...]
    template_hash: str                 # of the family's sources and space file for the arch, computed once
    checks: tuple[str, ...]            # static asm checks (hktune.build.checks)
    run: str                           # the family's run target: gpu | host
    roots: Mapping[str, str | Path | None] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def compiler(self) -> str:
        return self.family.compiler

    @property
    def amd(self) -> bool:
        """AMD code objects (gfx*): the ISA emulator can run them."""
        return self.arch.startswith("gfx")

    def study_prefix(self) -> str:
        """``<family>-<arch>-<dtype>[-<layout>]-``: every study of this target starts with it."""
        lay = "" if self.layout == "ABt" else f"-{self.layout}"
        return f"{self.family.name}-{self.arch}-{self.dtype.name}{lay}-"

    @property
    def space_ref(self) -> str | None:
        """How a table entry names the space it was searched in (``space:``): None for the family's own space for this
        dtype, else the file's path relative to the project root (absolute outside it). The readers of a table
        (bench --table, sweep, export, hktune.torch) then check and build the entry under that space."""
        own = getattr(self.spec, "space", None)
        if own is None:      # a target made without an arch spec (tests' fakes): its space is the only one there is
            return None
        path = Path(self.space.path).resolve()
        if path == Path(own).resolve():
            return None
        try:
            return path.relative_to(project_root().resolve()).as_posix()
        except ValueError:
            return str(path)

    def study_name(self, m: int, n: int, k: int) -> str:
        """One study per problem and space. The layout is named only when it is not the default A·Btᵀ, and the space
        (``@<file stem>``) only when it is not the family's own, so the studies of earlier versions keep their names.
        A search over an opt-in space then opens a study of its own beside the family space's (whose trials were made
        over other knob values and would refuse it), and warm-starts from it (hktune.search.warm)."""
        tag = f"@{Path(self.space_ref).stem}" if self.space_ref else ""
        return f"{self.study_prefix()}{m}x{n}x{k}{tag}"


def make_target(family: Family, arch: str, space: Space | None = None, dtype: str = dtypes.DEFAULT,
                include_dirs: tuple[Path, ...] | list[Path] | None = None, roots: Roots | None = None,
                layout: str = dtypes.LAYOUT) -> Target:
    """A Target for a family already resolved. ``include_dirs`` default to the family's trees
    found through ``roots`` (TreeError when one is missing)."""
    spec = family.arch(arch)
    if include_dirs is None:
        include_dirs = family.include_dirs(arch, roots)
    return Target(family=family, arch=arch, spec=spec, space=space or family.space(arch), dtype=dtypes.get(dtype),
                  layout=layout, flags=family.flags_for(arch), include_dirs=tuple(Path(d) for d in include_dirs),
                  template_hash=family.template_hash(arch), checks=family.checks, run=family.target,
                  roots=dict(roots or {}))


def resolve_target(arch: str, family: str | None = None, dtype: str = dtypes.DEFAULT, roots: Roots | None = None,
                   space_file: Path | None = None) -> Target:
    """The one resolution of the user's words: FamilyError (one line, exit 2) for an unknown arch,
    family or dtype; TreeError when a tree the family needs is missing."""
    fams = discover()
    known = sorted({a for f in fams.values() for a in f.archs})
    if arch not in known:
        raise FamilyError(f"unknown arch {arch!r} (known: {', '.join(known)})")
    fam = resolve(arch, family, dtype, roots, families=fams)
    space = load_space(space_file, arch) if space_file else None
    if space is not None and space.family is not None and space.family != fam.name:
        raise FamilyError(f"{space_file}: a space of family {space.family}, not of {fam.name} (the family --arch {arch} "
                          f"resolved to; pass --family {space.family} or another space)")
    return make_target(fam, arch, space, dtype, roots=roots)


def space_file(ref: str | None) -> Path | None:
    """The file an entry's ``space:`` names (None: the family's own space); a relative one lies under the project root."""
    if not ref:
        return None
    path = Path(ref)
    return path if path.is_absolute() else project_root() / path
