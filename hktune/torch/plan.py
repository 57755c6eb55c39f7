"""Decide, per (arch, dtype, M, N, K), how a GEMM runs: a tuned kernel, a padded one, or torch.
Only the verified entries of the GEMM's dtype count (bf16, or fp8_e4m3 for the scaled op), each
family resolved as it serves that dtype (its kernel and space for it).

The rule (docs/torch.md):
  1. tuned: the header's lookup (:func:`hktune.export.header.pick`) finds an entry legal for the shape
     -- the exact tuned shape, else the legal entry nearest in log space;
  2. padded: else the shape is padded with zeros up to the smallest (by FLOPs) shape that some
     tuned config is legal for, if that adds at most ``pad_limit`` (default 12.5%) FLOPs; the
     lookup then picks the config at the padded shape;
  3. fallback: else the dtype's vendor call (torch.matmul; torch._scaled_mm for fp8_e4m3), with the reason.
Never slower (``Settings.faster_only``, on by default): a tuned or padded plan stands only when its
entry was timed at the shape that runs (a nearest entry's ratio is no evidence for another shape:
reason ``untimed_shape``) and its stored paired ratio is significantly above 1 -- the lower end of
its 95% CI above 1 (above 1 + the extra FLOPs, when padded); otherwise the GEMM goes to torch and the plan says why, e.g.
"vendor (tuned kernel not faster: 0.96x)". ``HKTUNE_TORCH_ANY_ENTRY=1`` (or
``configure(faster_only=False)``) uses any legal entry, e.g. to test a table's kernels.
Plans are cached per shape until the tables or the settings change.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from hktune import dtypes
from hktune.export.header import log2_q, pick
from hktune.family.family import Family, FamilyError, resolve
from hktune.space.space import Space, load_space
from hktune.target import space_file
from hktune.record import figures
from hktune.record.table import Entry
from hktune.torch import tables

# Round-up granularities tried per dimension when padding (plus every value of the config).
_POW2 = tuple(2**j for j in range(14))


@dataclass(frozen=True)
class Settings:
    pad_limit: float = 0.125   # most extra FLOPs padding may add, as a fraction
    min_ratio: float = 0.0     # ignore entries slower than this x the vendor BLAS at their shape
    family: str | None = None  # family to use (default: the arch's own family with entries)
    faster_only: bool = os.environ.get("HKTUNE_TORCH_ANY_ENTRY", "") != "1"  # never slower than the vendor (module doc)


@dataclass(frozen=True)
class Plan:
    """How one GEMM shape runs. ``kind``: tuned | padded | fallback; ``reason``: exact | nearest
    | padded | a fallback reason (dtype, no_table, no_family, config_not_in_space, padding_too_costly, ...)."""

    kind: str
    reason: str
    shape: tuple[int, int, int]
    run_shape: tuple[int, int, int] | None = None
    entry: Entry | None = None
    family: Family | None = field(default=None, compare=False)
    space: Space | None = field(default=None, compare=False)
    detail: str = ""
    dtype: str = dtypes.DEFAULT  # the key's dtype: bf16 (gemm_abt) or fp8_e4m3 (scaled_gemm_abt)

    @property
    def padded(self) -> bool:
        return self.kind == "padded"

    def __repr__(self) -> str:
        cfg = " ".join(f"{k}={v}" for k, v in self.entry.config.items()) if self.entry else None
        return (f"Plan({self.kind}, {self.reason}, {self.dtype}, shape={self.shape}, run_shape={self.run_shape}, "
                f"config={cfg!r}, detail={self.detail!r})")


_lock = threading.Lock()
_settings = Settings()
_plans: dict[tuple, Plan] = {}
_MAX_PLANS = 4096
_epoch = 0   # bumped by configure() and mark_failed(): plans made before may no longer hold
_failed: dict[tuple, str] = {}  # (arch, entry key) -> why its kernel cannot be used (build failed, ...)


_UNSET: object = object()


def configure(*, pad_limit: float | None = None, min_ratio: float | None = None,
              family: str | None | object = _UNSET, faster_only: bool | None = None) -> Settings:
    """Change the padding limit, the minimum vendor ratio, the family or the never-slower rule;
    returns the settings."""
    global _settings
    s = _settings
    if faster_only is not None:
        s = replace(s, faster_only=bool(faster_only))
    if pad_limit is not None:
        if pad_limit < 0:
            raise ValueError("pad_limit must be >= 0")
        s = replace(s, pad_limit=float(pad_limit))
    if min_ratio is not None:
        s = replace(s, min_ratio=float(min_ratio))
    if family is not _UNSET:
        s = replace(s, family=family)  # type: ignore[arg-type]
    global _epoch
    with _lock:
        _settings = s
        _plans.clear()
        _epoch += 1
    return s


def validity() -> tuple[int, int]:
    """Changes whenever any plan may have changed: the tables' generation and the settings' or a
    failed kernel's epoch (a key for decisions cached outside this module, hktune.torch.gemm)."""
    return tables.generation(), _epoch


