"""Static vmcnt safety check of compiled AMDGPU (gfx9: gfx942 / gfx950) assembly.

A wave's vector-memory ops (buffer_/global_/flat_/scratch_ loads and stores, including the
``buffer_load ... lds`` direct-to-LDS loads HipKittens uses) are counted by ``vmcnt`` in issue
order; ``s_waitcnt vmcnt(N)`` waits until at most N are outstanding, and loads retire in order,
so it retires everything but the N most recent. A wait that is too large leaves a load in flight
that a later instruction depends on - a race that can pass a single correctness test.

The check simulates that counter over the kernel's control-flow graph (every path, loops to a
fixed point, so the steady state across the loop back-edge is covered) and reports:

* ``tile``: a read of an LDS tile while a global->LDS load of that tile is still in flight at
  the last ``s_barrier`` before the read (the barrier is what makes the other waves' parts of
  the tile visible) or was issued after it. Which load fills which tile comes from the marker
  comments the hktune templates emit (``;hkt.load A1 s=0`` before a load group, ``;hkt.read A1
  s=0`` before the LDS reads of that tile half); ``;hkt.param rem=0..2`` names a runtime value a
  stage can depend on (every value is tried) and ``;hkt.assume rem>=1`` prunes paths that cannot
  happen for it. With ``barrier_lag=1`` (an 8-wave ping-pong, where the other wave group runs
  one barrier behind) the loads must already be retired at the barrier before that one.
* ``vgpr``: an instruction reading (or overwriting) a VGPR that an outstanding ``buffer_load`` /
  ``global_load`` writes - e.g. the ``ds_write`` of register-staged tile data.
* ``lgkm`` (optional, on by default): the same for LDS reads (``ds_read``) and ``lgkmcnt``
  (LDS ops retire in order, so lgkmcnt(N) leaves at most the N newest LDS ops outstanding even
  with scalar loads in flight; a scalar load is retired only by lgkmcnt(0)).

Waves with roles (producer/consumer, ``;hkt.roles``; hktune.build.amd.asm.RoleStep): every role
keeps its own counters and barrier snapshots, and a read of a tile is checked against the loads of
every role's waves (the producers' loads of a tile the consumers read).

Every checked (wait, use) pair is reported: ``ok`` with its slack (how much larger N could be)
or ``unsafe`` with the reason, e.g. "vmcnt(6) at line 812 leaves 2 loads of the tile read at
line 1030 in flight".
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from hktune.build.amd.asm import (LGKMCNT_MAX, VMCNT_MAX, Block, Instr, RoleStep, eval_expr, explore, param_ranges, wait_counts, blocks, default_tag,
                                  kernels, loop_lines, parse, semantics)
from hktune.build.amd.lds import barrier_model

MAX_STATES_PER_BLOCK = 2048


@dataclass(frozen=True)
class Finding:
    status: str            # 'ok' | 'unsafe' | 'info'
    kind: str              # 'tile' | 'vgpr' | 'lgkm' | 'info'
    line: int              # the wait (or the barrier / use when there is no wait)
    ref_line: int          # the read / use that depends on the loads
    message: str
    slack: int | None = None
    tile: str | None = None
    params: str = ""       # e.g. "rem=1" when the finding holds only for some runtime values

    def __str__(self) -> str:
        where = f" [{self.params}]" if self.params else ""
        return f"{self.status}: {self.message}{where}"


# ---- the abstract state ------------------------------------------------------------------------

# an outstanding op: (kind, tile tag or None, defs, issue line)
Op = tuple[str, object, frozenset, int]
# a wait: (line, N, queue before it)
Wait = tuple[int, int, tuple]
# a barrier snapshot: (line, queue after it, last vm wait before it)
Snap = tuple[int, tuple, object]


@dataclass(frozen=True)
class State:
    vq: tuple = ()              # outstanding vector-memory ops, oldest first
    lq: tuple = ()              # outstanding LGKM ops (kind, defs, line)
    bars: tuple = ()            # barrier snapshots, most recent first (up to lag+1)
    wait: object = None         # last vmcnt wait: Wait
    lwait: object = None        # last lgkmcnt wait: (line, N)
    tag: object = None          # tile tag of the load group being issued
    retired: frozenset = frozenset()  # (defs, load line, wait line, slack) of recently retired loads
    counts: tuple = ()          # (name, value) of ;hkt.count counters on this path


class _Analysis:
    def __init__(self, instrs: list[Instr], labels: Mapping[str, int], env: dict[str, int], lag: int,
                 lgkm: bool, tag_expr):
        self.instrs, self.labels, self.env, self.lag, self.lgkm = instrs, labels, env, lag, lgkm
        self.tag_expr = tag_expr
        self.findings: dict[tuple, Finding] = {}
        self.truncated = False
        self.roles = RoleStep(self.step)

    # findings: keep the worst (unsafe over ok; lower slack)
    def _add(self, f: Finding) -> None:
        key = (f.kind, f.line, f.ref_line, f.tile)
        old = self.findings.get(key)
        if old is None:
            self.findings[key] = f
        elif old.status == "ok" and f.status == "unsafe":
            self.findings[key] = f
        elif old.status == f.status == "ok" and (f.slack or 0) < (old.slack or 0):
            self.findings[key] = f

    def _tile(self, rest: str) -> object:
        return self.tag_expr(rest, self.env)

    def step(self, st: State, ins: Instr) -> State | None:
        if ins.marker is not None:
            return self._marker(st, *ins.marker, ins)
        st = self._waits(st, ins)
        if not ins.op or ins.op == "s_waitcnt":
            return st
        sem = semantics(ins)
        self._vm_hazards(st, ins, sem)
        if self.lgkm:
            self._lgkm_hazards(st, ins, sem)
        retired = st.retired
        # uses of register-staged data whose load is retired: report the wait that did it
        if retired and sem.uses and ins.op.startswith(("ds_write", "ds_store")):
            for defs, lline, wline, slack in retired:
                if defs & sem.uses:
                    self._add(Finding("ok", "vgpr", wline, ins.line,
                                      f"vmcnt at line {wline} retires the load at line {lline} before its use at "
                                      f"line {ins.line} ({ins.op}), slack {slack}", slack=slack))
        if sem.defs and retired:
            retired = frozenset(r for r in retired if not (r[0] & sem.defs))
        vq, lq = st.vq, st.lq
        if sem.vm is not None:
            tag = st.tag if sem.vm == "load_lds" else None
            vq = (vq + ((sem.vm, tag, sem.defs if sem.vm == "load" else frozenset(), ins.line),))[-(VMCNT_MAX + 1):]
        if sem.lgkm is not None:
            lq = (lq + ((sem.lgkm, sem.defs, ins.line),))[-(LGKMCNT_MAX + 1):]
        return State(vq, lq, st.bars, st.wait, st.lwait, st.tag, retired, st.counts)

    def _marker(self, st: State, verb: str, rest: str, ins: Instr) -> State | None:
        """The template's ;hkt.* markers: the tile of the next loads, a tile read, a path condition
        (None: this path cannot happen), a counter."""
        if verb == "load":
            return State(st.vq, st.lq, st.bars, st.wait, st.lwait, self._tile(rest), st.retired, st.counts)
        if verb == "read":
            self._check_read(st, ins, self._tile(rest))
            return State(st.vq, st.lq, st.bars, st.wait, st.lwait, None, st.retired, st.counts)
        if verb == "assume":
            env = {**dict(st.counts), **self.env}
            names = set(re.findall(r"[A-Za-z_]\w*", rest))
            env.update({n: 0 for n in names if n not in env})  # a counter never bumped is 0
            try:
                ok = bool(eval_expr(rest, env))
            except Exception:
                ok = True
            return st if ok else None
        if verb == "count":
            counts = dict(st.counts)
            counts[rest.strip()] = counts.get(rest.strip(), 0) + 1
            return State(st.vq, st.lq, st.bars, st.wait, st.lwait, st.tag, st.retired, tuple(sorted(counts.items())))
        return st

    def _waits(self, st: State, ins: Instr) -> State:
        """What an s_waitcnt retires (and a barrier snapshots); other instructions pass through."""
        vq, lq, wait, lwait, retired, bars = st.vq, st.lq, st.wait, st.lwait, st.retired, st.bars
        vm_n, lg_n = wait_counts(ins)
        if vm_n is not None:
            keep = max(0, len(vq) - vm_n)
            new_ret = set(retired)
            for i, op in enumerate(vq[:keep]):
                if op[2]:
                    new_ret.add((op[2], op[3], ins.line, (len(vq) - 1 - i) - vm_n))
            wait = (ins.line, vm_n, vq)
            vq = vq[keep:]
            retired = frozenset(new_ret)
        if lg_n is not None:
            # LDS ops return in order, scalar loads out of order: lgkmcnt(N) leaves at most the N
            # most recent LDS ops outstanding, but retires a scalar load only when N == 0
            if lg_n == 0:
                lq = ()
            else:
                lds_idx = [i for i, op in enumerate(lq) if op[0] != "smem"]
                drop = set(lds_idx[: max(0, len(lds_idx) - lg_n)])
                lq = tuple(op for i, op in enumerate(lq) if i not in drop)
            lwait = (ins.line, lg_n)
        if ins.op == "s_barrier":
            bars = (((ins.line, vq, wait),) + bars)[: self.lag + 1]
        return State(vq, lq, bars, wait, lwait, st.tag, retired, st.counts)

    def _vm_hazards(self, st: State, ins: Instr, sem) -> None:  # noqa: ANN001
        """Uses (or overwrites) of VGPRs that an outstanding global load still writes."""
        wait = st.wait
        for op in st.vq:
            if op[2] and (op[2] & sem.uses or (op[2] & sem.defs and sem.vm is None)):
                regs = _fmt_regs(sorted(op[2] & (sem.uses | sem.defs)))
                if wait and wait[0] > op[3]:
                    msg = (f"vmcnt({wait[1]}) at line {wait[0]} leaves the load at line {op[3]} ({regs}) in flight "
                           f"at its use at line {ins.line} ({ins.op})")
                else:
                    msg = (f"no s_waitcnt vmcnt between the load at line {op[3]} ({regs}) and its use at line "
                           f"{ins.line} ({ins.op})")
                self._add(Finding("unsafe", "vgpr", wait[0] if wait and wait[0] > op[3] else op[3], ins.line, msg))

    def _lgkm_hazards(self, st: State, ins: Instr, sem) -> None:  # noqa: ANN001
        """Uses (or overwrites) of registers that an outstanding LDS read or scalar load still writes."""
        lwait = st.lwait
        for op in st.lq:
            if op[1] and (op[1] & sem.uses or (op[1] & sem.defs and sem.lgkm is None)):
                regs = _fmt_regs(sorted(op[1] & (sem.uses | sem.defs)))
                what = "scalar load" if op[0] == "smem" else "LDS read"
                if lwait and lwait[0] > op[2]:
                    msg = (f"lgkmcnt({lwait[1]}) at line {lwait[0]} leaves the {what} at line {op[2]} ({regs}) "
                           f"in flight at its use at line {ins.line} ({ins.op})")
                else:
                    msg = (f"no s_waitcnt lgkmcnt between the {what} at line {op[2]} ({regs}) and its use at "
                           f"line {ins.line} ({ins.op})")
                self._add(Finding("unsafe", "lgkm", lwait[0] if lwait and lwait[0] > op[2] else op[2], ins.line, msg))

    def _check_read(self, st: State, ins: Instr, tile: object) -> None:
        if tile is None:
            return
        for wave in (st, *self.roles.others):   # the loads of this wave's role and of the other roles
            self._check_loads(wave, ins, tile)

    def _check_loads(self, st: State, ins: Instr, tile: object) -> None:
        read_line = self._next_line(ins)
        name = _tile_name(tile)
        own_now = [op for op in st.vq if op[1] == tile]
        if len(st.bars) <= self.lag:
            snap = None
        else:
            snap = st.bars[self.lag]
        if snap is None:
            if own_now:
                self._add(Finding("unsafe", "tile", own_now[-1][3], read_line,
                                  f"{len(own_now)} load(s) of tile {name} (line {own_now[0][3]}...) are in flight "
                                  f"at its read at line {read_line} and no barrier separates them", tile=name))
            return
        bline, bq, bwait = snap
        pending = [op for op in bq if op[1] == tile]
        which = "the barrier" if self.lag == 0 else ("the barrier before the last one" if self.lag == 1
                                                      else f"the barrier {self.lag} before the last one")
        if pending:
            lines = ", ".join(str(op[3]) for op in pending[:4]) + ("..." if len(pending) > 4 else "")
            if bwait:
                msg = (f"vmcnt({bwait[1]}) at line {bwait[0]} leaves {len(pending)} load(s) of the tile read at "
                       f"line {read_line} in flight (tile {name}, loads at lines {lines}; {which} at line {bline})")
                self._add(Finding("unsafe", "tile", bwait[0], read_line, msg, tile=name))
            else:
                msg = (f"no s_waitcnt vmcnt retires the {len(pending)} load(s) of tile {name} (lines {lines}) "
                       f"before {which} at line {bline} and its read at line {read_line}")
                self._add(Finding("unsafe", "tile", bline, read_line, msg, tile=name))
            return
        late = [op for op in own_now if op not in bq]
        if late:
            self._add(Finding("unsafe", "tile", late[0][3], read_line,
                              f"load of tile {name} at line {late[0][3]} is issued after {which} (line {bline}) "
                              f"that precedes its read at line {read_line}", tile=name))
            return
        if bwait:
            wline, n, before = bwait
            idx = [i for i, op in enumerate(before) if op[1] == tile]
            slack = (len(before) - 1 - idx[-1]) - n if idx else None
            if slack is not None:
                msg = (f"vmcnt({n}) at line {wline} retires every load of the tile read at line {read_line} "
                       f"(tile {name}, {which} at line {bline}), slack {slack}")
                self._add(Finding("ok", "tile", wline, read_line, msg, slack=slack, tile=name))

    def _next_line(self, ins: Instr) -> int:
        # the first real instruction after a read marker (the ds_read itself)
        i = self._pos.get(ins.line)
        if i is None:
            return ins.line
        for nxt in self.instrs[i + 1:]:
            if nxt.op:
                return nxt.line
        return ins.line

    def run(self, bl: list[Block]) -> None:
        self._pos = {ins.line: i for i, ins in enumerate(self.instrs)}
        self.truncated = explore(bl, self.instrs, self.roles, self.roles.start(State()), MAX_STATES_PER_BLOCK) \
            or self.truncated

def _fmt_regs(regs: list[int]) -> str:
    if not regs:
        return ""
    base = max(b for b in (0, 1024, 2048) if b <= regs[0])
    pref = {0: "v", 1024: "a", 2048: "s"}[base]
    lo, hi = regs[0] - base, regs[-1] - base
    return f"{pref}{lo}" if lo == hi else f"{pref}[{lo}:{hi}]"


def _tile_name(tile: object) -> str:
    return f"{tile[0]}@stage{tile[1]}" if isinstance(tile, tuple) else str(tile)


def check(asm: str, kernel: str | None = None, barrier_lag: int = 0, lgkm: bool = True,
          params: Mapping[str, Iterable[int]] | None = None, tag=default_tag) -> list[Finding]:
    """Check one kernel of an assembly text. Returns the findings, unsafe ones first.

    `barrier_lag`: 0 = all waves pass the same barriers in step; 1 = 8-wave ping-pong (the other
    wave group is one barrier behind). `params` overrides the ``;hkt.param`` ranges.
    """
    instrs, labels = parse(asm, kernel)
    bl = blocks(instrs, labels)
    ranges = param_ranges(instrs)
    if params:
        ranges.update({k: list(v) for k, v in params.items()})
    names = sorted(ranges)
    merged: dict[tuple, Finding] = {}
    per_env: dict[tuple, list[str]] = {}
    truncated = False
    has_tiles = any(i.marker and i.marker[0] in ("load", "read") for i in instrs)
    for values in itertools.product(*(ranges[n] for n in names)) if names else [()]:
        env = dict(zip(names, values))
        an = _Analysis(instrs, labels, env, barrier_lag, lgkm, tag)
        an.run(bl)
        truncated |= an.truncated
        if an.roles.declared and not an.roles.joined:
            merged[("roles", 0, 0, None)] = Finding(
                "unsafe", "tile", 0, 0, "the code declares wave roles (;hkt.roles) but no path runs every role's "
                                        "branch before ;hkt.role all: no read could be checked")
        label = ",".join(f"{k}={v}" for k, v in env.items())
        for key, f in an.findings.items():
            per_env.setdefault(key + (f.status,), []).append(label)
            old = merged.get(key)
            if old is None or (old.status == "ok" and f.status == "unsafe") or \
                    (old.status == f.status == "ok" and (f.slack or 0) < (old.slack or 0)):
                merged[key] = f
    n_env = max(1, len(list(itertools.product(*(ranges[n] for n in names))))) if names else 1
    out = []
    for key, f in merged.items():
        envs = per_env.get(key + (f.status,), [])
        if f.status == "unsafe" and names and len(envs) < n_env:
            f = Finding(f.status, f.kind, f.line, f.ref_line, f.message, f.slack, f.tile, " ".join(envs))
        out.append(f)
    loops = loop_lines(instrs, labels)
    if not has_tiles:
        out.append(Finding("info", "info", 0, 0, "no ;hkt tile markers: direct-to-LDS loads are not matched to "
                                                  "their LDS reads (register dependencies are still checked)"))
    if truncated:
        out.append(Finding("info", "info", 0, 0, f"analysis truncated at {MAX_STATES_PER_BLOCK} states per block"))
    out.sort(key=lambda f: ({"unsafe": 0, "ok": 1, "info": 2}[f.status], f.ref_line not in loops, f.ref_line, f.line))
    return out


def check_file(path: str | Path, **kw) -> list[Finding]:
    return check(Path(path).read_text(errors="replace"), **kw)


def unsafe(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "unsafe"]


def is_safe(findings: Iterable[Finding]) -> bool:
    return not unsafe(findings)


def summary(findings: Iterable[Finding]) -> str:
    fs = list(findings)
    bad = unsafe(fs)
    ok = [f for f in fs if f.status == "ok"]
    tile_ok = [f for f in ok if f.kind == "tile" and f.slack is not None]
    s = f"{len(bad)} unsafe, {len(ok)} ok"
    if tile_ok:
        s += f" (min tile slack {min(f.slack for f in tile_ok)})"
    return s


__all__ = ["Finding", "check", "check_file", "is_safe", "unsafe", "summary", "parse", "blocks", "semantics",
           "kernels", "loop_lines"]


def build_check(asm: Path) -> str:
    """The build's vmcnt check (hktune.build.checks): 'ok' or why the config is rejected. The
    barrier lag is the kernel's own barrier model (hktune.build.amd.lds.barrier_model: the
    template's declaration, checked against its wave-divergent barriers), never a default."""
    text = Path(asm).read_text(errors="replace")
    lag = barrier_model(text).lag
    bad = unsafe(check(text, barrier_lag=lag))
    return "ok" if not bad else f"{len(bad)} unsafe wait(s) (barrier lag {lag}): {bad[0].message}"
