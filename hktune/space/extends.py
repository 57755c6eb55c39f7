"""A space file that extends another (``extends: <path>``): an opt-in space narrows or widens a family space's
params without copying its derived values, prior, limits and constraints, which are the kernel's and must not drift.

The extending document may give only:
- ``params``: new value lists for some of the base's params (each must be a param of the base; order and -D names are
  the base's);
- ``constraints`` / ``shape_constraints``: appended to the base's;
- ``without``: names of the base's ``policy`` (its named choices, not the kernel's rules) that do not hold here;
- ``seeds``: replace the base's (without them: the base's seeds that are valid here);
- ``legacy``: replaces the base's (without it: the base's entries whose value is still one of the param's values);
- ``family``.
``derived``, ``prior`` (with those of the base's ``model_from`` file, hktune.space.model_file), ``limits``, ``prune``
and the rest of ``policy`` are always the base's. The base may itself extend another file.
The result is a plain space document, validated like any other (hktune.space.schema)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from hktune.space.model_file import with_model_file
from hktune.space.schema import ParamSpec, SpaceError, one_line, read_doc

MAX_DEPTH = 4


class ExtendsDoc(BaseModel):
    """What an extending document may say (anything else is the base's and is refused as a misspelt key)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    extends: str
    family: str | None = None
    params: dict[str, list[StrictInt] | ParamSpec] = {}
    constraints: list[str] = []
    shape_constraints: list[str] = []
    without: list[str] = []
    seeds: list[dict[str, Any]] | None = None
    legacy: dict[str, StrictInt] | None = None


def resolve(path: Path, doc: dict, depth: int = 0) -> tuple[dict, bool]:
    """``doc`` itself when it extends nothing, else the base document (resolved in turn) with doc's changes; and
    whether its seeds are the base's (to be filtered to the configs valid here once the space is built)."""
    if "extends" not in doc:
        return with_model_file(path, doc), False
    if depth >= MAX_DEPTH:
        raise SpaceError(f"{path}: 'extends' nested more than {MAX_DEPTH} deep")
    try:
        child = ExtendsDoc.model_validate(doc)
    except ValidationError as e:
        raise SpaceError(f"{path}: {one_line(e)} (an extending space takes derived, prior, limits and prune from its base)") from None
    base_path = (path.parent / child.extends).resolve()
    base, _ = resolve(base_path, read_doc(base_path), depth + 1)
    return _merge(path, base_path, base, child), child.seeds is None


def _merge(path: Path, base_path: Path, base: dict, child: ExtendsDoc) -> dict:
    out = dict(base)
    params = dict(base.get("params") or {})
    for name, values in child.params.items():
        if name not in params:
            raise SpaceError(f"{path}: param {name}: not a param of {base_path.name}")
        old = params[name]
        if isinstance(values, ParamSpec):
            params[name] = values.model_dump(exclude_none=True)
        elif isinstance(old, dict) and old.get("define"):     # new values, the base's -D name
            params[name] = {"values": list(values), "define": old["define"]}
        else:
            params[name] = list(values)
    out["params"] = params
    policy = dict(base.get("policy") or {})
    for name in child.without:
        if name not in policy:
            names = ", ".join(policy) or "none"
            raise SpaceError(f"{path}: without {name!r}: not a policy of {base_path.name} (its policies: {names})")
        del policy[name]
    out["policy"] = policy
    out["constraints"] = list(base.get("constraints") or []) + child.constraints
    out["shape_constraints"] = list(base.get("shape_constraints") or []) + child.shape_constraints
    if child.family is not None:
        out["family"] = child.family
    allowed = {n: _values(v) for n, v in params.items()}
    if child.legacy is not None:
        out["legacy"] = dict(child.legacy)
    else:
        out["legacy"] = {n: v for n, v in (base.get("legacy") or {}).items() if v in allowed.get(n, ())}
    out["seeds"] = child.seeds if child.seeds is not None else list(base.get("seeds") or [])
    return out


def _values(spec: Any) -> list[int]:
    return list(spec["values"]) if isinstance(spec, dict) else list(spec)