def settings() -> Settings:
    return _settings


def mark_failed(plan: Plan, why: str) -> None:
    """A plan's kernel cannot be used (it failed to build or launch): never plan it again."""
    assert plan.entry is not None
    global _epoch
    with _lock:
        _failed[(plan.entry.key.arch, plan.entry.key)] = why
        _plans.clear()
        _epoch += 1


def plan_for(m: int, n: int, k: int, arch: str, dtype: str = dtypes.DEFAULT) -> Plan:
    """The (cached) plan for a GEMM C[m,n] = A[m,k] Bt[n,k]^T of ``dtype`` (bf16, or fp8_e4m3 with
    per-tensor scales) on ``arch``; only entries of that dtype are considered."""
    key = (arch, dtype, m, n, k, tables.generation())
    p = _plans.get(key)
    if p is None:
        p = _make_plan(arch, dtype, (m, n, k), _settings)
        with _lock:
            if len(_plans) >= _MAX_PLANS:  # e.g. a new sequence length every call
                _plans.clear()
            _plans[key] = p
    return p


def _family_entries(arch: str, dtype: str, s: Settings) -> list[tuple[Family, list[Entry]]] | str:
    """(family as it serves ``dtype``, its usable entries) for every family with entries of
    ``dtype`` for ``arch`` (only the configured one when hktune.torch.configure(family=...) named one)."""
    entries = [e for e in tables.entries_for(arch, dtype) if (arch, e.key) not in _failed]
    if s.min_ratio > 0:
        entries = [e for e in entries if math.isfinite(e.ratio) and e.ratio >= s.min_ratio]
    if not entries:
        return f"no usable {dtype} table entry for arch {arch} (tables: {', '.join(map(str, tables.table_paths())) or 'none'})"
    names = [s.family] if s.family is not None else sorted({e.key.family for e in entries})
    out = []
    for name in names:
        try:
            fam = resolve(arch, name, dtype)  # the family's kernel and space for this dtype
        except FamilyError as err:
            if s.family is not None:
                return str(err)
            continue
        mine = [e for e in entries if e.key.family == fam.name]
        if mine:
            out.append((fam, mine))
    return out or f"no {dtype} table entry of family {names[0]} for arch {arch}"


_RANK = {"exact": 0, "nearest": 1, "padded": 2}


def _make_plan(arch: str, dtype: str, shape: tuple[int, int, int], s: Settings) -> Plan:
    """The best family's plan for the shape: an exact tuned entry beats a nearest one beats a
    padded one; among equals, the entry with the higher paired ratio to the vendor BLAS."""
    got = _family_entries(arch, dtype, s)
    if isinstance(got, str):
        return Plan("fallback", "no_table", shape, detail=got, dtype=dtype)
    plans = [replace(_family_plan(fam, group, arch, shape, s, ref), dtype=dtype)
             for fam, entries in got for ref, group in _by_space(entries).items()]
    usable = [p for p in plans if p.kind != "fallback"]
    if not usable:
        return plans[0]
    best = min(usable, key=lambda p: (_RANK[p.reason], -(p.entry.ratio if math.isfinite(p.entry.ratio) else 0.0)))
    return _never_slower(best) if s.faster_only else best


def _never_slower(p: Plan) -> Plan:
    """``p`` when its entry is significantly faster than the vendor (the lower end of the stored
    ratio's 95% CI above 1, or above 1 + the extra FLOPs of padding); else torch, saying why."""
    assert p.entry is not None and p.run_shape is not None
    tuned_at = (p.entry.key.m, p.entry.key.n, p.entry.key.k)
    if tuned_at != p.run_shape:
        # A ratio is evidence for the shape it was timed at only (H200, 2026-12-05: a config 1.01x
        # cuBLAS at 4096^3, run as the nearest entry at 4096x14336x4096, made the MLP block 0.993x).
        m, n, k = p.run_shape
        return Plan("fallback", "untimed_shape", p.shape, entry=p.entry, family=p.family, space=p.space, dtype=p.dtype,
                    detail=f"vendor (no paired ratio at {m}x{n}x{k}: the nearest entry was timed at "
                           f"{tuned_at[0]}x{tuned_at[1]}x{tuned_at[2]}; tune this shape: "
                           f"hktune search --m {m} --n {n} --k {k})")
    f = figures.of(p.entry)
    need = _flops(p.run_shape) / _flops(p.shape)
    if f.ratio is not None and f.lo is not None and f.lo > need:
        return p
    if f.ratio is None:
        why = "tuned kernel has no paired ratio to the vendor"
    elif f.lo is None:
        why = f"tuned kernel not shown faster: {f.ratio:.2f}x with no CI"
    elif f.ratio <= need:
        why = f"tuned kernel not faster: {f.ratio:.2f}x" + (f", padding costs {need - 1:.1%} FLOPs" if need > 1 else "")
    else:
        why = (f"tuned kernel not significantly faster: {f.ratio:.2f}x (95% CI {f.lo:.2f}-{f.hi:.2f})"
               + (f", padding costs {need - 1:.1%} FLOPs" if need > 1 else ""))
    return Plan("fallback", "not_faster", p.shape, entry=p.entry, family=p.family, space=p.space,
                detail=f"vendor ({why}; entry tuned at {p.entry.key.m}x{p.entry.key.n}x{p.entry.key.k})", dtype=p.dtype)


