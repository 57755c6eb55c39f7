"""Search spaces: load a space YAML and enumerate its valid configurations.

Enumeration is vectorised: the cartesian product of all parameter values becomes one numpy
column per parameter, every derived value and constraint is evaluated over the columns, and
only the rows that pass survive; the product goes in slices of at most CHUNK_ROWS rows, so memory
stays bounded. 100k raw combinations take milliseconds.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from pydantic import ValidationError

from hktune.space.expr import Expr, ExprError
from hktune.space.extends import resolve
from hktune.space.schema import ParamSpec, SpaceDoc, SpaceError, one_line, read_doc

Config = dict[str, int]
SHAPE_NAMES = ("M", "N", "K")
CHUNK_ROWS = 1 << 20        # rows of the cartesian product evaluated at once (Space.columns)


@dataclass
class Param:
    name: str
    values: list[int]
    define: str


@dataclass
class Space:
    """A family's search space for one arch."""

    path: Path
    family: str | None      # as the file declares it (None: it does not say)
    arch: str
    params: list[Param]
    derived: dict[str, Expr]
    constraints: list[Expr]
    shape_constraints: list[Expr]
    limits: dict[str, int]
    seeds: list[dict[str, Any]] = field(default_factory=list)
    prune: dict[str, Any] = field(default_factory=dict)
    prior: dict[str, Expr] = field(default_factory=dict)
    legacy: dict[str, int] = field(default_factory=dict)
    # the space's named choices (hktune.space.schema): checked like constraints, reported by name
    policy: dict[str, Expr] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def raw_size(self) -> int:
        return int(np.prod([len(p.values) for p in self.params], dtype=np.int64))

    # -- one configuration -------------------------------------------------------------
    def complete(self, config: Mapping[str, int]) -> Config:
        """A stored config as this space knows it: each param it lacks that the space declares a
        ``legacy:`` value for takes that value (the code before the param existed); nothing else
        changes, so a config lacking any other param still fails ``violations``."""
        out = dict(config)
        for name, value in self.legacy.items():
            out.setdefault(name, value)
        order = {n: i for i, n in enumerate(self.names)}
        return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))

    def env(self, config: Mapping[str, int]) -> dict[str, int]:
        """Params + limits + derived values of one config."""
        env: dict[str, int] = dict(self.limits)
        env.update({k: int(config[k]) for k in self.names})
        for name, ex in self.derived.items():
            env[name] = int(ex(env))
        return env

    def defines(self, config: Mapping[str, int]) -> dict[str, int]:
        """What reaches the compiler: every param (under its define name) and derived value."""
        env = self.env(config)
        out = {p.define: env[p.name] for p in self.params}
        out.update({name: env[name] for name in self.derived})
        return out

    def violations(self, config: Mapping[str, int]) -> list[str]:
        """The constraints one config breaks (empty when it is valid)."""
        missing = [n for n in self.names if n not in config]
        if missing:
            return [f"missing parameter(s) {', '.join(missing)}"]
        unknown = [k for k in config if k not in self.names]
        if unknown:
            return [f"unknown parameter(s) {', '.join(unknown)}"]
        bad = [f"{p.name}={config[p.name]} not in {p.values}" for p in self.params if int(config[p.name]) not in p.values]
        if bad:
            return bad
        try:
            env = self.env(config)
        except ExprError as e:
            return [str(e)]
        out = []
        for label, c in [("", c) for c in self.constraints] + [(f"policy {n}: ", c) for n, c in self.policy.items()]:
            value, bad = c.evaluate(env)
            if bad or not bool(value):
                out.append(label + c.text + (" (division by zero)" if bad else ""))
        return out

    def shape_violations(self, config: Mapping[str, int], m: int, n: int, k: int) -> list[str]:
        env = self.env(config)
        env.update(M=m, N=n, K=k)
        out = []
        for c in self.shape_constraints:
            value, bad = c.evaluate(env)
            if bad or not bool(value):
                out.append(c.text + (" (division by zero)" if bad else ""))
        return out

    # -- the whole space -----------------------------------------------------------------
    def columns(self, shape: tuple[int, int, int] | None = None, chunk: int = CHUNK_ROWS) -> dict[str, np.ndarray]:
        """Valid configurations as columns (one int64 array per param), in the cartesian product's order.
        The product is evaluated in slices of at most ``chunk`` rows (the leading params fixed per slice), so
        memory stays bounded however many params multiply: bench/tk-sched-fp8.yaml's 67M raw rows took 14.5 GB
        in one piece."""
        sizes = [len(p.values) for p in self.params]
        split, rows = len(sizes), 1
        while split > 0 and rows * sizes[split - 1] <= max(1, chunk):
            split -= 1
            rows *= sizes[split]
        outer, inner = self.params[:split], self.params[split:]
        parts: dict[str, list[np.ndarray]] = {p.name: [] for p in self.params}
        for fixed in itertools.product(*(p.values for p in outer)):
            got = self._slice(dict(zip((p.name for p in outer), fixed)), inner, shape)
            for name, col in got.items():
                parts[name].append(col)
        return {name: np.concatenate(cols) if cols else np.empty(0, dtype=np.int64) for name, cols in parts.items()}

    def _slice(self, fixed: dict[str, int], inner: list[Param], shape: tuple[int, int, int] | None) -> dict[str, np.ndarray]:
        """The valid rows of the product of ``inner`` with the leading params held at ``fixed``."""
        grids = np.meshgrid(*[np.asarray(p.values, dtype=np.int64) for p in inner], indexing="ij")
        env: dict[str, Any] = {p.name: g.ravel() for p, g in zip(inner, grids)}
        n = int(np.prod([len(p.values) for p in inner], dtype=np.int64))
        env.update({name: np.full(n, value, dtype=np.int64) for name, value in fixed.items()})
        env.update(self.limits)
        mask = np.ones(n, dtype=bool)
        for name, ex in self.derived.items():
            value, bad = ex.evaluate(env)
            env[name] = np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))
            mask &= ~np.broadcast_to(np.asarray(bad, dtype=bool), (n,))
        checks = [*self.constraints, *self.policy.values()]
        if shape is not None:
            env.update(dict(zip(SHAPE_NAMES, shape)))
            checks += self.shape_constraints
        for c in checks:
            value, bad = c.evaluate(env)
            mask &= np.broadcast_to(np.asarray(value, dtype=bool), (n,)) & ~np.broadcast_to(np.asarray(bad, dtype=bool), (n,))
        return {p.name: env[p.name][mask] for p in self.params}

    def enumerate(self, shape: tuple[int, int, int] | None = None) -> list[Config]:
        cols = self.columns(shape)
        names = self.names
        return [dict(zip(names, map(int, row))) for row in zip(*(cols[n] for n in names))]

    def __iter__(self) -> Iterator[Config]:
        return iter(self.enumerate())


