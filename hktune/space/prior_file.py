"""A prior kept in its own file (``prior_from: <path>``, relative to the space file): a family whose spaces share one
model of the kernel and differ in a few constants (thunderkittens' bf16 and fp8: the k step's depth, the tensor cores'
rate, the TMA latency) writes the model once, beside the kernel, and each space gives its constants.

The prior file's contract:
- ``needs``: the names every space using it must give, as steps of its own ``prior:``;
- ``prior``: the steps, in order, over those names and what any prior may use (params, derived values, limits, M, N,
  K); the last one is SCORE.
The space's own steps come first, then the file's; a name in both is refused, as is any other key. The result is the
space document with one ``prior:``, validated like any other (hktune.space.schema)."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from hktune.space.schema import SpaceError, one_line


class PriorFileDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    needs: list[str] = []
    prior: dict[str, str]


def with_prior_file(path: Path, doc: dict) -> dict:
    """``doc`` itself when it names no prior file, else a copy whose ``prior`` is its own steps then the file's."""
    if "prior_from" not in doc:
        return doc
    ref = doc["prior_from"]
    if not isinstance(ref, str) or not ref:
        raise SpaceError(f"{path}: prior_from: a path to a prior file, relative to this one")
    own = doc.get("prior") or {}
    if not isinstance(own, dict):
        raise SpaceError(f"{path}: prior: a mapping of named steps")
    shared = _read(path, (path.parent / ref).resolve())
    missing = [n for n in shared.needs if n not in own]
    if missing:
        raise SpaceError(f"{path}: prior_from {ref} needs {', '.join(missing)} as step(s) of this file's prior")
    both = [n for n in own if n in shared.prior]
    if both:
        raise SpaceError(f"{path}: prior step {both[0]} is also a step of {ref} (a space gives only the file's needs)")
    out = {k: v for k, v in doc.items() if k != "prior_from"}
    out["prior"] = {**own, **shared.prior}
    return out


def _read(path: Path, file: Path) -> PriorFileDoc:
    try:
        raw = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise SpaceError(f"{path}: prior_from: no such file {file}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise SpaceError(f"{path}: prior_from {file}: cannot read ({str(e).splitlines()[0]})") from None
    try:
        return PriorFileDoc.model_validate(raw)
    except ValidationError as e:
        raise SpaceError(f"{file}: {one_line(e)}") from None
