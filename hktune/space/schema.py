"""The schema of a space file (configs/*.yaml): unknown or misspelt keys are refused.

Validation is pydantic's (strict types, extra keys forbidden); hktune.space.space turns a
validated document into a Space and checks the expressions' names."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, ValidationError, field_validator

from hktune.errors import BadInput


class SpaceError(BadInput):
    """A space file is malformed; the message names the file and the problem."""


# A step of a prior: an expression, or a bare number (a constant)
PriorStep = Union[str, StrictInt, StrictFloat]


def read_doc(path: Path, what: str = "space file", shape: str = "a mapping with 'params'") -> dict:
    """The YAML mapping of a space file (or of the ``what`` a space file names), errors as one line."""
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpaceError(f"{path}: no such {what}") from None
    except UnicodeDecodeError:
        raise SpaceError(f"{path}: not a {what} (not UTF-8 text)") from None
    except OSError as e:
        raise SpaceError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise SpaceError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise SpaceError(f"{path}: a {what} must be {shape}")
    return doc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ParamSpec(_Strict):
    values: list[StrictInt]
    define: str | None = None


class Prune(_Strict):
    """Resource rules applied after compiling (hktune.build.builder.prune_reason)."""

    max_spills: StrictInt | None = None
    max_registers: StrictInt | None = None
    min_occupancy_met: bool | None = None
    identical_code: bool | None = None  # skip a config whose code object equals one already built
    wgmma_serialized: bool | None = None  # false: prune a config whose wgmmas ptxas serialized (nvcc: C7510-C7515)


class SpaceDoc(_Strict):
    family: str | None = None
    params: dict[str, Union[list[StrictInt], ParamSpec]]
    derived: dict[str, str] = {}
    constraints: list[str] = []
    # The space's choices, named: constraints that say what this space offers, not what the kernel allows (e.g. only
    # the sanitized forms of a knob). They hold like constraints; a space that extends this one drops one by its name
    # (`without:`, hktune.space.extends), so the rule's text lives in one file.
    policy: dict[str, str] = {}
    shape_constraints: list[str] = []
    limits: dict[str, dict[str, StrictInt]] = {}
    seeds: list[dict[str, Any]] = []
    prune: Prune = Prune()
    # An analytical estimate of speed for a shape (hktune.space.prior): named steps, in order,
    # over params, derived values, limits, M/N/K and earlier steps; the last one, SCORE, is the
    # estimate (higher = faster, > 0); a step may be a bare number (a constant). Never sent to the compiler.
    prior: dict[str, PriorStep] = {}
    # Params added after tables were stored: the value that reproduces the code before the param
    # existed. A stored entry's config that lacks such a param takes it when the entry is read
    # (Space.complete); a config lacking any other param is still refused.
    legacy: dict[str, StrictInt] = {}

    @field_validator("prior")
    @classmethod
    def _score_last(cls, v: dict) -> dict:
        if v and list(v)[-1] != "SCORE":
            raise ValueError("the last step of 'prior' must be named SCORE")
        return v

    @field_validator("params")
    @classmethod
    def _non_empty(cls, v: dict) -> dict:
        if not v:
            raise ValueError("a space needs a non-empty 'params' mapping")
        for name, spec in v.items():
            values = spec if isinstance(spec, list) else spec.values
            if not values:
                raise ValueError(f"param {name} needs a non-empty list of values")
        return v


def one_line(e: ValidationError) -> str:
    """The first problem pydantic found, as `where: what` on one line."""
    err = e.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ()) if not str(x).startswith(("list[", "ParamSpec", "function-")))
    if err.get("type") == "missing":
        return f"missing key {where!r}"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if str(err.get("type", "")).startswith("int"):
        msg = f"{err.get('input')!r} is not an integer"
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (misspelt?)"
    return f"{where or 'document'}: {msg}" + (f" ({len(e.errors()) - 1} more)" if len(e.errors()) > 1 else "")