def _as_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpaceError(f"{where}: {value!r} is not an integer")
    return value


def load_space(path: Path | str, arch: str) -> Space:
    """Load a space file and check it fully (unknown names, bad expressions, missing limits)."""
    path = Path(path)
    doc = read_doc(path)
    # extends: the base's derived values, prior, limits, constraints and policy with this file's params and changes
    doc, inherited_seeds = resolve(path, doc)
    try:
        parsed = SpaceDoc.model_validate(doc)
    except ValidationError as e:
        raise SpaceError(f"{path}: {one_line(e)}") from None
    doc["prune"] = parsed.prune.model_dump(exclude_none=True)
    try:
        params = []
        for name, spec in parsed.params.items():
            if isinstance(spec, ParamSpec):
                params.append(Param(name, list(spec.values), spec.define or name))
            else:
                params.append(Param(name, list(spec), name))
        limits_all = doc.get("limits") or {}
        if limits_all and arch not in limits_all:
            raise SpaceError(f"{path}: no limits for arch {arch} (has {', '.join(limits_all)})")
        limits = {k: _as_int(v, f"{path}: limit {k}") for k, v in (limits_all.get(arch) or {}).items()}
        derived = {k: Expr(v) for k, v in (doc.get("derived") or {}).items()}
        constraints = [Expr(c) for c in doc.get("constraints") or []]
        policy = {k: Expr(v) for k, v in parsed.policy.items()}
        shape_constraints = [Expr(c) for c in doc.get("shape_constraints") or []]
        prior = {k: Expr(str(v), real=True) for k, v in parsed.prior.items()}
    except ExprError as e:
        raise SpaceError(f"{path}: {e}") from None
    _check_names(path, params, limits, derived, [*constraints, *policy.values()], shape_constraints, prior)
    space = Space(
        path=path,
        family=str(doc["family"]) if doc.get("family") is not None else None,
        arch=arch,
        params=params,
        derived=derived,
        constraints=constraints,
        shape_constraints=shape_constraints,
        limits=limits,
        seeds=list(doc.get("seeds") or []),
        prune=dict(doc.get("prune") or {}),
        prior=prior,
        legacy=_legacy(path, params, parsed.legacy),
        policy=policy,
    )
    space.seeds = [space.complete(seed) for seed in space.seeds]   # a seed, too, may predate a param
    if inherited_seeds:     # an extending space keeps the base's seeds that are valid in it
        space.seeds = [sd for sd in space.seeds if not space.violations({k: v for k, v in sd.items() if k in space.names})]
    for seed in space.seeds:
        cfg = {k: v for k, v in seed.items() if k in space.names}
        bad = space.violations(cfg)
        if bad:
            raise SpaceError(f"{path}: seed {cfg} is not a valid config: {bad[0]}")
    return space


