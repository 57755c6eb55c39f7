"""Static cross-wave LDS ordering check (barriers) of compiled AMDGPU (gfx9) assembly.

Every wave of a work-group reads LDS tiles that other waves wrote, and overwrites tiles that
other waves read. Only ``s_barrier`` orders one wave's LDS accesses against another's, and only
for accesses that are *complete* at the barrier: the LDS has several request queues, so LDS
operations of different waves can be reordered; an LDS op is complete when an ``s_waitcnt
lgkmcnt`` retired it (LLVM AMDGPU memory model, gfx90a/gfx940: a work-group release is
``s_waitcnt lgkmcnt(0)`` before the barrier). A ``buffer_load ... lds`` may write LDS any time
after it is issued and has written it when ``vmcnt`` retires it.

The barrier model is the schedule's: in lockstep every wave passes the same barriers (lag 0);
in an 8-wave ping-pong one wave group runs one barrier behind the other (lag 1), so an access
must be complete ``lag + 1`` barriers before the conflicting access in program order. Tiles are
named by the template's marker comments (``;hkt.read A0 s=1`` before the ``ds_read``s of a
tile, ``;hkt.write AB s=0`` before its ``ds_write``s, ``;hkt.load B1 s=0`` before its direct-to-
LDS loads). Checked, for every tile:

* ``war``: a write (``ds_write`` issue, or ``buffer_load ... lds`` issue) of a tile must come
  at least lag+1 barriers after the last read of that tile was retired by ``lgkmcnt``; a read
  still in flight at the write is unsafe.
* ``raw``: a ``ds_read`` of a tile must come at least lag+1 barriers after the last write of
  that tile was retired (a ``ds_write`` by ``lgkmcnt``, a ``buffer_load ... lds`` by ``vmcnt``);
  a write still in flight is unsafe. (The vmcnt check reports the wait counts of the same
  direct-to-LDS RAW pairs; this one also sees a read with no barrier at all after the retire.)

Waves with roles (producer/consumer: ``;hkt.roles``, asm.RoleStep): each role keeps its own
counters; an access is checked against the other roles' accesses too (their in-flight ops and
their retires), on the path that runs every role's branch between two barriers.

The lag is not a parameter the caller guesses: ``barrier_model`` reads the template's
declaration (``;hkt.barrier_lag N``) and checks it against the code: lag 1 needs the ping-pong
stagger (``;hkt.stagger`` / ``;hkt.unstagger`` each followed by an ``s_barrier`` that a branch
can skip); lag 0 must have none. The lag applies between the stagger and its undo.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from hktune.build.amd.asm import (LGKMCNT_MAX, VMCNT_MAX, Instr, RoleStep, eval_expr, explore, param_ranges, wait_counts,
                                  blocks, default_tag, parse, semantics)

MAX_STATES_PER_BLOCK = 4096


@dataclass(frozen=True)
class Finding:
    status: str      # 'ok' | 'unsafe'
    kind: str        # 'war' | 'raw'
    line: int        # the write (war) or read (raw)
    ref_line: int    # the conflicting access's retire (or issue, when in flight)
    tile: str
    message: str
    distance: int | None = None   # barriers between them (capped at lag + 1)
    params: str = ""

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" + (f" [{self.params}]" if self.params else "")


@dataclass(frozen=True)
class Model:
    lag: int                 # the lag the check uses
    declared: int | None     # ;hkt.barrier_lag in the code (None: not declared)
    divergent: tuple         # lines of wave-divergent s_barriers
    error: str | None = None  # the declaration contradicts the code
    stagger: tuple = ()      # lines of the ;hkt.stagger / ;hkt.unstagger markers


def _conditional_barrier(instrs: list[Instr], labels: Mapping[str, int], at: int) -> int | None:
    """Line of the first s_barrier after instruction `at` when it is the whole body of a block an
    s_cbranch_execz between them skips (``if (pp == 1) s_barrier``: the waves of one group only)."""
    b = next((i for i in range(at + 1, len(instrs)) if instrs[i].op == "s_barrier"), None)
    if b is None:
        return None
    after = next((i for i in range(b + 1, len(instrs)) if instrs[i].op), len(instrs))
    for ins in instrs[at + 1:b]:
        if ins.op.startswith("s_cbranch_execz") and labels.get(ins.args.split(",")[0].strip()) in (b + 1, after):
            return instrs[b].line
    return None


def barrier_model(text: str, kernel: str | None = None) -> Model:
    """The kernel's barrier model: the template's declared lag (``;hkt.barrier_lag N``), checked
    against its code: a lag of 1 needs the ping-pong stagger (``;hkt.stagger`` followed by an
    s_barrier a branch can skip, and ``;hkt.unstagger`` likewise), lag 0 must have none."""
    instrs, labels = parse(text, kernel)
    declared, marks = None, {}
    for i, ins in enumerate(instrs):
        if ins.marker and ins.marker[0] == "barrier_lag":
            declared = int(ins.marker[1].split()[0])
        elif ins.marker and ins.marker[0] in ("stagger", "unstagger"):
            marks[ins.marker[0]] = i
    if declared is None:
        return Model(0, None, ())
    bars = {k: _conditional_barrier(instrs, labels, i) for k, i in marks.items()}
    divergent = tuple(v for v in bars.values() if v is not None)
    stagger = tuple(instrs[marks[k]].line for k in ("stagger", "unstagger") if k in marks)
    if declared == 0:
        err = "the code declares barrier lag 0 but has a ping-pong stagger" if marks else None
        return Model(1 if marks else 0, 0, divergent, err, stagger)
    missing = [k for k in ("stagger", "unstagger") if bars.get(k) is None]
    err = None
    if missing:
        err = (f"the code declares barrier lag {declared} (ping-pong) but its {missing[0]} "
               f"{'marker is missing' if missing[0] not in marks else 'is not followed by a conditional s_barrier'}")
    return Model(declared, declared, divergent, err, stagger)


def _name(tile: object) -> str:
    return f"{tile[0]}@stage{tile[1]}" if isinstance(tile, tuple) else str(tile)


@dataclass(frozen=True)
class State:
    lq: tuple = ()        # outstanding LGKM ops: (kind 'r'|'w'|'o'|'smem', tile, line)
    vq: tuple = ()        # outstanding vector-memory ops: (tile of a direct-to-LDS load or None, line)
    dist: tuple = ()      # sorted (tile, 'r'|'w', barriers since retired (capped), retire line, lag then)
    rtag: object = None   # tile of the current read group
    wtag: object = None   # tile of the current ds_write group
    vtag: object = None   # tile of the current direct-to-LDS load group
    counts: tuple = ()
    staggered: bool = False  # between the ping-pong stagger and its undo (the lag applies)


class _Analysis:
    def __init__(self, instrs: list[Instr], env: dict[str, int], lag: int, stagger: tuple = ()):
        self.instrs, self.env, self.lag = instrs, env, lag
        # the lag holds between the stagger and its undo (all waves are in step outside); without
        # stagger markers it holds everywhere
        self.stagger = stagger
        self.findings: dict[tuple, Finding] = {}
        self.truncated = False
        self.roles = RoleStep(self.step)

    def _add(self, f: Finding) -> None:
        key = (f.kind, f.line, f.tile)
        old = self.findings.get(key)
        if old is None or (old.status == "ok" and f.status == "unsafe") or \
                (old.status == f.status == "ok" and (f.distance or 0) < (old.distance or 0)):
            self.findings[key] = f

    def _conflict(self, st: State, ins: Instr, tile: object, kind: str) -> None:
        """An access of `tile` at ins: kind 'war' (a write; reads must be done) or 'raw'."""
        other, verb = ("r", "read") if kind == "war" else ("w", "write")
        name = _name(tile)
        waves = (st, *self.roles.others)   # this wave's role and the other roles' waves
        flying = [op for w in waves for op in w.lq if op[0] == other and op[1] == tile]
        if kind == "raw":   # direct-to-LDS loads of the tile still in flight
            flying += [("w", t, line) for w in waves for t, line in w.vq if t == tile]
        what = "written" if kind == "war" else "read"
        if flying:
            self._add(Finding("unsafe", kind, ins.line, flying[0][2], name,
                              f"tile {name} is {what} at line {ins.line} ({ins.op}) while the {verb} at line "
                              f"{flying[0][2]} is in flight (no s_waitcnt retired it)", 0))
            return
        for t, k, d, rline, lag in (e for w in waves for e in w.dist):
            if t == tile and k == other:
                need = lag + 1
                if d < need:
                    self._add(Finding("unsafe", kind, ins.line, rline, name,
                                      f"tile {name} is {what} at line {ins.line} ({ins.op}) {d} barrier(s) after the "
                                      f"{verb} retired at line {rline}; barrier lag {lag} needs {need}", d))
                else:
                    self._add(Finding("ok", kind, ins.line, rline, name,
                                      f"tile {name} {what} at line {ins.line}: the {verb} retired at line {rline} is "
                                      f">= {need} barrier(s) before it", d))

    def step(self, st: State, ins: Instr) -> State | None:
        if ins.marker is not None:
            return self._marker(st, *ins.marker)
        st = self._waits(st, ins)
        if not ins.op or ins.op == "s_waitcnt":
            return st
        sem = semantics(ins)
        vq, lq = st.vq, st.lq
        if sem.vm == "load_lds" and st.vtag is not None:
            self._conflict(st, ins, st.vtag, "war")
        if sem.vm is not None:
            tag = st.vtag if sem.vm == "load_lds" else None
            vq = (vq + ((tag, ins.line),))[-(VMCNT_MAX + 1):]
        if sem.lgkm is not None:
            lq = (lq + (self._lds_op(st, ins, sem),))[-(LGKMCNT_MAX + 1):]
        return replace(st, lq=lq, vq=vq)

    def _marker(self, st: State, verb: str, rest: str) -> State | None:
        """The template's ;hkt.* markers: the tiles of the next reads/writes/loads, a path condition
        (None: this path cannot happen), the stagger, a counter."""
        if verb in ("read", "write", "load"):
            tag = default_tag(rest, self.env)
            return replace(st, rtag=tag if verb == "read" else st.rtag, wtag=tag if verb == "write" else st.wtag,
                           vtag=tag if verb == "load" else st.vtag)
        if verb == "assume":
            env = {**dict(st.counts), **self.env}
            env.update({n: 0 for n in set(re.findall(r"[A-Za-z_]\w*", rest)) if n not in env})
            try:
                return st if eval_expr(rest, env) else None
            except Exception:
                return st
        if verb in ("stagger", "unstagger"):
            return replace(st, staggered=verb == "stagger")
        if verb == "count":
            c = dict(st.counts)
            c[rest.strip()] = c.get(rest.strip(), 0) + 1
            return replace(st, counts=tuple(sorted(c.items())))
        return st

    def _waits(self, st: State, ins: Instr) -> State:
        """What an s_waitcnt completes (a tile's write or read, at distance 0) and what a barrier
        moves one barrier on; other instructions pass through."""
        lq, vq, dist = st.lq, st.vq, st.dist
        lag_now = self.lag if (st.staggered or not self.stagger) else 0
        vm_n, lg_n = wait_counts(ins)
        if vm_n is not None and len(vq) > vm_n:
            # a direct-to-LDS load has written its tile when vmcnt retires it
            done, vq = vq[:len(vq) - vm_n], vq[len(vq) - vm_n:]
            d = {(t, k): v for t, k, *v in dist}
            for tag, _line in done:
                if tag is not None:
                    d[(tag, "w")] = (0, ins.line, lag_now)
            dist = tuple(sorted(((t, k) + tuple(v) for (t, k), v in d.items()), key=repr))
        if lg_n is not None:
            if lg_n == 0:
                keep = ()
            else:
                lds_idx = [i for i, op in enumerate(lq) if op[0] != "smem"]
                drop = set(lds_idx[: max(0, len(lds_idx) - lg_n)])
                keep = tuple(op for i, op in enumerate(lq) if i not in drop)
            done = [op for op in lq if op not in keep and op[0] in ("r", "w") and op[1] is not None]
            if done:
                d = {(t, k): (v, ln, lg) for t, k, v, ln, lg in dist}
                for op in done:
                    d[(op[1], op[0])] = (0, ins.line, lag_now)
                dist = tuple(sorted(((t, k) + v for (t, k), v in d.items()), key=repr))
            lq = keep
        if ins.op == "s_barrier":
            cap = self.lag + 1
            dist = tuple((t, k, min(cap, v + 1), ln, lg) for t, k, v, ln, lg in dist)
        return replace(st, lq=lq, vq=vq, dist=dist)

    def _lds_op(self, st: State, ins: Instr, sem) -> tuple:  # noqa: ANN001
        """The lgkm queue entry of an LDS or scalar op, checking a tagged read or write against the
        other waves' outstanding accesses of its tile."""
        if sem.lgkm == "smem":
            return ("smem", None, ins.line)
        if sem.lds_read:
            if st.rtag is not None:
                self._conflict(st, ins, st.rtag, "raw")
            return ("r", st.rtag, ins.line)
        if ins.op.startswith(("ds_write", "ds_store")):
            if st.wtag is not None:
                self._conflict(st, ins, st.wtag, "war")
            return ("w", st.wtag, ins.line)
        return ("o", None, ins.line)

    def run(self, bl) -> None:  # noqa: ANN001
        self.truncated = explore(bl, self.instrs, self.roles, self.roles.start(State()), MAX_STATES_PER_BLOCK) \
            or self.truncated

def check(text: str, kernel: str | None = None, barrier_lag: int | None = None) -> tuple[Model, list[Finding], bool]:
    """(barrier model, findings unsafe first, truncated). `barrier_lag` overrides the model's lag."""
    model = barrier_model(text, kernel)
    lag = model.lag if barrier_lag is None else barrier_lag
    instrs, labels = parse(text, kernel)
    bl = blocks(instrs, labels)
    ranges = param_ranges(instrs)
    names = sorted(ranges)
    merged: dict[tuple, Finding] = {}
    envs: dict[tuple, list[str]] = {}
    combos = list(itertools.product(*(ranges[n] for n in names))) if names else [()]
    truncated = False
    for values in combos:
        env = dict(zip(names, values))
        an = _Analysis(instrs, env, lag, model.stagger)
        an.run(bl)
        truncated |= an.truncated
        if an.roles.declared and not an.roles.joined and model.error is None:
            model = replace(model, error="the code declares wave roles (;hkt.roles) but no path runs every role's "
                                         "branch before ;hkt.role all: nothing could be checked")
        label = ",".join(f"{k}={v}" for k, v in env.items())
        for key, f in an.findings.items():
            envs.setdefault(key + (f.status,), []).append(label)
            old = merged.get(key)
            if old is None or (old.status == "ok" and f.status == "unsafe") or \
                    (old.status == f.status == "ok" and (f.distance or 0) < (old.distance or 0)):
                merged[key] = f
    out = []
    for key, f in merged.items():
        e = envs.get(key + (f.status,), [])
        if f.status == "unsafe" and names and len(e) < len(combos):
            f = Finding(f.status, f.kind, f.line, f.ref_line, f.tile, f.message, f.distance, " ".join(e))
        out.append(f)
    out.sort(key=lambda f: (f.status != "unsafe", f.line, f.kind))
    return model, out, truncated


def unsafe(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "unsafe"]


def build_check(asm: Path) -> str:
    """The build's barrier check (hktune.build.checks): 'ok' or why the config is rejected."""
    text = Path(asm).read_text(errors="replace")
    model, fs, truncated = check(text)
    if model.error:
        return "barrier model: " + model.error
    bad = unsafe(fs)
    if bad:
        return f"{len(bad)} unordered LDS access(es) (barrier lag {model.lag}): {bad[0].message}"
    if truncated:
        return f"analysis truncated at {MAX_STATES_PER_BLOCK} states per block"
    return "ok"


__all__ = ["Finding", "Model", "barrier_model", "build_check", "check", "unsafe"]
