"""Template families: kernels/<family>/family.yaml says which compiler, sources, flags and space
serve each arch. Adding a family means adding a folder and a space file; nothing else changes."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hktune.space import Space, load_space


class FamilyError(ValueError):
    """A family is missing, malformed, or does not serve the asked arch."""


def project_root() -> Path:
    """The folder holding kernels/ and configs/ (HKTUNE_HOME, else the checkout this package
    lives in, else the current directory)."""
    env = os.environ.get("HKTUNE_HOME")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
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
    extra: dict = field(default_factory=dict, hash=False, compare=False)

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
        """Hash of everything in the family folder plus the space file: it changes whenever
        the template, a header beside it, or the space changes."""
        h = hashlib.sha256()
        files = sorted(p for p in self.folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        files.append(self.arch(arch).space)
        for p in files:
            h.update(p.name.encode())
            h.update(p.read_bytes())
        return h.hexdigest()[:16]


def load_family(folder: Path) -> Family:
    path = folder / "family.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise FamilyError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or "compiler" not in doc or not isinstance(doc.get("archs"), dict):
        raise FamilyError(f"{path}: a family needs 'compiler' and an 'archs' mapping")
    root = project_root()
    archs = {}
    for arch, spec in doc["archs"].items():
        if not isinstance(spec, dict) or "source" not in spec or "space" not in spec:
            raise FamilyError(f"{path}: arch {arch} needs 'source' and 'space'")
        space = Path(spec["space"])
        if not space.is_absolute():
            # A space path is relative to the project root, or to the family folder for
            # families that live outside the project (tests, user plug-ins).
            space = root / space if (root / space).exists() else folder / space
        archs[str(arch)] = ArchSpec(folder / spec["source"], space, tuple(spec.get("flags") or ()))
    known = {"name", "compiler", "flags", "archs", "description"}
    return Family(
        name=str(doc.get("name", folder.name)),
        folder=folder,
        compiler=str(doc["compiler"]),
        flags=tuple(doc.get("flags") or ()),
        archs=archs,
        description=str(doc.get("description", "")),
        extra={k: v for k, v in doc.items() if k not in known},
    )


def discover() -> dict[str, Family]:
    found: dict[str, Family] = {}
    for d in family_dirs():
        if not d.is_dir():
            continue
        for sub in sorted(d.iterdir()):
            if (sub / "family.yaml").is_file():
                fam = load_family(sub)
                found.setdefault(fam.name, fam)
    return found


def resolve(arch: str, family: str | None = None) -> Family:
    """The family to use for an arch: the named one, else the only one that serves the arch."""
    fams = discover()
    if family is not None:
        if family not in fams:
            raise FamilyError(f"unknown family {family!r} (known: {', '.join(sorted(fams)) or 'none'})")
        fams[family].arch(arch)
        return fams[family]
    serving = [f for f in fams.values() if arch in f.archs]
    if not serving:
        known = sorted({a for f in fams.values() for a in f.archs})
        raise FamilyError(f"unknown arch {arch!r} (known: {', '.join(known)})")
    if len(serving) > 1:
        # Families from the project's kernels/ are the defaults; plug-ins must be named.
        own = [f for f in serving if f.folder.parent == project_root() / "kernels"]
        if len(own) == 1:
            return own[0]
        raise FamilyError(f"several families serve {arch} ({', '.join(f.name for f in serving)}): pass --family")
    return serving[0]


def known_archs() -> list[str]:
    return sorted({a for f in discover().values() for a in f.archs})
