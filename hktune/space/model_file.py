"""The kernel's model kept beside the kernel (``model_from: <path>``, relative to the space file): a family whose spaces
share one kernel and differ in a few constants (thunderkittens' bf16 and fp8: the k step's depth, the tensor cores'
rate, the TMA latency; hipkittens' gfx950 bf16 and fp8: the element's bytes, the MFMA rate) writes its derived values,
its rules and its prior once, and each space gives its constants.

The model file's contract:
- ``needs``: the names every space using it must give, as its own derived values or steps of its own ``prior:``;
- ``derived``: derived values (integers, each reaches the compiler as -DNAME=value), after the space's own;
- ``constraints`` / ``shape_constraints``: the kernel's rules whatever the space, before the space's own;
- ``prior``: the prior's steps over those names and what any prior may use (params, derived values, limits, M, N, K),
  after the space's own; the last one is SCORE.
A name in both the space and the file is refused, as is any other key. The result is the space document with one
``derived:``, one ``constraints:``, one ``shape_constraints:`` and one ``prior:``, validated like any other
(hktune.space.schema)."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from hktune.space.schema import PriorStep, SpaceError, one_line, read_doc


class ModelFileDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    needs: list[str] = []
    derived: dict[str, str] = {}
    constraints: list[str] = []
    shape_constraints: list[str] = []
    prior: dict[str, PriorStep] = {}


def with_model_file(path: Path, doc: dict) -> dict:
    """``doc`` itself when it names no model file, else a copy whose ``derived`` and ``prior`` are its own then the
    file's, and whose ``constraints`` and ``shape_constraints`` are the file's then its own."""
    if "model_from" not in doc:
        return doc
    ref = doc["model_from"]
    if not isinstance(ref, str) or not ref:
        raise SpaceError(f"{path}: model_from: a path to the kernel's model file, relative to this one")
    model = _read((path.parent / ref).resolve())
    out = {k: v for k, v in doc.items() if k != "model_from"}
    for section in ("derived", "prior"):
        own = doc.get(section) or {}
        if not isinstance(own, dict):
            raise SpaceError(f"{path}: {section}: a mapping of named values")
        theirs = getattr(model, section)
        both = [n for n in own if n in theirs]
        if both:
            raise SpaceError(f"{path}: {section} {both[0]} is also in {ref} (a space gives only what the file needs)")
        out[section] = {**own, **theirs}
    for section in ("constraints", "shape_constraints"):
        own_rules = doc.get(section) or []
        if not isinstance(own_rules, list):
            raise SpaceError(f"{path}: {section}: a list of expressions")
        out[section] = [*getattr(model, section), *own_rules]
    given = {**(doc.get("derived") or {}), **(doc.get("prior") or {})}
    missing = [n for n in model.needs if n not in given]
    if missing:
        raise SpaceError(f"{path}: model_from {ref} needs {', '.join(missing)} as derived value(s) or step(s) of this "
                         "file's prior")
    return out


def _read(file: Path) -> ModelFileDoc:
    try:
        return ModelFileDoc.model_validate(read_doc(file, "model file", "a mapping of needs, derived, constraints, prior"))
    except ValidationError as e:
        raise SpaceError(f"{file}: {one_line(e)}") from None
