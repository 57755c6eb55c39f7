"""Compile configs and emulate each distinct kernel body once.

Configs go through the family's Builder (and its build cache; the build already runs the
family's static checks, e.g. vmcnt). Configs whose code objects have the same body (same .text
and kernel descriptors, see codeobject.CodeObject.body_hash) and the same launch share one
emulated run. A config a static check rejects (vmcnt, m0: "rejected by ...") is not emulated
and is no failure - the search never runs it either - its row's status is "rejected". A compile
error is a failure. A config pruned for resources (spills, occupancy) is still emulated - pruning
is about speed, not correctness.
"""
from __future__ import annotations

import random
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from hktune.build.amd import codeobject
from hktune.build.amd.resources import code_objects
from hktune.emulator.run import DEFAULT_TIMEOUT_S, emulate, launch_for

MAX_K_TILES = 64


@dataclass
class Row:
    config: dict
    shape: tuple[int, int, int]
    body: str | None = None  # body hash (None: nothing to emulate)
    result: dict = field(default_factory=dict)  # the emulated run's result (shared by a body's configs)
    build_reason: str | None = None  # prune reason of a build that is still emulated
    shared: int = 1  # configs sharing the body's run
    rejected: str | None = None  # "rejected by <check>: ..." when a static check rejected the build

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok"))

    @property
    def status(self) -> str:
        """'passed', 'failed' (wrong output, crash, timeout, compile error) or 'rejected' (a static
        check rejected the build: never emulated, and not a failure)."""
        if self.rejected:
            return "rejected"
        return "passed" if self.ok else "failed"

    def as_dict(self) -> dict:
        return {"config": self.config, "shape": list(self.shape), "body": self.body, "ok": self.ok,
                "status": self.status, "rejected": self.rejected,
                "shared": self.shared, "build_note": self.build_reason, **{k: v for k, v in self.result.items() if k != "ok"}}


def default_shape(space, config: Mapping[str, int]) -> tuple[int, int, int]:  # noqa: ANN001
    """The smallest shape that runs every code path of one config cheaply: 2 x 2 blocks (the
    WGM grouping's partial group; the XCD remap is the identity below 8*CHUNK blocks), and
    2*(PREFETCH+1)+1 K tiles or the next legal count (prologue, one main-loop trip, a remainder
    tile, the drain). The emulator's cost grows linearly with blocks x K tiles."""
    m, n = 2 * int(config["BLOCK_M"]), 2 * int(config["BLOCK_N"])
    step = int(config["K_STEP"])
    tiles = 2 * (int(config.get("PREFETCH", 1)) + 1) + 1
    while tiles <= MAX_K_TILES:
        if not space.shape_violations(config, m, n, step * tiles):
            return m, n, step * tiles
        tiles += 1
    raise ValueError(f"no legal K up to {MAX_K_TILES} tiles of {step} for {m}x{n}")


def select(space, *, config: Mapping[str, int] | None = None, seeds: bool = False, sample: int | None = None,  # noqa: ANN001
           all_: bool = False, shape: tuple[int, int, int] | None = None, rng_seed: int = 0) -> list[dict]:
    """The configs to verify: one, the space's seeds, a random sample of the valid ones, or all
    (legal for `shape` when given)."""
    if config is not None:
        return [dict(config)]
    if seeds:
        out, seen = [], set()
        for s in space.seeds:
            c = {k: int(s[k]) for k in space.names}
            if tuple(c.values()) not in seen:
                seen.add(tuple(c.values()))
                out.append(c)
        return out
    valid = space.enumerate(shape)
    if all_:
        return valid
    return random.Random(rng_seed).sample(valid, min(int(sample or 0), len(valid)))


def device_code_object(artifact: Path, scratch: Path) -> Path:
    """The AMDGPU code object of a build: the artifact itself (device-only toolchain) or the
    first amdgcn entry of a ROCm library's offload bundle, written under scratch."""
    data = artifact.read_bytes()
    if data[:4] == b"\x7fELF" and data[0x12:0x14] == b"\xe0\x00":
        return artifact
    for elf in code_objects(data):
        out = scratch / (artifact.parent.name + ".hsaco")
        out.write_bytes(elf)
        return out
    raise codeobject.CodeObjectError(f"{artifact}: no AMDGPU code object in it")