def _legacy(path: Path, params: list[Param], legacy: dict[str, int]) -> dict[str, int]:
    """``legacy:`` names params only, each with one of its values."""
    values = {p.name: p.values for p in params}
    for name, value in legacy.items():
        if name not in values:
            raise SpaceError(f"{path}: legacy {name}: not a param of this space")
        if value not in values[name]:
            raise SpaceError(f"{path}: legacy {name}={value}: not one of its values {values[name]}")
    return dict(legacy)


def _check_names(path: Path, params: list[Param], limits: dict[str, int], derived: dict[str, Expr],
                 constraints: list[Expr], shape_constraints: list[Expr], prior: dict[str, Expr]) -> None:
    """Every expression names only params, limits, earlier derived values (and M, N, K where allowed)."""
    known = {p.name for p in params} | set(limits)
    for name, ex in derived.items():
        unknown = ex.names - known
        if unknown:
            raise SpaceError(f"{path}: derived {name} uses unknown name(s) {', '.join(sorted(unknown))}")
        known.add(name)
    for ex in constraints:
        if ex.names - known:
            raise SpaceError(f"{path}: constraint {ex.text!r} uses unknown name(s) {', '.join(sorted(ex.names - known))}")
    for ex in shape_constraints:
        if ex.names - known - set(SHAPE_NAMES):
            raise SpaceError(f"{path}: shape constraint {ex.text!r} uses unknown name(s) {', '.join(sorted(ex.names - known - set(SHAPE_NAMES)))}")
    known_prior = known | set(SHAPE_NAMES)
    for name, ex in prior.items():
        if ex.names - known_prior:
            raise SpaceError(f"{path}: prior step {name} uses unknown name(s) {', '.join(sorted(ex.names - known_prior))}")
        known_prior.add(name)


def iter_product(space: Space) -> Iterator[Config]:
    """All raw combinations, valid or not (for tests and diagnostics)."""
    for combo in itertools.product(*[p.values for p in space.params]):
        yield dict(zip(space.names, combo))