def _by_space(entries: list[Entry]) -> dict[str | None, list[Entry]]:
    """A family's entries by the space each was searched in (``space:``; None: the family's own), in table order."""
    out: dict[str | None, list[Entry]] = {}
    for e in entries:
        out.setdefault(e.extra.get("space"), []).append(e)
    return out


def _family_plan(fam: Family, entries: list[Entry], arch: str, shape: tuple[int, int, int], s: Settings,
                 space_ref: str | None = None) -> Plan:
    try:
        space = fam.space(arch) if space_ref is None else load_space(space_file(space_ref), arch)
    except (FamilyError, ValueError) as e:     # SpaceError is a ValueError too
        return Plan("fallback", "no_family", shape, detail=str(e))
    # served as searched: a stored config takes its missing knobs' legacy values and is built under the space it was
    # searched in; one that space does not allow (a hand edit, a space changed since) is not built
    judged = [(e, space.violations(e.config)) for e in (replace(e, config=space.complete(e.config)) for e in entries)]
    entries = [e for e, bad in judged if not bad]
    if not entries:
        e, bad = judged[0]
        return Plan("fallback", "config_not_in_space", shape,
                    detail=f"{fam.name} config tuned at {e.key.m}x{e.key.n}x{e.key.k} is not valid in {space.path.name} "
                           f"({bad[0]}): re-tune it")
    e = pick(entries, space, *shape)
    if e is not None:
        exact = (e.key.m, e.key.n, e.key.k) == shape
        return Plan("tuned", "exact" if exact else "nearest", shape, shape, e, fam, space,
                    f"{fam.name} config tuned at {e.key.m}x{e.key.n}x{e.key.k}")
    best = min_padded_shape(space, entries, shape)
    if best is None:
        return Plan("fallback", "no_legal_config", shape,
                    detail=f"no tuned config is legal for {shape} or any padding of it")
    overhead = _flops(best) / _flops(shape) - 1
    if overhead > s.pad_limit:
        return Plan("fallback", "padding_too_costly", shape,
                    detail=f"padding to {best} adds {overhead:.1%} FLOPs > limit {s.pad_limit:.1%}")
    e = pick(entries, space, *best)
    assert e is not None  # best is legal for at least one entry
    return Plan("padded", "padded", shape, best, e, fam, space,
                f"padded to {best[0]}x{best[1]}x{best[2]} (+{overhead:.1%} FLOPs), config tuned at {e.key.m}x{e.key.n}x{e.key.k}")


def _flops(shape: tuple[int, int, int]) -> float:
    return 2.0 * shape[0] * shape[1] * shape[2]


def _candidates(d: int, quanta: set[int]) -> np.ndarray:
    """d rounded up to each granularity: the only padded sizes worth trying for one dimension."""
    return np.array(sorted({-(-d // q) * q for q in quanta}), dtype=np.int64)


def padded_shape(space: Space, config: dict[str, int], shape: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The smallest (by FLOPs) shape >= ``shape`` that ``config`` is legal for, or None."""
    env = space.env(config)
    quanta = set(_POW2) | {int(v) for v in env.values() if 0 < int(v) <= 1 << 16}
    cm, cn, ck = (_candidates(d, quanta) for d in shape)
    M, N, K = (a.ravel() for a in np.meshgrid(cm, cn, ck, indexing="ij"))
    env.update(M=M, N=N, K=K)
    ok = np.ones(M.size, dtype=bool)
    for c in space.shape_constraints:
        ok &= np.broadcast_to(np.asarray(c(env), dtype=bool), (M.size,))
    if not ok.any():
        return None
    flops = M.astype(np.float64) * N * K
    flops[~ok] = np.inf
    i = int(np.argmin(flops))
    return int(M[i]), int(N[i]), int(K[i])


def min_padded_shape(space: Space, entries: list[Entry], shape: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The cheapest padded shape over all entries (ties: nearest in log space to a tuned shape)."""
    q = tuple(log2_q(x) for x in shape)
    best, rank = None, None
    for e in entries:
        p = padded_shape(space, e.config, shape)
        if p is None:
            continue
        d = sum(abs(log2_q(a) - b) for a, b in zip((e.key.m, e.key.n, e.key.k), q))
        r = (_flops(p), d, -e.tflops)
        if rank is None or r < rank:
            best, rank = p, r
    return best