def verify(builder, configs: Iterable[Mapping[str, int]], *, shape: tuple[int, int, int] | None = None,  # noqa: ANN001
           jobs: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S, seed: int = 0, dtype: str = "bf16",
           progress: Callable[[str, Row], None] | None = None) -> list[Row]:
    """Build every config, emulate each distinct (body, shape, launch) once; one Row per config
    (inputs, reference and bounds of ``dtype``, the builder's target's dtype)."""
    say = progress or (lambda what, row: None)
    configs = [dict(c) for c in configs]
    rows: list[Row] = []
    groups: dict[tuple, list[Row]] = {}
    code_of: dict[tuple, Path] = {}
    with tempfile.TemporaryDirectory(prefix="hktune-verify-") as tmp:
        for o in builder.build_many(configs):
            cfg = {k: o.config[k] for k in builder.space.names}
            row = Row(cfg, shape or default_shape(builder.space, cfg))
            rows.append(row)
            checks_failed = bool(o.ok and o.reason and o.reason.startswith("rejected by"))
            if not o.ok or checks_failed or o.artifact is None:
                row.result = {"ok": False, "reason": o.reason or "build produced no artifact", "error": None,
                              "seconds": None}
                if checks_failed:
                    row.rejected = o.reason
                say("built", row)
                continue
            row.build_reason = o.reason
            try:
                co_path = device_code_object(o.artifact, Path(tmp))
                body = codeobject.load(co_path).body_hash
            except (OSError, ValueError) as e:
                row.result = {"ok": False, "reason": f"unreadable code object: {e}", "error": None, "seconds": None}
                continue
            row.body = body
            launch = launch_for(cfg, builder.space, row.shape[0], row.shape[1])
            key = (body, row.shape, launch)
            groups.setdefault(key, []).append(row)
            code_of.setdefault(key, co_path)
            say("built", row)

        def one(key: tuple) -> tuple[tuple, dict]:
            lead = groups[key][0]
            return key, emulate(code_of[key], lead.config, builder.space, *lead.shape, timeout_s=timeout_s, seed=seed,
                                dtype=dtype)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(one, key) for key in groups]
            for f in as_completed(futures):
                key, res = f.result()
                for r in groups[key]:
                    r.result, r.shared = dict(res), len(groups[key])
                say("emulated", groups[key][0])
    index = {tuple(c[k] for k in builder.space.names): i for i, c in enumerate(configs)}
    rows.sort(key=lambda r: index.get(tuple(r.config[k] for k in builder.space.names), 0))
    return rows


def verify_sample(builder, n: int, *, shape: tuple[int, int, int] | None = None, rng_seed: int = 0,  # noqa: ANN001
                  **kw) -> list[Row]:
    """A random sample of n valid configs (legal for `shape` when given), every one emulated: a
    config a static check rejects is reported and replaced by the next config of the same random
    order, until n are emulated or the space is used up."""
    valid = builder.space.enumerate(shape)
    order = random.Random(rng_seed).sample(valid, len(valid))
    rows: list[Row] = []
    pos = 0
    while pos < len(order):
        want = n - sum(1 for r in rows if r.status != "rejected")
        if want <= 0:
            break
        batch, pos = order[pos:pos + want], pos + want
        rows += verify(builder, batch, shape=shape, seed=rng_seed, **kw)
    return rows


def counts(rows: Iterable[Row]) -> dict[str, int]:
    """{'passed': n, 'failed': n, 'rejected': n}."""
    out = {"passed": 0, "failed": 0, "rejected": 0}
    for r in rows:
        out[r.status] += 1
    return out


def distinct_bodies(rows: Iterable[Row]) -> int:
    return len({(r.body, r.shape) for r in rows if r.body})
