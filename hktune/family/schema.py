"""The schema of kernels/<family>/family.yaml: unknown or misspelt keys are refused."""
from __future__ import annotations

from typing import Union

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from hktune.dtypes import DTYPES
from hktune.family.trees import TREES
from hktune.registry import CHECKS, TARGETS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DtypeArchDoc(_Strict):
    """An arch's kernel for one more dtype of the family: its own template and space (flags are
    added to the arch's)."""
    source: str
    space: str
    flags: list[str] = []


class ArchDoc(_Strict):
    source: str                     # serves the family's first dtype
    space: str
    flags: list[str] = []
    dtypes: dict[str, DtypeArchDoc] = {}   # the family's other dtypes this arch serves


class FamilyDoc(_Strict):
    name: str | None = None
    compiler: str
    description: str = ""
    flags: list[str] = []
    archs: dict[str, ArchDoc]
    # How its code runs: in-process on a GPU, or on the host CPU (the ISA emulator is chosen per run).
    target: str | None = None  # default: host for the gcc compiler, else gpu
    # External include trees, each with an optional per-arch requirement (e.g. a branch).
    trees: Union[list[str], dict[str, dict[str, str]]] = {}
    checks: list[str] = []          # static asm checks (hktune.build.checks)
    default_for: list[str] = []     # archs this family is the default for, when its trees are found
    # compute-sanitizer findings inherent to the template (each a substring of the tool's message),
    # with the reason in a comment; they are recorded in provenance but do not reject the winner.
    sanitizer_known: list[str] = []
    dtypes: list[str] = ["bf16"]
    layouts: list[str] = ["ABt"]

    @field_validator("target")
    @classmethod
    def _target(cls, v: str | None) -> str | None:
        return v if v is None else _known([v], TARGETS, "target")[0]

    @field_validator("checks")
    @classmethod
    def _checks(cls, v: list[str]) -> list[str]:
        return _known(v, CHECKS, "check")

    @field_validator("trees")
    @classmethod
    def _trees(cls, v: Union[list[str], dict]) -> dict[str, dict[str, str]]:
        v = {name: {} for name in v} if isinstance(v, list) else v
        _known(list(v), TREES, "tree")
        return v

    @field_validator("dtypes")
    @classmethod
    def _dtypes(cls, v: list[str]) -> list[str]:
        return _known(v, DTYPES, "dtype")

    @model_validator(mode="after")
    def _arch_dtypes(self) -> "FamilyDoc":
        for arch, spec in self.archs.items():
            for name in spec.dtypes:
                if name not in self.dtypes[1:]:
                    raise ValueError(f"archs.{arch}.dtypes.{name}: not one of the family's other dtypes "
                                     f"({', '.join(self.dtypes[1:]) or 'none'}; the first is served by 'source')")
        return self


def _known(names: list[str], registry: dict, what: str) -> list[str]:
    """``names`` when each is in ``registry``; else the first unknown one, in one line."""
    bad = [n for n in names if n not in registry]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r} (known: {', '.join(registry)})")
    return names
